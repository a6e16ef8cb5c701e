// SPDX-License-Identifier: MIT
/*
 * test_sync_file.c - sync_file: names, FILE_INFO rules, merge, wait/poll, deadlines.
 */
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <dmabuf/fault.h>
#include <dmabuf/fence.h>
#include <dmabuf/fence_array.h>
#include <dmabuf/fence_chain.h>
#include <dmabuf/sw_sync.h>
#include <dmabuf/sync_file.h>

#include "sw_timeline.h"
#include "tap.h"

/* A sync_file on point @value of @tl (what SW_SYNC_IOC_CREATE_FENCE gives). */
static struct dmabuf_sync_file *new_sf(struct dmabuf_sw_timeline *tl,
				       uint32_t value)
{
	struct dmabuf_fence *f = new_point(tl, value);
	struct dmabuf_sync_file *sf = NULL;

	if (dmabuf_sync_file_create(f, &sf))
		bail_out("cannot create sync_file");
	dmabuf_fence_put(f);
	return sf;
}

static struct dmabuf_sync_file *merge(const char *name,
				      struct dmabuf_sync_file *a,
				      struct dmabuf_sync_file *b)
{
	struct dmabuf_sync_file *sf = NULL;
	int ret = dmabuf_sync_file_merge(name, a, b, &sf);

	if (ret)
		bail_out("merge failed: %d", ret);
	return sf;
}

/* FILE_INFO as userspace does it: count call, then the full call. */
static int info2(struct dmabuf_sync_file *sf, struct dmabuf_sync_file_info *count,
		 struct dmabuf_sync_file_info *full,
		 struct dmabuf_sync_fence_info *fences, unsigned int cap)
{
	int ret;

	memset(count, 0, sizeof(*count));
	ret = dmabuf_sync_file_get_info(sf, count, NULL);
	if (ret)
		return ret;
	memset(full, 0, sizeof(*full));
	full->num_fences = cap;
	return dmabuf_sync_file_get_info(sf, full, fences);
}

static void test_create_get_put(void)
{
	struct dmabuf_sw_timeline *tl = new_timeline("test");
	struct dmabuf_fence *f = new_point(tl, 1), *g;
	struct dmabuf_sync_file *sf = (void *)1;

	is_int(dmabuf_sync_file_create(NULL, &sf), -EINVAL, "create(NULL fence) -> EINVAL");
	is_int(dmabuf_sync_file_create(f, NULL), -EINVAL, "create(NULL out) -> EINVAL");
	ok(sf == (void *)1, "failed create leaves *out alone");
	is_int(dmabuf_sync_file_create(f, &sf), 0, "create");
	is_int(atomic_load(&f->refcount), 2, "sync_file takes its own fence reference");
	g = dmabuf_sync_file_get_fence(sf);
	ok(g == f, "get_fence returns the fence");
	is_int(atomic_load(&f->refcount), 3, "... as a new reference");
	dmabuf_fence_put(g);
	ok(dmabuf_sync_file_get(sf) == sf, "get returns the sync_file");
	dmabuf_sync_file_put(sf);
	is_int(atomic_load(&f->refcount), 2, "an extra sync_file reference keeps the fence");
	dmabuf_sync_file_put(sf);
	is_int(atomic_load(&f->refcount), 1, "last put drops the fence reference");
	ok(dmabuf_sync_file_get_fence(NULL) == NULL, "get_fence(NULL) is NULL");
	ok(dmabuf_sync_file_get(NULL) == NULL, "get(NULL) is NULL");
	dmabuf_sync_file_put(NULL);
	dmabuf_fence_put(f);
	dmabuf_sw_timeline_put(tl);
}

