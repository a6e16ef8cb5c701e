// SPDX-License-Identifier: MIT
/*
 * check_fault.c - the coherency checker's SIGSEGV handler: a CPU access that the brackets of
 * a dma-buf do not allow faults on the protection check.c gave its mapping.
 *
 * The handler looks the address up in the mapping table.  A fault elsewhere, or one the
 * mapping's own protection (the one asked at mmap) would have made anyway, is not ours: it
 * goes to the handler that was there before, or kills the process as it would have.  For
 * ours, the protection is checked again first (another thread may have opened a bracket
 * since), then the access is reported once per kind and faulting instruction, and the
 * mapping is opened to what was asked so that the program goes on (until the next SYNC on
 * the buffer narrows it again).  In abort mode the process aborts after the report.
 *
 * Whether the access was a read or a write comes from the fault context: the page-fault
 * error code on x86, the syndrome register on arm64; elsewhere it is unknown.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <string.h>
#include <sys/mman.h>
#include <ucontext.h>

#include "check_internal.h"

/* Distinct (kind, instruction) pairs remembered: accesses are reported once each. */
#define SEEN_MAX	1024

struct seen {
	uintptr_t pc;
	enum check_kind kind;
};

static struct sigaction previous;
static pthread_once_t install_once = PTHREAD_ONCE_INIT;
static struct seen seen[SEEN_MAX];
static unsigned int n_seen;

/* ---- the fault context ---- */

#if defined(__aarch64__)
/* A record of the signal frame's __reserved area (struct _aarch64_ctx, esr_context). */
#define ESR_RECORD_MAGIC	0x45535201U
#define ESR_EC_DABT_LOW		0x24U
#define ESR_EC_DABT_CUR		0x25U
#define ESR_WNR			(1ULL << 6)

static enum check_access fault_access(const ucontext_t *uc)
{
	const unsigned char *p = (const unsigned char *)uc->uc_mcontext.__reserved;
	const unsigned char *end = p + sizeof(uc->uc_mcontext.__reserved);
	uint32_t magic, size, ec;
	uint64_t esr;

	while (p + 8 <= end) {
		memcpy(&magic, p, sizeof(magic));
		memcpy(&size, p + 4, sizeof(size));
		if (!magic || size < 8 || size > (size_t)(end - p))
			break;
		if (magic == ESR_RECORD_MAGIC && size >= 16) {
			memcpy(&esr, p + 8, sizeof(esr));
			ec = (uint32_t)(esr >> 26) & 0x3f;
			if (ec != ESR_EC_DABT_LOW && ec != ESR_EC_DABT_CUR)
				return CHECK_ACC_UNKNOWN;
			return esr & ESR_WNR ? CHECK_ACC_WRITE : CHECK_ACC_READ;
		}
		p += size;
	}
	return CHECK_ACC_UNKNOWN;
}

static uintptr_t fault_pc(const ucontext_t *uc)
{
	return (uintptr_t)uc->uc_mcontext.pc;
}
#elif defined(__x86_64__) || defined(__i386__)
/* The page-fault error code: bit 1 is set for a write. */
#define PF_WRITE	2

static enum check_access fault_access(const ucontext_t *uc)
{
	return uc->uc_mcontext.gregs[REG_ERR] & PF_WRITE ? CHECK_ACC_WRITE : CHECK_ACC_READ;
}

static uintptr_t fault_pc(const ucontext_t *uc)
{
#if defined(__x86_64__)
	return (uintptr_t)uc->uc_mcontext.gregs[REG_RIP];
#else
	return (uintptr_t)uc->uc_mcontext.gregs[REG_EIP];
#endif
}
#else
static enum check_access fault_access(const ucontext_t *uc)
{
	return CHECK_ACC_UNKNOWN;
}

static uintptr_t fault_pc(const ucontext_t *uc)
{
	return 0;
}
#endif

/* ---- the handler ---- */

/* Whether (@kind, @pc) is new (and remember it). */
static bool first_time(enum check_kind kind, uintptr_t pc)
{
	unsigned int i;

	for (i = 0; i < n_seen; i++)
		if (seen[i].pc == pc && seen[i].kind == kind)
			return false;
	if (n_seen < SEEN_MAX)
		seen[n_seen++] = (struct seen){ .pc = pc, .kind = kind };
	return true;
}

