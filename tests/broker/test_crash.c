// SPDX-License-Identifier: MIT
/*
 * test_crash.c - clients killed with SIGKILL at random moments; the broker must not notice
 * more than the kernel would.
 *
 * Fork clients (no exec) that loop over export, import, wait, merge, fence creation and
 * signaling on shared objects (a buffer, an idle buffer, a timeline they advance, a pending
 * point this process replaces every SHARED_GEN clients) and on objects of their own
 * (buffers, mappings, and a timeline each, whose pending point a surviving waiter process
 * waits on).  Some clients raise SIGKILL after a random number of operations, the others are
 * killed by this process after a random short delay, at most MAX_ALIVE at a time.  A warm-up
 * round runs first.  Then:
 *  - the broker is the same process and alive;
 *  - its object counters (STATS) and its descriptor count (/proc/PID/fd) return to what they
 *    were before the clients, and its VmRSS to within RSS_TOLERANCE_KB of what it was after
 *    the warm-up round;
 *  - every waiter on a killed client's point woke with -ENOENT, within a second of the kill
 *    (from the moment just before the SIGKILL was sent or raised to the waiter's wake-up);
 *  - no client call failed that must not (-ENOTCONN would mean the broker went away).
 * DMABUF_CRASH_CLIENTS sets the number of clients (default 1000; sanitizer runs use fewer).
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <dmabuf/fd.h>

#include "fd_util.h"
#include "proc_tap.h"
#include "raw_client.h"
#include "tap.h"
#include "test_util.h"

#define MAX_ALIVE	6		/* clients alive at once (2 cores) */
#define MAX_OPS		200		/* operations of a self-killing client, at most */
#define MAX_DELAY_US	4000		/* the parent kills the others within this */
#define HELD_MAX	12		/* descriptors a client keeps at once */
#define FAR_POINT	(1U << 30)	/* a point no client increments up to */
#define SHARED_GEN	50		/* clients between two shared pending points */
#define SETTLE_MS	10000		/* the broker's counters must settle within this */
#define WAKE_LIMIT_NS	NS_PER_S	/* a dead timeline's waiter wakes within this */
/*
 * How much the broker's VmRSS may exceed its value after the warm-up round.  The broker's
 * heap peaks with what MAX_ALIVE concurrent clients and one shared pending point hold, which
 * the warm-up round reaches too, and malloc keeps freed memory for reuse: a leak-free broker
 * ends 1000 clients within 40-450 kB of its warm-up value (measured on 2 cores; a second
 * round of 1000 adds under 10 kB).  1 MiB over 1000 clients catches any leak of ~1 KiB per
 * client (an object or a connection's buffers per killed client), and any other growth with
 * the number of clients.
 */
#define RSS_TOLERANCE_KB 1024

/* What the clients and the waiter tell this process, in shared memory (one per client). */
struct client_rec {
	_Atomic int64_t kill_ns;	/* just before SIGKILL was sent or raised */
	_Atomic int64_t wake_ns;	/* when the waiter's wait returned */
	_Atomic int wake_ret;		/* dmabuf_fd_sync_wait()'s result */
	_Atomic int wake_status;	/* the fence's status after the wake-up */
	_Atomic int registered;		/* the waiter got the client's fence */
	_Atomic int unexpected;		/* calls that failed where they must not */
	_Atomic int first_bad_op;	/* the first such operation, and its result */
	_Atomic int first_bad_ret;
};

/* The objects this process shares with a round's clients. */
struct shared_objs {
	int sb;		/* a buffer everybody imports into and exports from */
	int ib;		/* an idle buffer for SYNC START/END */
	int ptl;	/* a timeline of this process, which clients advance */
	int stl;	/* another, which only this process advances */
	int sf;		/* a pending point on stl, replaced every SHARED_GEN clients */
	int ws;		/* the clients' end of the waiter's socket */
	_Atomic uint32_t *ptl_value;	/* about where ptl is (shared memory) */
};

static struct client_rec *recs;
static _Atomic uint32_t *ptl_value;
static unsigned int nclients;
static size_t page;

/* ---- a client ---- */

/* What a client keeps. */
enum held_type { HELD_SYNC, HELD_BUF };

struct client {
	struct client_rec *rec;
	const struct shared_objs *so;
	uint64_t rng;
	int tl;			/* its own timeline */
	int own_fence;		/* its point FAR_POINT, also given to the waiter */
	uint32_t value;		/* its timeline's value */
	int held[HELD_MAX];
	enum held_type type[HELD_MAX];
	int nheld;
};