static void test_names(void)
{
	struct dmabuf_sw_timeline *tl = new_timeline("test");
	struct dmabuf_sync_file *sf = new_sf(tl, 7), *stub_sf, *named;
	struct dmabuf_fence *f = dmabuf_sync_file_get_fence(sf), *stub;
	char want[64], buf[DMABUF_SYNC_NAME_LEN], small[5];

	snprintf(want, sizeof(want), "sw_sync-test%llu-7",
		 (unsigned long long)f->context);
	dmabuf_sync_file_get_name(sf, buf, sizeof(buf));
	is_str(buf, want, "unnamed: <driver>-<timeline><context>-<seqno>");
	dmabuf_sync_file_get_name(sf, small, sizeof(small));
	is_str(small, "sw_s", "name truncated to the buffer");
	memset(small, 'x', sizeof(small));
	dmabuf_sync_file_get_name(sf, small, 0);
	ok(small[0] == 'x', "len 0 writes nothing");

	stub = dmabuf_fence_get_stub();
	dmabuf_sync_file_create(stub, &stub_sf);
	dmabuf_sync_file_get_name(stub_sf, buf, sizeof(buf));
	is_str(buf, "stub-stub0-0", "stub sync_file name (kernel: idle export)");

	named = merge("my-name", sf, sf);
	dmabuf_sync_file_get_name(named, buf, sizeof(buf));
	is_str(buf, "my-name", "named by merge");
	dmabuf_sync_file_put(named);
	named = merge("", sf, sf);
	dmabuf_sync_file_get_name(named, buf, sizeof(buf));
	is_str(buf, want, "merge with an empty name: named after its fence");

	dmabuf_sync_file_put(named);
	dmabuf_sync_file_put(stub_sf);
	dmabuf_fence_put(stub);
	dmabuf_fence_put(f);
	dmabuf_sync_file_put(sf);
	dmabuf_sw_timeline_put(tl);
}

static void test_info_single(void)
{
	struct dmabuf_sw_timeline *tl = new_timeline("test");
	struct dmabuf_sync_file *sf = new_sf(tl, 1);
	struct dmabuf_sync_file_info count, full, bad;
	struct dmabuf_sync_fence_info fi[3];
	char name[DMABUF_SYNC_NAME_LEN];

	dmabuf_sync_file_get_name(sf, name, sizeof(name));
	memset(&bad, 0, sizeof(bad));
	bad.flags = 1;
	is_int(dmabuf_sync_file_get_info(sf, &bad, NULL), -EINVAL, "FILE_INFO flags=1 -> EINVAL");
	bad.flags = 0;
	bad.pad = 1;
	is_int(dmabuf_sync_file_get_info(sf, &bad, NULL), -EINVAL, "FILE_INFO pad=1 -> EINVAL");
	ok(bad.name[0] == '\0' && bad.num_fences == 0, "failed FILE_INFO writes nothing");
	bad.pad = 0;
	bad.flags = 1;
	bad.num_fences = 1;
	is_int(dmabuf_sync_file_get_info(sf, &bad, fi), -EINVAL,
	       "flags checked in the full call too");
	is_int(dmabuf_sync_file_get_info(sf, NULL, NULL), -EFAULT, "NULL info -> EFAULT");
	is_int(dmabuf_sync_file_get_info(NULL, &count, NULL), -EINVAL, "NULL sync_file -> EINVAL");

	memset(&count, 0, sizeof(count));
	count.sync_fence_info = 0xdeadbeef;
	is_int(dmabuf_sync_file_get_info(sf, &count, NULL), 0, "count call");
	is_int(count.num_fences, 1, "count call: one fence");
	is_int(count.status, 0, "count call: status pending");
	is_str(count.name, name, "count call: name");
	ok(count.sync_fence_info == 0xdeadbeef, "sync_fence_info left as given");

	memset(&full, 0, sizeof(full));
	full.num_fences = 1;
	is_int(dmabuf_sync_file_get_info(sf, &full, NULL), -EFAULT,
	       "full call, NULL array -> EFAULT");
	memset(fi, 0x55, sizeof(fi));
	full.num_fences = 3;
	is_int(dmabuf_sync_file_get_info(sf, &full, fi), 0, "full call with spare room");
	is_int(full.num_fences, 1, "full call reports the count");
	is_int(full.status, 0, "full call status: pending");
	is_str(fi[0].obj_name, "test", "obj_name is the timeline");
	is_str(fi[0].driver_name, "sw_sync", "driver_name");
	is_int(fi[0].status, 0, "fence status pending");
	is_int(fi[0].flags, 0, "fence flags 0");
	is_int(fi[0].timestamp_ns, 0, "timestamp 0 while pending");
	ok(fi[1].status == 0x55555555, "entries past the count untouched");

	dmabuf_sw_timeline_inc(tl, 1);
	is_int(info2(sf, &count, &full, fi, 1), 0, "FILE_INFO after signal");
	is_int(count.status, 1, "count call status signaled");
	is_int(full.status, 1, "full call status signaled");
	is_int(fi[0].status, 1, "fence status 1");
	ok(fi[0].timestamp_ns != 0, "timestamp set once signaled");
	dmabuf_sync_file_put(sf);
	dmabuf_sw_timeline_put(tl);
}

