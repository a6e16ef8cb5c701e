// SPDX-License-Identifier: MIT
/*
 * slots.c - the shared slot table: a sealed memfd the broker writes and clients map
 * read-only (HELLO), one struct dmabufd_slot per live buffer, for the clients' fast paths.
 *
 * Stores are release-ordered atomics; a client reads gen, state, ino, then gen again.  A slot
 * is given out with its current generation and the buffer's inode; freeing it clears state
 * and inode first, then bumps the generation, so a client holding the old (slot, gen, ino)
 * sees a mismatch from then on.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#include "dmabufd.h"
#include "log.h"

static struct dmabufd_slot *table;
static size_t table_bytes;
static unsigned int nslots;
static int ro_fd = -1;
/* free slots, a stack: the most recently freed slot is reused first (warm cache line) */
static uint32_t *free_stack;
static unsigned int nfree;

int dmabufd_slots_init(unsigned int count)
{
	char path[64];
	int fd, ret;

	nslots = count;
	table_bytes = (size_t)count * sizeof(struct dmabufd_slot);
	free_stack = malloc((size_t)count * sizeof(*free_stack));
	if (!free_stack)
		return -ENOMEM;
	for (unsigned int i = 0; i < count; i++)
		free_stack[i] = count - 1 - i;
	nfree = count;

	fd = memfd_create("dmabufd-slots", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (fd < 0)
		return -errno;
	if (ftruncate(fd, (off_t)table_bytes))
		goto err_errno;
	table = mmap(NULL, table_bytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (table == MAP_FAILED) {
		table = NULL;
		goto err_errno;
	}
	/* From now on nobody can get write access, ourselves included (we have it already). */
	if (fcntl(fd, F_ADD_SEALS, F_SEAL_FUTURE_WRITE | F_SEAL_SHRINK | F_SEAL_GROW |
		  F_SEAL_SEAL))
		goto err_errno;
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	ro_fd = open(path, O_RDONLY | O_CLOEXEC);
	if (ro_fd < 0)
		goto err_errno;
	close(fd);
	return 0;

err_errno:
	ret = -errno;
	close(fd);
	return ret;
}

void dmabufd_slots_fini(void)
{
	if (table)
		munmap(table, table_bytes);
	table = NULL;
	if (ro_fd >= 0)
		close(ro_fd);
	ro_fd = -1;
	free(free_stack);
	free_stack = NULL;
	nfree = 0;
}

unsigned int dmabufd_slots_count(void)
{
	return nslots;
}

int dmabufd_slots_fd(void)
{
	return ro_fd;
}

uint64_t dmabufd_slot_alloc(uint64_t ino, uint32_t state, uint32_t *gen)
{
	struct dmabufd_slot *s;
	uint32_t i;

	if (!nfree)
		return DMABUFD_NO_SLOT;
	i = free_stack[--nfree];
	s = &table[i];
	__atomic_store_n(&s->state, state, __ATOMIC_RELEASE);
	__atomic_store_n(&s->ino, ino, __ATOMIC_RELEASE);
	*gen = __atomic_load_n(&s->gen, __ATOMIC_RELAXED);
	return i;
}

void dmabufd_slot_set_state(uint64_t slot, uint32_t state)
{
	if (slot < nslots)
		__atomic_store_n(&table[slot].state, state, __ATOMIC_RELEASE);
}

void dmabufd_slot_free(uint64_t slot)
{
	struct dmabufd_slot *s;

	if (slot >= nslots)
		return;
	s = &table[slot];
	__atomic_store_n(&s->state, 0, __ATOMIC_RELEASE);
	__atomic_store_n(&s->ino, 0, __ATOMIC_RELEASE);
	__atomic_store_n(&s->gen, s->gen + 1, __ATOMIC_RELEASE);
	free_stack[nfree++] = (uint32_t)slot;
}