static void bad(struct client *c, int op, int ret)
{
	if (!atomic_fetch_add(&c->rec->unexpected, 1)) {
		c->rec->first_bad_op = op;
		c->rec->first_bad_ret = ret;
	}
}

/* Keep @fd (closing the oldest kept one when full). */
static void hold(struct client *c, int fd, enum held_type type)
{
	if (fd < 0)
		return;
	if (c->nheld == HELD_MAX) {
		close(c->held[0]);
		memmove(c->held, c->held + 1, sizeof(c->held[0]) * (HELD_MAX - 1));
		memmove(c->type, c->type + 1, sizeof(c->type[0]) * (HELD_MAX - 1));
		c->nheld--;
	}
	c->held[c->nheld] = fd;
	c->type[c->nheld++] = type;
}

/* A sync_file: one it holds, its own pending point, or the shared pending one. */
static int pick_sync(struct client *c)
{
	int cand[HELD_MAX + 2], n = 0;

	for (int i = 0; i < c->nheld; i++)
		if (c->type[i] == HELD_SYNC)
			cand[n++] = c->held[i];
	cand[n++] = c->own_fence;
	cand[n++] = c->so->sf;
	return cand[next_rand(&c->rng) % (unsigned int)n];
}

/* One of its own buffers, or -1. */
static int own_buf(struct client *c)
{
	for (int i = c->nheld - 1; i >= 0; i--)
		if (c->type[i] == HELD_BUF && (i == 0 || next_rand(&c->rng) % 2))
			return c->held[i];
	return -1;
}

static unsigned int rnd_rw(struct client *c)
{
	static const unsigned int f[] = { RD, WR, RW };

	return f[next_rand(&c->rng) % 3];
}

static void own_buffer(struct client *c)
{
	size_t len = (1 + next_rand(&c->rng) % 4) * page;
	int fd = dmabuf_fd_heap_alloc("system", len, O_RDWR | O_CLOEXEC, 0);
	char *p;

	if (fd < 0) {
		bad(c, 9, fd);
		return;
	}
	p = map_rw(fd, len);
	if (!p) {
		bad(c, 9, -errno);
		close(fd);
		return;
	}
	p[len - 1] = 'c';
	if (next_rand(&c->rng) % 2)
		munmap(p, len);	/* else the mapping lives until the process dies */
	hold(c, fd, HELD_BUF);
}

/* The shared buffer, or one of its own. */
static int pick_buf(struct client *c)
{
	int buf = next_rand(&c->rng) % 2 ? own_buf(c) : -1;

	return buf < 0 ? c->so->sb : buf;
}

static int op_export(struct client *c)
{
	int fd = dmabuf_fd_buf_export_sync_file(pick_buf(c), rnd_rw(c));

	hold(c, fd, HELD_SYNC);
	return fd < 0 ? fd : 0;
}

static int op_merge(struct client *c)
{
	int fd = dmabuf_fd_sync_merge("crash", pick_sync(c), pick_sync(c));

	hold(c, fd, HELD_SYNC);
	return fd < 0 ? fd : 0;
}

/* A point a few steps ahead of the shared timeline: it signals as clients advance it. */
static int op_shared_fence(struct client *c)
{
	uint32_t v = atomic_load(c->so->ptl_value) + 1 + next_rand(&c->rng) % 4;
	int fd = dmabuf_fd_sw_fence_create(c->so->ptl, v, "shared");

	hold(c, fd, HELD_SYNC);
	return fd < 0 ? fd : 0;
}

static int op_shared_inc(struct client *c)
{
	int ret = dmabuf_fd_sw_timeline_inc(c->so->ptl, 1);

	atomic_fetch_add(c->so->ptl_value, 1);
	return ret;
}

/* Merge its own point with the shared pending one, into a buffer. */
static int op_merge_import(struct client *c)
{
	int fd = dmabuf_fd_sync_merge("", c->own_fence, c->so->sf), ret;

	if (fd < 0)
		return fd;
	ret = dmabuf_fd_buf_import_sync_file(pick_buf(c), WR, fd);
	close(fd);
	return ret;
}