static void test_info_status_rules(void)
{
	struct dmabuf_sw_timeline *t1 = new_timeline("t1"), *t2 = new_timeline("t2"),
				  *t3 = new_timeline("t3");
	struct dmabuf_sync_file *a = new_sf(t1, 1), *b = new_sf(t2, 1), *c = new_sf(t3, 1);
	struct dmabuf_sync_file *ab = merge("ab", a, b), *abc = merge("abc", ab, c);
	struct dmabuf_sync_file_info count, full;
	struct dmabuf_sync_fence_info fi[3];

	memset(&full, 0, sizeof(full));
	full.num_fences = 2;
	is_int(dmabuf_sync_file_get_info(abc, &full, fi), -EINVAL,
	       "num_fences below the count -> EINVAL");
	ok(full.num_fences == 2 && full.name[0] == '\0', "... nothing written");

	is_int(info2(abc, &count, &full, fi, 3), 0, "3 timelines merged");
	is_int(count.num_fences, 3, "count is the unwrapped leaves");
	ok(!strcmp(fi[0].obj_name, "t1") && !strcmp(fi[1].obj_name, "t2") &&
	   !strcmp(fi[2].obj_name, "t3"), "leaves ordered by context");

	dmabuf_sw_timeline_inc(t1, 1);
	info2(abc, &count, &full, fi, 3);
	is_int(fi[0].status, 1, "signaled leaf status 1");
	ok(fi[0].timestamp_ns != 0 && fi[1].timestamp_ns == 0,
	   "timestamps only on signaled leaves");
	is_int(full.status, 0, "1 + pending: status 0 (first pending)");
	is_int(count.status, 0, "count call: merged fence pending");

	/* t3's point fails while t2's is pending: the first non-1 wins. */
	dmabuf_sw_timeline_close(t3);
	info2(abc, &count, &full, fi, 3);
	is_int(fi[2].status, -ENOENT, "closed timeline's leaf: -ENOENT");
	ok(fi[2].timestamp_ns != 0, "error leaf has a timestamp");
	is_int(full.status, 0, "1, 0, -2: status 0 (pending comes first)");
	dmabuf_sw_timeline_inc(t2, 1);
	info2(abc, &count, &full, fi, 3);
	is_int(full.status, -ENOENT, "1, 1, -2: status -2");
	/* Linux 6.12 (conformance case sync_file.info.two-signaled-then-error-count):
	 * nobody waited on the merged file, so its own status shows no error. */
	is_int(count.status, 1, "count call: the member's error is hidden (kernel)");
	ok(dmabuf_sync_file_poll(abc), "poll ready");
	is_int(dmabuf_sync_file_status(abc), 1, "status() stays 1 once signaled so");

	/* Error before a pending leaf. */
	{
		struct dmabuf_sw_timeline *u1 = new_timeline("u1"), *u2 = new_timeline("u2");
		struct dmabuf_sync_file *x = new_sf(u1, 1), *y = new_sf(u2, 1);
		struct dmabuf_sync_file *xy = merge("xy", x, y);

		dmabuf_sw_timeline_close(u1);
		info2(xy, &count, &full, fi, 2);
		is_int(full.status, -ENOENT, "-2, 0: status -2 (error comes first)");
		is_int(count.status, 0, "count call: merged fence still pending");
		ok(!dmabuf_sync_file_poll(xy), "poll not ready while a leaf pends");
		dmabuf_sw_timeline_close(u2);	/* lets the polled array finish */
		ok(dmabuf_sync_file_poll(xy), "poll ready once the last leaf fails");
		dmabuf_sync_file_put(x);
		dmabuf_sync_file_put(y);
		dmabuf_sync_file_put(xy);
	}
	dmabuf_sync_file_put(a);
	dmabuf_sync_file_put(b);
	dmabuf_sync_file_put(c);
	dmabuf_sync_file_put(ab);
	dmabuf_sync_file_put(abc);
	dmabuf_sw_timeline_put(t1);
	dmabuf_sw_timeline_put(t2);
}

