// SPDX-License-Identifier: MIT
/*
 * bench_memory.c - bytes per object: sizeof and the heap really used.
 *
 * The heap cost is glibc's mallinfo2() "uordblks" (bytes in use) before and
 * after creating many objects, divided by their number.  It includes the
 * allocator's chunk header and rounding, which sizeof does not show.
 */
#include <malloc.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>

#include <dmabuf/fence.h>
#include <dmabuf/fence_array.h>
#include <dmabuf/resv.h>
#include <dmabuf/ww_mutex.h>

#include "bench.h"

#define MEM_OBJECTS 4096

static size_t heap_in_use(void)
{
	return mallinfo2().uordblks;
}

static void mem_row(const char *name, long size, double heap, const char *note)
{
	struct bench_mem_row m = { .sizeof_bytes = size, .heap_bytes = heap };

	snprintf(m.name, sizeof(m.name), "%s", name);
	snprintf(m.note, sizeof(m.note), "%s", note ? note : "");
	bench_add_mem(&m);
}

static void mem_fences(void)
{
	static struct dmabuf_fence *fences[MEM_OBJECTS];
	size_t before, after;
	unsigned int i;

	before = heap_in_use();
	for (i = 0; i < MEM_OBJECTS; i++)
		if (dmabuf_fence_create_stub(0, &fences[i]))
			break;
	after = heap_in_use();
	for (unsigned int j = 0; j < i; j++)
		dmabuf_fence_put(fences[j]);
	mem_row("fence (dmabuf_fence_create_stub)",
		(long)sizeof(struct dmabuf_fence),
		i ? (double)(after - before) / i : -1,
		"a bare fence: malloc'd by the core");
}

static const char *mem_name(struct dmabuf_fence *fence)
{
	return "bench-mem";
}

static const struct dmabuf_fence_ops mem_ops = {
	.get_driver_name = mem_name,
	.get_timeline_name = mem_name,
};

/* @n pending fences on distinct contexts, or NULL. */
static struct dmabuf_fence **make_members(unsigned int n)
{
	struct dmabuf_fence **f = calloc(n, sizeof(*f));
	uint64_t ctx = dmabuf_fence_context_alloc(n);

	for (unsigned int i = 0; f && i < n; i++) {
		f[i] = malloc(sizeof(*f[i]));
		if (!f[i])
			abort();
		dmabuf_fence_init(f[i], &mem_ops, NULL, ctx + i, 1);
	}
	return f;
}

static void drop_members(struct dmabuf_fence **f, unsigned int n)
{
	for (unsigned int i = 0; f && i < n; i++) {
		dmabuf_fence_signal(f[i]);
		dmabuf_fence_put(f[i]);
	}
	free(f);
}

/*
 * Empty reservation objects: their storage is the caller's (sizeof), and
 * what dmabuf_resv_init() itself allocates shows as the heap delta.
 */
static void mem_resv_empty(void)
{
	struct dmabuf_resv *objs = calloc(MEM_OBJECTS, sizeof(*objs));
	size_t before, after;

	if (!objs)
		return;
	before = heap_in_use();
	for (unsigned int i = 0; i < MEM_OBJECTS; i++)
		dmabuf_resv_init(&objs[i]);
	after = heap_in_use();
	for (unsigned int i = 0; i < MEM_OBJECTS; i++)
		dmabuf_resv_fini(&objs[i]);
	free(objs);
	mem_row("resv, empty (dmabuf_resv_init)",
		(long)sizeof(struct dmabuf_resv),
		(double)(after - before) / MEM_OBJECTS,
		"storage is the caller's; heap = what init allocates");
}

/* Heap per object of resvs holding @n fences (fences not counted). */
static void mem_resv_full(unsigned int n)
{
	unsigned int count = n >= 256 ? 256 : 1024;
	struct dmabuf_resv *objs = calloc(count, sizeof(*objs));
	struct dmabuf_fence **f = make_members(n);
	size_t before, after;
	char name[64], note[96];

	if (!objs || !f) {
		free(objs);
		drop_members(f, n);
		return;
	}
	before = heap_in_use();
	for (unsigned int i = 0; i < count; i++) {
		dmabuf_resv_init(&objs[i]);
		dmabuf_resv_lock(&objs[i], NULL);
		for (unsigned int k = 0; k < n; k++)
			if (dmabuf_resv_add_fence(&objs[i], f[k],
						  DMABUF_RESV_USAGE_READ))
				abort();
		dmabuf_resv_unlock(&objs[i]);
	}
	after = heap_in_use();
	for (unsigned int i = 0; i < count; i++)
		dmabuf_resv_fini(&objs[i]);
	free(objs);
	drop_members(f, n);
	snprintf(name, sizeof(name), "resv with %u fence%s (added one by one)",
		 n, n == 1 ? "" : "s");
	snprintf(note, sizeof(note),
		 "heap per resv = its table; %.1f B per fence (fences not counted)",
		 (double)(after - before) / count / n);
	mem_row(name, -1, (double)(after - before) / count, note);
}

/* Heap of a fence array of @n fences (the member fences not counted). */
static void mem_array(unsigned int n)
{
	unsigned int count = n >= 256 ? 256 : 1024;
	struct dmabuf_fence **arrays = calloc(count, sizeof(*arrays));
	struct dmabuf_fence **f = make_members(n);
	uint64_t ctx = dmabuf_fence_context_alloc(1);
	size_t before, after;
	unsigned int made = 0;
	char name[64], note[96];

	if (!arrays || !f) {
		free(arrays);
		drop_members(f, n);
		return;
	}
	before = heap_in_use();
	for (; made < count; made++)
		if (dmabuf_fence_array_create(n, f, ctx, made + 1, false,
					      &arrays[made]))
			break;
	after = heap_in_use();
	for (unsigned int i = 0; i < made; i++)
		dmabuf_fence_put(arrays[i]);
	free(arrays);
	drop_members(f, n);
	if (!made)
		return;
	snprintf(name, sizeof(name), "fence array of %u fences", n);
	snprintf(note, sizeof(note), "%.1f B per member (members not counted)",
		 (double)(after - before) / made / n);
	mem_row(name, -1, (double)(after - before) / made, note);
}

/* False under an allocator that mallinfo2() does not see (sanitizers). */
static bool heap_measurable(void)
{
	size_t before = heap_in_use();
	void *p = malloc(1000);
	bool seen;

	bench_escape(p);
	seen = heap_in_use() >= before + 1000;
	free(p);
	return seen;
}

void bench_run_memory(void)
{
	if (!bench_selected("memory"))
		return;
	if (!heap_measurable()) {
		mem_row("(heap use not measurable: not glibc malloc)", -1, 0,
			"e.g. a sanitizer build");
		return;
	}
	mem_fences();
	mem_row("ww_mutex", (long)sizeof(struct dmabuf_ww_mutex), 0,
		"embedded; allocates nothing");
	mem_row("ww acquire ctx", (long)sizeof(struct dmabuf_ww_acquire_ctx), 0,
		"on the caller's stack");
	mem_resv_empty();
	mem_resv_full(1);
	mem_resv_full(16);
	mem_resv_full(256);
	mem_array(2);
	mem_array(16);
	mem_array(256);
}