static void one_op(struct client *c)
{
	unsigned int op = next_rand(&c->rng) % 14;
	struct dmabuf_fd_sync_info *info;
	int ret = 0, fd;

	switch (op) {
	case 0:
		ret = op_export(c);
		break;
	case 1:
		ret = dmabuf_fd_buf_import_sync_file(pick_buf(c), rnd_rw(c), pick_sync(c));
		break;
	case 2:
		fd = dmabuf_fd_sw_fence_create(c->tl, c->value + 1 + next_rand(&c->rng) % 4, "own");
		ret = fd < 0 ? fd : 0;
		hold(c, fd, HELD_SYNC);
		break;
	case 3:
		ret = op_shared_fence(c);
		break;
	case 4:
		ret = dmabuf_fd_sw_timeline_inc(c->tl, 1);
		c->value++;
		break;
	case 5:
		ret = op_shared_inc(c);
		break;
	case 6:
		ret = op_merge(c);
		break;
	case 7:
		ret = dmabuf_fd_sync_wait(pick_sync(c), next_rand(&c->rng) % 2 ? 0 : 200000);
		ret = ret == -ETIME ? 0 : ret;
		break;
	case 8:
		ret = dmabuf_fd_buf_wait(pick_buf(c), rnd_rw(c), 0);
		ret = ret == -ETIME ? 0 : ret;
		break;
	case 9:
		own_buffer(c);
		break;
	case 10:
		ret = dmabuf_fd_buf_sync(c->so->ib, RD);
		if (!ret)
			ret = dmabuf_fd_buf_sync(c->so->ib, RD | END);
		break;
	case 11:
		ret = dmabuf_fd_sync_info(pick_sync(c), &info);
		if (!ret)
			dmabuf_fd_sync_info_free(info);
		break;
	case 12:
		if (c->nheld)
			close(c->held[--c->nheld]);
		break;
	case 13:
		ret = op_merge_import(c);
		break;
	}
	if (ret < 0)
		bad(c, (int)op, ret);
}

static void __attribute__((noreturn)) client_main(unsigned int id, uint64_t seed, bool self_kill,
						   const struct shared_objs *so)
{
	struct client c = { .rec = &recs[id], .so = so, .rng = seed | 1 };
	unsigned int ops, k;

	alarm(30);	/* a client nobody killed ends anyway (and counts as abnormal) */
	ops = self_kill ? next_rand(&c.rng) % (MAX_OPS + 1) : UINT32_MAX;
	c.tl = dmabuf_fd_sw_timeline_create(O_CLOEXEC);
	if (c.tl < 0) {
		bad(&c, 100, c.tl);
		_exit(3);
	}
	c.own_fence = dmabuf_fd_sw_fence_create(c.tl, FAR_POINT, "waited");
	if (c.own_fence < 0) {
		bad(&c, 101, c.own_fence);
		_exit(3);
	}
	if (send_fds(so->ws, &id, sizeof(id), &c.own_fence, 1))
		bad(&c, 102, -errno);
	for (k = 0; k < ops; k++)
		one_op(&c);
	c.rec->kill_ns = raw_now_ns();
	raise(SIGKILL);
	_exit(4);
}

/* ---- the waiter: a surviving process waiting on every client's own point ---- */

struct waiter_state {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	unsigned int running;
};

struct wait_job {
	struct waiter_state *ws;
	unsigned int id;
	int fd;
};

static void *wait_one(void *arg)
{
	struct wait_job *j = arg;
	struct client_rec *r = &recs[j->id];

	r->wake_ret = dmabuf_fd_sync_wait(j->fd, 30 * NS_PER_S);
	r->wake_ns = raw_now_ns();
	r->wake_status = fence_status(j->fd);
	close(j->fd);
	pthread_mutex_lock(&j->ws->lock);
	j->ws->running--;
	pthread_cond_signal(&j->ws->cond);
	pthread_mutex_unlock(&j->ws->lock);
	free(j);
	return NULL;
}

static int waiter_main(int s)
{
	struct waiter_state ws = { PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0 };
	pthread_attr_t attr;
	unsigned int id;
	int fd, n, bad_msgs = 0;
	pthread_t t;

	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	pthread_attr_setstacksize(&attr, 256 * 1024);
	for (;;) {
		struct wait_job *j;
		ssize_t len = recv_fds(s, &id, sizeof(id), &fd, 1, &n, -1);

		if (len <= 0 || id == UINT32_MAX)
			break;
		if (len != sizeof(id) || n != 1 || id >= nclients) {
			raw_close_fds(&fd, n);
			bad_msgs++;
			continue;
		}
		recs[id].registered = 1;
		j = malloc(sizeof(*j));
		if (!j)
			return 3;
		*j = (struct wait_job){ &ws, id, fd };
		pthread_mutex_lock(&ws.lock);
		ws.running++;
		pthread_mutex_unlock(&ws.lock);
		if (pthread_create(&t, &attr, wait_one, j))
			return 4;
	}
	pthread_mutex_lock(&ws.lock);
	while (ws.running)
		pthread_cond_wait(&ws.cond, &ws.lock);
	pthread_mutex_unlock(&ws.lock);
	pthread_attr_destroy(&attr);
	return bad_msgs ? 5 : 0;
}