/*
 * Linux 6.12 (conformance case sync_file.info.two-error-after-poll): once
 * somebody polled the merged file, a member's later error becomes the
 * merged fence's own status, which the count call reports.
 */
static void test_info_error_after_poll(void)
{
	struct dmabuf_sw_timeline *t1 = new_timeline("t1"), *t2 = new_timeline("t2");
	struct dmabuf_sync_file *a = new_sf(t1, 1), *b = new_sf(t2, 1);
	struct dmabuf_sync_file *two = merge("two", a, b);
	struct dmabuf_sync_file_info count, full;
	struct dmabuf_sync_fence_info fi[2];

	ok(!dmabuf_sync_file_poll(two), "error-after-poll: pending, not ready");
	dmabuf_sw_timeline_close(t1);
	ok(!dmabuf_sync_file_poll(two), "error-after-poll: one member failed, still pending");
	dmabuf_sw_timeline_inc(t2, 1);
	ok(dmabuf_sync_file_poll(two), "error-after-poll: ready once both signaled");
	is_int(info2(two, &count, &full, fi, 2), 0, "error-after-poll: info");
	is_int(full.status, -ENOENT, "error-after-poll: full call status -2");
	is_int(count.status, -ENOENT, "error-after-poll: count call status -2 as well");
	dmabuf_sync_file_put(two);
	dmabuf_sync_file_put(a);
	dmabuf_sync_file_put(b);
	dmabuf_sw_timeline_put(t2);
}

static void test_info_containers(void)
{
	struct dmabuf_sw_timeline *t1 = new_timeline("t1"), *t2 = new_timeline("t2");
	struct dmabuf_fence *p[3] = { new_point(t1, 1), new_point(t2, 1), new_point(t2, 2) };
	struct dmabuf_fence *arr = NULL, *c1 = NULL, *c2 = NULL;
	struct dmabuf_sync_file *sf;
	struct dmabuf_sync_file_info count, full;
	struct dmabuf_sync_fence_info fi[4];

	if (dmabuf_fence_array_create(2, p, dmabuf_fence_context_alloc(1), 1,
				      false, &arr))
		bail_out("array");
	dmabuf_sync_file_create(arr, &sf);
	info2(sf, &count, &full, fi, 4);
	is_int(count.num_fences, 2, "array: each fence counts");
	ok(!strcmp(fi[0].obj_name, "t1") && !strcmp(fi[1].obj_name, "t2"),
	   "array: the leaves are reported, not the array");
	dmabuf_sync_file_put(sf);

	dmabuf_fence_chain_create(NULL, arr, 1, &c1);
	dmabuf_fence_chain_create(c1, p[2], 2, &c2);
	dmabuf_sync_file_create(c2, &sf);
	info2(sf, &count, &full, fi, 4);
	is_int(count.num_fences, 3, "chain of (array of 2) + 1: three leaves");
	is_int(full.num_fences, 3, "full call agrees");
	dmabuf_sync_file_put(sf);

	dmabuf_fence_put(c2);
	dmabuf_fence_put(c1);
	dmabuf_fence_put(arr);
	for (int i = 0; i < 3; i++)
		dmabuf_fence_put(p[i]);
	dmabuf_sw_timeline_put(t1);
	dmabuf_sw_timeline_put(t2);
}