/* Whether protection @prot (of a mapping asked with @asked) allows @acc. */
static bool allows(int prot, int asked, enum check_access acc)
{
	if (acc == CHECK_ACC_WRITE)
		return prot & PROT_WRITE;
	if (acc == CHECK_ACC_READ)
		return prot & (PROT_READ | PROT_WRITE);	/* writable pages are readable */
	return prot == asked;
}

static enum check_kind classify(const struct check_buf *b, enum check_access *acc)
{
	const struct dmabuf_fd_ops *ops = dmabuf_fd_backend();
	unsigned int dir = b ? check_bracket(b) : 0;
	int pending;

	if (dir && !(dir & CHECK_WRITE)) {
		*acc = CHECK_ACC_WRITE;	/* reads are allowed: it wrote */
		return CHECK_WRITE_IN_READ;
	}
	if (b && b->have_probe && ops->probe) {
		pending = ops->probe(&b->probe, *acc == CHECK_ACC_WRITE);
		if (pending > 0)
			return CHECK_FENCE_PENDING;
	}
	return CHECK_ACCESS_OUTSIDE;
}

/* Locked: a fault at @addr in @m.  False when it is not the checker's. */
static bool fault_in(struct dmabuf_map *m, uintptr_t addr, const ucontext_t *uc)
{
	enum check_access acc = fault_access(uc);
	void *frames[CHECK_FRAMES];
	struct check_violation v;
	struct check_buf *b;
	uintptr_t pc;

	if (acc == CHECK_ACC_WRITE && !(m->prot & PROT_WRITE))
		return false;	/* the mapping's own protection refuses it */
	if (allows(m->cur_prot, m->prot, acc))
		return true;	/* opened meanwhile: try again */
	if (m->cur_prot == m->prot)
		return false;
	b = check_buf_find(m->dev, m->ino);
	v = (struct check_violation){
		.buf = b,
		.bracket = b ? check_bracket(b) : 0,
		.offset = addr - m->start + m->offset,
		.has_offset = true,
		.sync = -1,
		.frames = frames,
	};
	if (v.bracket & CHECK_WRITE) {
		/* under START|WRITE everything is allowed: a stale protection */
		acc = CHECK_ACC_NONE;
	} else {
		v.kind = classify(b, &acc);
	}
	v.access = acc;
	pc = fault_pc(uc);
	if (acc != CHECK_ACC_NONE && first_time(v.kind, pc)) {
		v.n_frames = check_backtrace_fault(pc, frames, CHECK_FRAMES);
		check_report(&v);
	}
	if (!mprotect((void *)m->start, m->end - m->start, m->prot))
		m->cur_prot = m->prot;
	return true;
}

/* Not ours: what would have happened without the checker. */
static void chain(int sig, siginfo_t *si, void *ctx)
{
	struct sigaction dfl = { .sa_handler = SIG_DFL };

	if (previous.sa_flags & SA_SIGINFO) {
		if (previous.sa_sigaction)
			previous.sa_sigaction(sig, si, ctx);
		return;
	}
	if (previous.sa_handler == SIG_IGN && si->si_code <= 0)
		return;	/* sent and ignored */
	if (previous.sa_handler == SIG_DFL || previous.sa_handler == SIG_IGN) {
		/* a fault comes again when we return, a sent signal is sent again */
		sigaction(sig, &dfl, NULL);
		if (si->si_code <= 0)
			raise(sig);
		return;
	}
	previous.sa_handler(sig);
}

static void on_segv(int sig, siginfo_t *si, void *ctx)
{
	int saved = errno;
	struct dmabuf_map *m;
	bool ours = false;

	if (si->si_code == SEGV_ACCERR) {
		dmabuf_maps_lock();
		m = dmabuf_maps_lookup((uintptr_t)si->si_addr);
		if (m && m->prot != PROT_NONE)
			ours = fault_in(m, (uintptr_t)si->si_addr, ctx);
		dmabuf_maps_unlock();
	}
	if (!ours)
		chain(sig, si, ctx);
	errno = saved;
}

static void install(void)
{
	struct sigaction sa = {
		.sa_sigaction = on_segv,
		.sa_flags = SA_SIGINFO | SA_ONSTACK | SA_RESTART,
	};

	check_backtrace_prime();
	sigemptyset(&sa.sa_mask);
	sigaction(SIGSEGV, &sa, &previous);
}

void check_fault_install(void)
{
	pthread_once(&install_once, install);
}

void check_fault_forked(void)
{
	n_seen = 0;
}