/* ---- the parent ---- */

struct alive {
	pid_t pid;
	int pidfd;
	unsigned int id;
	int64_t kill_at;	/* 0: it kills itself */
};

struct round_result {
	unsigned int clients, self_killed, parent_killed, abnormal;
	int first_abnormal_status;
};

static int pidfd_open(pid_t pid)
{
	return (int)syscall(SYS_pidfd_open, pid, 0);
}

/* Wait for a client to end, or for the next kill to be due; kill and reap. */
static void service(struct alive *a, unsigned int *nalive, struct round_result *res)
{
	struct pollfd pfd[MAX_ALIVE];
	int64_t now = raw_now_ns(), next = INT64_MAX;
	unsigned int i;
	int timeout, st;

	for (i = 0; i < *nalive; i++) {
		pfd[i] = (struct pollfd){ a[i].pidfd, POLLIN, 0 };
		if (a[i].kill_at && a[i].kill_at < next)
			next = a[i].kill_at;
	}
	timeout = next == INT64_MAX ? 1000 : (int)((next - now + 999999) / 1000000);
	if (timeout < 0)
		timeout = 0;
	poll(pfd, *nalive, timeout);
	now = raw_now_ns();
	for (i = 0; i < *nalive; i++) {
		if (a[i].kill_at && a[i].kill_at <= now) {
			recs[a[i].id].kill_ns = raw_now_ns();
			kill(a[i].pid, SIGKILL);
			a[i].kill_at = 0;
			res->parent_killed++;
		}
	}
	for (i = 0; i < *nalive;) {
		if (waitpid(a[i].pid, &st, WNOHANG) != a[i].pid) {
			i++;
			continue;
		}
		if (!WIFSIGNALED(st) || WTERMSIG(st) != SIGKILL) {
			if (!res->abnormal++)
				res->first_abnormal_status = st;
		} else if (!recs[a[i].id].kill_ns) {
			res->abnormal++;
		}
		close(a[i].pidfd);
		a[i] = a[--*nalive];
	}
}

/*
 * Signal the shared pending point and make the next, so that what clients built on it
 * (merges, imports into the shared buffer) can signal and be freed during the round: the
 * broker's peak memory then does not grow with the number of clients, and VmRSS after the
 * round can be compared with VmRSS after the warm-up round.
 */
static void next_shared_point(struct shared_objs *so, uint32_t *gen)
{
	if (so->sf >= 0) {
		dmabuf_fd_sw_timeline_inc(so->stl, 1);
		close(so->sf);
	}
	so->sf = xfence(so->stl, ++*gen);
}

static void run_clients(unsigned int first, unsigned int n, struct shared_objs *so,
			uint64_t *rng, struct round_result *res)
{
	struct alive a[MAX_ALIVE];
	unsigned int nalive = 0, id;
	uint32_t gen = 0;

	for (id = first; id < first + n; id++) {
		if ((id - first) % SHARED_GEN == 0)
			next_shared_point(so, &gen);
		bool self_kill = next_rand(rng) % 2;
		uint64_t seed = ((uint64_t)next_rand(rng) << 32) | next_rand(rng);
		int64_t delay = (int64_t)(next_rand(rng) % MAX_DELAY_US) * 1000;
		pid_t pid;

		while (nalive == MAX_ALIVE)
			service(a, &nalive, res);
		pid = fork();
		if (pid < 0)
			bail_out("fork: %s", strerror(errno));
		if (pid == 0)
			client_main(id, seed, self_kill, so);
		a[nalive].pid = pid;
		a[nalive].pidfd = pidfd_open(pid);
		if (a[nalive].pidfd < 0)
			bail_out("pidfd_open: %s", strerror(errno));
		a[nalive].id = id;
		a[nalive].kill_at = self_kill ? 0 : raw_now_ns() + delay;
		nalive++;
		res->clients++;
		res->self_killed += self_kill;
	}
	while (nalive)
		service(a, &nalive, res);
}