static void test_merge(void)
{
	struct dmabuf_sw_timeline *t1 = new_timeline("t1"), *t2 = new_timeline("t2");
	struct dmabuf_sync_file *p1 = new_sf(t1, 1), *p2 = new_sf(t1, 2), *q = new_sf(t2, 5);
	struct dmabuf_sync_file *m, *out = (void *)1;
	struct dmabuf_sync_file_info count, full;
	struct dmabuf_sync_fence_info fi[2];
	struct dmabuf_fence *f, *f2;
	const char *long_name = "0123456789012345678901234567890123456789";
	char buf[DMABUF_SYNC_NAME_LEN];

	is_int(dmabuf_sync_file_merge(NULL, p1, q, &out), -EINVAL, "merge(NULL name)");
	is_int(dmabuf_sync_file_merge("x", NULL, q, &out), -EINVAL, "merge(NULL a)");
	is_int(dmabuf_sync_file_merge("x", p1, NULL, &out), -EINVAL, "merge(NULL b)");
	is_int(dmabuf_sync_file_merge("x", p1, q, NULL), -EINVAL, "merge(NULL out)");
	ok(out == (void *)1, "failed merge leaves *out alone");
	is_int(dmabuf_sync_file_merge_check(0, 0), 0, "merge_check(0, 0)");
	is_int(dmabuf_sync_file_merge_check(1, 0), -EINVAL, "merge_check(flags=1)");
	is_int(dmabuf_sync_file_merge_check(0, 1), -EINVAL, "merge_check(pad=1)");

	m = merge("same-tl", p1, p2);
	info2(m, &count, &full, fi, 2);
	is_int(count.num_fences, 1, "same timeline: one fence");
	f = dmabuf_sync_file_get_fence(m);
	f2 = dmabuf_sync_file_get_fence(p2);
	ok(f == f2, "... the later one");
	dmabuf_fence_put(f);
	dmabuf_sync_file_put(m);
	m = merge("same-tl", p2, p1);
	f = dmabuf_sync_file_get_fence(m);
	ok(f == f2, "... in either order");
	dmabuf_fence_put(f);
	dmabuf_fence_put(f2);
	dmabuf_sync_file_put(m);

	m = merge("self", q, q);
	info2(m, &count, &full, fi, 2);
	is_int(count.num_fences, 1, "merge(f, f): one fence");
	dmabuf_sync_file_put(m);

	m = merge(long_name, p1, q);
	info2(m, &count, &full, fi, 2);
	is_int(count.num_fences, 2, "two timelines: two fences");
	is_int(strlen(count.name), 31, "name truncated to 31 characters");
	ok(!strncmp(count.name, long_name, 31), "... its first 31");
	is_int(full.status, 0, "merged pending");
	is_int(count.status, 0, "merged pending (count call)");
	dmabuf_sync_file_put(m);

	/* Signaled parts are dropped. */
	dmabuf_sw_timeline_inc(t1, 1);
	m = merge("part", p1, q);
	info2(m, &count, &full, fi, 2);
	is_int(count.num_fences, 1, "signaled part dropped");
	is_str(fi[0].obj_name, "t2", "... the pending one stays");
	dmabuf_sync_file_put(m);

	/* All signaled: a stub with the latest timestamp. */
	dmabuf_sw_timeline_inc(t2, 5);
	m = merge("", p1, q);
	info2(m, &count, &full, fi, 2);
	is_int(count.num_fences, 1, "all signaled: one fence");
	is_str(fi[0].driver_name, "stub", "... driver stub");
	is_str(fi[0].obj_name, "stub", "... timeline stub");
	is_int(fi[0].status, 1, "... signaled");
	{
		struct dmabuf_fence *fa = dmabuf_sync_file_get_fence(p1);
		struct dmabuf_fence *fb = dmabuf_sync_file_get_fence(q);
		int64_t ta = dmabuf_fence_get_timestamp(fa), tb = dmabuf_fence_get_timestamp(fb);

		is_int(fi[0].timestamp_ns, ta > tb ? ta : tb,
		       "... with the latest input timestamp");
		dmabuf_fence_put(fa);
		dmabuf_fence_put(fb);
	}
	dmabuf_sync_file_get_name(m, buf, sizeof(buf));
	is_str(buf, "stub-stub0-0", "unnamed all-signaled merge: the private stub is context 0 like the kernel's");
	ok(dmabuf_sync_file_poll(m), "all-signaled merge is poll-ready");
	dmabuf_sync_file_put(m);

	dmabuf_sync_file_put(p1);
	dmabuf_sync_file_put(p2);
	dmabuf_sync_file_put(q);
	dmabuf_sw_timeline_put(t1);
	dmabuf_sw_timeline_put(t2);
}