/* The broker's state we compare before and after. */
struct snapshot {
	struct dmabufd_stats st;
	int fds;
	long rss_kb, anon_kb, shmem_kb;
};

static pid_t broker;
static int mon = -1;

static struct snapshot snap(void)
{
	struct snapshot s;

	if (raw_stats(mon, &s.st))
		bail_out("STATS failed: is the broker gone?");
	s.fds = proc_fd_count(broker);
	s.rss_kb = proc_status_kb(broker, "VmRSS:");
	s.anon_kb = proc_status_kb(broker, "RssAnon:");
	s.shmem_kb = proc_status_kb(broker, "RssShmem:");
	return s;
}

static bool same_objects(const struct snapshot *a, const struct snapshot *b)
{
	return a->st.buffers == b->st.buffers && a->st.buffer_bytes == b->st.buffer_bytes &&
	       a->st.sync_files == b->st.sync_files && a->st.timelines == b->st.timelines &&
	       a->st.fences == b->st.fences && a->st.connections == b->st.connections &&
	       a->fds == b->fds;
}

/* Poll until the broker is back at @base (objects, connections, descriptors). */
static bool settle(const struct snapshot *base, struct snapshot *now)
{
	int64_t deadline = raw_now_ns() + SETTLE_MS * NS_PER_MS;

	for (;;) {
		*now = snap();
		if (same_objects(base, now))
			return true;
		if (raw_now_ns() > deadline)
			return false;
		raw_nap_ms(2);
	}
}

static void show(const char *what, const struct snapshot *s)
{
	diag("%s: %llu buffers (%llu bytes), %llu sync_files, %llu timelines, %llu fences, "
	     "%llu connections, %d fds, VmRSS %ld kB (anon %ld, shmem %ld), %llu requests, "
	     "%llu dropped", what,
	     (unsigned long long)s->st.buffers, (unsigned long long)s->st.buffer_bytes,
	     (unsigned long long)s->st.sync_files, (unsigned long long)s->st.timelines,
	     (unsigned long long)s->st.fences, (unsigned long long)s->st.connections, s->fds,
	     s->rss_kb, s->anon_kb, s->shmem_kb, (unsigned long long)s->st.requests,
	     (unsigned long long)s->st.dropped);
}

static int cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return (x > y) - (x < y);
}

/* One round of @n clients (ids first..first+n-1); checks with @name. */
static void round_of(const char *name, unsigned int first, unsigned int n, uint64_t *rng,
		     const struct snapshot *base)
{
	struct round_result res = { 0 };
	struct shared_objs so;
	unsigned int i, reg = 0, enoent = 0, late = 0, unexpected = 0, first_bad = UINT32_MAX;
	int64_t *lat = calloc(n, sizeof(*lat)), t0 = raw_now_ns();
	int sv[2];
	struct snapshot now;
	pid_t waiter;

	if (!lat || socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv))
		bail_out("setup: %s", strerror(errno));
	so.sb = xbuf(4 * page, O_CLOEXEC);
	so.ib = xbuf(page, O_CLOEXEC);
	so.ptl = xtimeline(O_CLOEXEC);
	so.stl = xtimeline(O_CLOEXEC);
	so.sf = -1;
	so.ws = sv[1];
	so.ptl_value = ptl_value;
	*ptl_value = 0;
	fflush(stdout);
	waiter = fork();
	if (waiter < 0)
		bail_out("fork: %s", strerror(errno));
	if (waiter == 0) {
		close(sv[1]);
		close(so.sb);
		close(so.ib);
		close(so.stl);
		close(so.ptl);
		_exit(waiter_main(sv[0]));
	}
	close(sv[0]);
	run_clients(first, n, &so, rng, &res);
	send_fds(sv[1], &(unsigned int){ UINT32_MAX }, sizeof(unsigned int), NULL, 0);
	close(sv[1]);
	ok_exit(waiter, "the waiter process");
	close(so.sf);
	close(so.stl);
	close(so.ptl);
	close(so.ib);
	close(so.sb);

	diag("%s: %u clients in %.2f s: %u killed themselves, %u killed by the parent", name,
	     res.clients, (double)(raw_now_ns() - t0) / 1e9, res.self_killed, res.parent_killed);
	ok(res.abnormal == 0, "%s: every client died of SIGKILL (%u did not; first: %s)", name,
	   res.abnormal, res.abnormal ? status_str(res.first_abnormal_status) : "-");
	for (i = first; i < first + n; i++) {
		struct client_rec *r = &recs[i];

		unexpected += (unsigned int)r->unexpected;
		if (r->unexpected && first_bad == UINT32_MAX)
			first_bad = i;
		if (!r->registered)
			continue;
		lat[reg++] = r->wake_ns - r->kill_ns;
		enoent += r->wake_ret == 0 && r->wake_status == -ENOENT;
		late += r->wake_ns - r->kill_ns > WAKE_LIMIT_NS;
	}
	if (first_bad != UINT32_MAX)
		diag("client %u: operation %d failed with %d", first_bad,
		     recs[first_bad].first_bad_op, recs[first_bad].first_bad_ret);
	is_int(unexpected, 0, "%s: no client call failed unexpectedly", name);
	ok(reg > n / 4, "%s: %u clients had a waiter on their timeline", name, reg);
	is_int(enoent, reg, "%s: every waiter woke with -ENOENT", name);
	qsort(lat, reg, sizeof(*lat), cmp_i64);
	is_int(late, 0, "%s: every waiter woke within 1 s of the kill (median %.3f, max %.3f ms)",
	       name, reg ? (double)lat[reg / 2] / 1e6 : 0.0,
	       reg ? (double)lat[reg - 1] / 1e6 : 0.0);
	free(lat);

	ok(proc_alive(broker), "%s: the broker survived", name);
	ok(settle(base, &now), "%s: the broker's objects, connections and fds are back to before",
	   name);
	show("  now   ", &now);
	is_int(now.st.dropped, base->st.dropped, "%s: no connection dropped as malformed", name);
}