struct inc_arg {
	struct dmabuf_sw_timeline *tl;
	pthread_barrier_t *barrier;
};

static void *inc_thread(void *p)
{
	struct inc_arg *a = p;

	pthread_barrier_wait(a->barrier);
	dmabuf_sw_timeline_inc(a->tl, 1);
	return NULL;
}

static void test_wait_poll(void)
{
	struct dmabuf_sw_timeline *tl = new_timeline("test");
	struct dmabuf_sync_file *sf = new_sf(tl, 1);
	pthread_barrier_t barrier;
	struct inc_arg arg = { tl, &barrier };
	pthread_t th;

	is_int(dmabuf_sync_file_status(sf), 0, "status pending");
	is_int(dmabuf_sync_file_status(NULL), -EINVAL, "status(NULL)");
	ok(!dmabuf_sync_file_poll(sf), "poll: not ready while pending");
	ok(!dmabuf_sync_file_poll(NULL), "poll(NULL) not ready");
	is_int(dmabuf_sync_file_wait(sf, 0), -ETIME, "wait(0) -> ETIME");
	is_int(dmabuf_sync_file_wait(sf, 1000000), -ETIME, "wait(1ms) -> ETIME");
	is_int(dmabuf_sync_file_wait(NULL, 0), -EINVAL, "wait(NULL)");

	pthread_barrier_init(&barrier, NULL, 2);
	pthread_create(&th, NULL, inc_thread, &arg);
	pthread_barrier_wait(&barrier);
	is_int(dmabuf_sync_file_wait(sf, DMABUF_TIMEOUT_INFINITE), 0,
	       "infinite wait returns once another thread signals");
	pthread_join(th, NULL);
	pthread_barrier_destroy(&barrier);
	ok(dmabuf_sync_file_poll(sf), "poll: ready once signaled");
	is_int(dmabuf_sync_file_status(sf), 1, "status 1");
	dmabuf_sync_file_put(sf);

	sf = new_sf(tl, 5);
	dmabuf_sw_timeline_close(tl);
	ok(dmabuf_sync_file_poll(sf), "poll: ready after an error signal");
	is_int(dmabuf_sync_file_wait(sf, 0), 0, "wait: error fences count as signaled");
	is_int(dmabuf_sync_file_status(sf), -2, "status -ENOENT after close");
	dmabuf_sync_file_put(sf);
}

static void test_deadline(void)
{
	struct dmabuf_sw_timeline *t1 = new_timeline("t1"), *t2 = new_timeline("t2");
	struct dmabuf_sync_file *a = new_sf(t1, 1), *b = new_sf(t2, 1), *m;
	struct dmabuf_fence *fa = dmabuf_sync_file_get_fence(a);
	struct dmabuf_fence *fb = dmabuf_sync_file_get_fence(b);
	int64_t dl = 0;

	is_int(dmabuf_sync_file_set_deadline(NULL, 1), -EINVAL, "set_deadline(NULL)");
	is_int(dmabuf_sw_sync_get_deadline(fa, &dl), -ENOENT, "no deadline before");
	is_int(dmabuf_sync_file_set_deadline(a, 9000), 0, "set_deadline");
	dmabuf_sync_file_set_deadline(a, 8000);
	is_int(dmabuf_sw_sync_get_deadline(fa, &dl), 0, "deadline reaches the sw_sync fence");
	is_int(dl, 8000, "earliest of two");

	m = merge("m", a, b);
	{
		struct dmabuf_fence *fm = dmabuf_sync_file_get_fence(m);

		is_int(dmabuf_sw_sync_get_deadline(fm, &dl), -EINVAL,
		       "GET_DEADLINE on a merged (array) fence -> EINVAL");
		dmabuf_fence_put(fm);
	}
	dmabuf_sync_file_set_deadline(m, 5000);
	dmabuf_sw_sync_get_deadline(fa, &dl);
	is_int(dl, 5000, "merged: leaf a gets the deadline");
	is_int(dmabuf_sw_sync_get_deadline(fb, &dl), 0, "merged: leaf b gets it too");
	is_int(dl, 5000, "... the same value");
	dmabuf_sync_file_put(m);

	{
		struct dmabuf_sync_file *s = new_sf(t1, 2);
		struct dmabuf_fence *fs = dmabuf_sync_file_get_fence(s);

		dmabuf_sw_timeline_inc(t1, 2);
		is_int(dmabuf_sync_file_set_deadline(s, 10), 0, "set_deadline on signaled: 0");
		is_int(dmabuf_sw_sync_get_deadline(fs, &dl), -ENOENT, "... and ignored");
		dmabuf_fence_put(fs);
		dmabuf_sync_file_put(s);
	}
	dmabuf_fence_put(fa);
	dmabuf_fence_put(fb);
	dmabuf_sync_file_put(a);
	dmabuf_sync_file_put(b);
	dmabuf_sw_timeline_put(t1);
	dmabuf_sw_timeline_put(t2);
}

static void test_fault(void)
{
	struct dmabuf_sw_timeline *t1 = new_timeline("t1"), *t2 = new_timeline("t2");
	struct dmabuf_sync_file *a = new_sf(t1, 1), *b = new_sf(t2, 1), *out = (void *)1;
	struct dmabuf_fence *fa = dmabuf_sync_file_get_fence(a);
	struct dmabuf_fence *fb = dmabuf_sync_file_get_fence(b);
	int refa = atomic_load(&fa->refcount), refb = atomic_load(&fb->refcount);
	unsigned int skip;
	int ret = -ENOMEM;

	dmabuf_fault_inject_alloc(0, 1);
	is_int(dmabuf_sync_file_create(fa, &out), -ENOMEM, "create: ENOMEM");
	dmabuf_fault_inject_alloc(0, 0);
	ok(out == (void *)1, "... *out untouched");
	is_int(atomic_load(&fa->refcount), refa, "... no fence reference taken");

	/* Fail each allocation of merge in turn until it succeeds. */
	for (skip = 0; ret == -ENOMEM && skip < 64; skip++) {
		bool clean;

		dmabuf_fault_inject_alloc(skip, 1);
		ret = dmabuf_sync_file_merge("m", a, b, &out);
		dmabuf_fault_inject_alloc(0, 0);
		if (ret != -ENOMEM)
			break;
		clean = out == (void *)1 && atomic_load(&fa->refcount) == refa &&
			atomic_load(&fb->refcount) == refb;
		if (!ok(clean, "merge fails cleanly on allocation %u", skip + 1))
			break;
	}
	is_int(ret, 0, "merge succeeds once no allocation fails");
	ok(skip >= 2, "merge's allocations were all exercised (%u)", skip);
	if (!ret) {
		struct dmabuf_sync_file_info info = { .num_fences = 0 };

		dmabuf_sync_file_get_info(out, &info, NULL);
		is_int(info.num_fences, 2, "merge after failures is complete");
		dmabuf_sync_file_put(out);
	}
	is_int(atomic_load(&fa->refcount), refa, "no leaked reference on a");
	is_int(atomic_load(&fb->refcount), refb, "no leaked reference on b");
	dmabuf_fence_put(fa);
	dmabuf_fence_put(fb);
	dmabuf_sync_file_put(a);
	dmabuf_sync_file_put(b);
	dmabuf_sw_timeline_put(t1);
	dmabuf_sw_timeline_put(t2);
}

int main(void)
{
	test_create_get_put();
	test_names();
	test_info_single();
	test_info_status_rules();
	test_info_error_after_poll();
	test_info_containers();
	test_merge();
	test_wait_poll();
	test_deadline();
	test_fault();
	return tap_done();
}