/* Wait until the broker holds no object at all. */
static bool empty_broker(void)
{
	int64_t deadline = raw_now_ns() + SETTLE_MS * NS_PER_MS;
	struct snapshot s;

	for (;;) {
		s = snap();
		if (!s.st.buffers && !s.st.sync_files && !s.st.timelines)
			return true;
		if (raw_now_ns() > deadline)
			return false;
		raw_nap_ms(2);
	}
}

int main(void)
{
	struct snapshot base, warm, now;
	uint64_t rng = 0x9e3779b97f4a7c15ull ^ (uint64_t)raw_now_ns();
	unsigned int n, warmup;
	pid_t pid = 0;
	int fd;

	guard_start(240);
	page = (size_t)sysconf(_SC_PAGESIZE);
	n = (unsigned int)env_ulong("DMABUF_CRASH_CLIENTS", 1000);
	warmup = n / 5 < 20 ? 20 : n / 5;
	nclients = n + warmup;	/* the warm-up round uses the last ids */
	recs = mmap(NULL, sizeof(*recs) * nclients + sizeof(*ptl_value), PROT_READ | PROT_WRITE,
		    MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (recs == MAP_FAILED)
		bail_out("mmap: %s", strerror(errno));
	ptl_value = (_Atomic uint32_t *)(recs + nclients);
	test_broker_setup();
	signal(SIGPIPE, SIG_IGN);
	fd = dmabuf_fd_sw_timeline_create(O_CLOEXEC);
	if (fd < 0)
		bail_out("no broker: %s", strerror(-fd));
	close(fd);
	mon = raw_open(test_broker_socket(), &broker);
	if (mon < 0)
		bail_out("raw connection: %s", strerror(-mon));
	diag("broker %d; %u clients (DMABUF_CRASH_CLIENTS), %u more in a warm-up round, "
	     "at most %d alive", (int)broker, n, warmup, MAX_ALIVE);
	ok(empty_broker(), "the private broker holds no object before the clients");
	base = snap();
	show("  before", &base);

	round_of("warm-up", n, warmup, &rng, &base);
	warm = snap();
	round_of("crash", 0, n, &rng, &base);
	now = snap();

	xclose(raw_open(test_broker_socket(), &pid));
	is_int(pid, broker, "the broker answering is the one from the start");
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
	diag("sanitizer build: VmRSS not compared (%ld kB after warm-up, %ld kB at the end)",
	     warm.rss_kb, now.rss_kb);
#else
	ok(now.rss_kb - warm.rss_kb <= RSS_TOLERANCE_KB,
	   "VmRSS %ld kB after warm-up, %ld kB at the end (%+ld kB; tolerance %d kB)",
	   warm.rss_kb, now.rss_kb, now.rss_kb - warm.rss_kb, RSS_TOLERANCE_KB);
#endif
	close(mon);
	return tap_done();
}
