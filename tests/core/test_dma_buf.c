// SPDX-License-Identifier: MIT
/*
 * test_dma_buf.c - the dma-buf object with a test exporter: export rules,
 * lifetime, names, attachments and mappings, CPU access and the implicit
 * sync it waits for, sync_file export/import, poll and its callback hook.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <dmabuf/dma_buf.h>
#include <dmabuf/fault.h>
#include <dmabuf/fence_array.h>
#include <dmabuf/resv.h>
#include <dmabuf/sync_file.h>

#include "tap.h"

#define SIZE (4 * 4096)

/* ---- test fences: report when somebody starts waiting for them ---- */

static pthread_mutex_t hs_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t hs_cond = PTHREAD_COND_INITIALIZER;
static atomic_int fences_released;

struct tfence {
	struct dmabuf_fence base;
	bool enabled;		/* under hs_lock */
};

static const char *tf_driver(struct dmabuf_fence *f)
{
	return "test";
}

static const char *tf_timeline(struct dmabuf_fence *f)
{
	return "tl";
}

static bool tf_enable(struct dmabuf_fence *f)
{
	struct tfence *t = dmabuf_container_of(f, struct tfence, base);

	pthread_mutex_lock(&hs_lock);
	t->enabled = true;
	pthread_cond_broadcast(&hs_cond);
	pthread_mutex_unlock(&hs_lock);
	return true;
}

static void tf_release(struct dmabuf_fence *f)
{
	atomic_fetch_add(&fences_released, 1);
	free(dmabuf_container_of(f, struct tfence, base));
}

static const struct dmabuf_fence_ops tf_ops = {
	.get_driver_name = tf_driver,
	.get_timeline_name = tf_timeline,
	.enable_signaling = tf_enable,
	.release = tf_release,
};

static struct tfence *new_fence(void)
{
	struct tfence *t = calloc(1, sizeof(*t));

	if (!t || dmabuf_fence_init(&t->base, &tf_ops, NULL,
				    dmabuf_fence_context_alloc(1), 1))
		bail_out("cannot make a test fence");
	return t;
}

static void add_fence(struct dmabuf_buf *buf, struct tfence *f,
		      enum dmabuf_resv_usage usage)
{
	struct dmabuf_resv *resv = dmabuf_buf_resv(buf);

	if (dmabuf_resv_lock(resv, NULL) || dmabuf_resv_reserve_fences(resv, 1) ||
	    dmabuf_resv_add_fence(resv, &f->base, usage))
		bail_out("cannot add a fence");
	dmabuf_resv_unlock(resv);
}

/*
 * Run @fn(@arg) in a thread.  Returns true if it started waiting for @f
 * (signaling got enabled) before it finished: then it is blocked on @f.
 * Signals @f in any case, joins the thread and stores fn's result in *ret.
 */
struct blocker {
	int (*fn)(void *arg);
	void *arg;
	int ret;
	bool done;
};

static void *blocker_thread(void *p)
{
	struct blocker *b = p;
	int ret = b->fn(b->arg);

	pthread_mutex_lock(&hs_lock);
	b->ret = ret;
	b->done = true;
	pthread_cond_broadcast(&hs_cond);
	pthread_mutex_unlock(&hs_lock);
	return NULL;
}

static bool blocks_on(struct tfence *f, int (*fn)(void *), void *arg, int *ret)
{
	struct blocker b = { .fn = fn, .arg = arg };
	pthread_t t;
	bool blocked;

	if (pthread_create(&t, NULL, blocker_thread, &b))
		bail_out("pthread_create failed");
	pthread_mutex_lock(&hs_lock);
	while (!f->enabled && !b.done)
		pthread_cond_wait(&hs_cond, &hs_lock);
	blocked = !b.done;
	pthread_mutex_unlock(&hs_lock);
	dmabuf_fence_signal(&f->base);
	pthread_join(t, NULL);
	*ret = b.ret;
	return blocked;
}

/* ---- the test exporter ---- */

struct texp {
	int releases, attaches, detaches, maps, unmaps, begins, ends;
	int vmaps, vunmaps, mmaps;
	enum dmabuf_data_direction last_dir;
	int attach_ret, begin_ret, end_ret;
	unsigned char mem[SIZE];
};

static int t_attach(struct dmabuf_buf *buf, struct dmabuf_attachment *att)
{
	struct texp *t = dmabuf_buf_priv(buf);

	t->attaches++;
	if (!t->attach_ret)
		dmabuf_attachment_set_priv(att, t);
	return t->attach_ret;
}

static void t_detach(struct dmabuf_buf *buf, struct dmabuf_attachment *att)
{
	((struct texp *)dmabuf_buf_priv(buf))->detaches++;
}

static int t_map(struct dmabuf_attachment *att, enum dmabuf_data_direction dir,
		 struct dmabuf_sg_table **out)
{
	struct texp *t = dmabuf_buf_priv(dmabuf_attachment_buf(att));
	int ret = dmabuf_sg_table_alloc(1, out);

	if (ret)
		return ret;
	(*out)->ents[0].fd = -1;
	(*out)->ents[0].length = SIZE;
	t->maps++;
	t->last_dir = dir;
	return 0;
}

static void t_unmap(struct dmabuf_attachment *att, struct dmabuf_sg_table *table,
		    enum dmabuf_data_direction dir)
{
	((struct texp *)dmabuf_buf_priv(dmabuf_attachment_buf(att)))->unmaps++;
	dmabuf_sg_table_free(table);
}

static int t_begin(struct dmabuf_buf *buf, enum dmabuf_data_direction dir)
{
	struct texp *t = dmabuf_buf_priv(buf);

	t->begins++;
	t->last_dir = dir;
	return t->begin_ret;
}

static int t_end(struct dmabuf_buf *buf, enum dmabuf_data_direction dir)
{
	struct texp *t = dmabuf_buf_priv(buf);

	t->ends++;
	t->last_dir = dir;
	return t->end_ret;
}

static int t_mmap(struct dmabuf_buf *buf, void *hint, size_t len, int prot,
		  int flags, uint64_t pgoff, void **out)
{
	void *p = mmap(hint, len, prot, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED)
		return -errno;
	((struct texp *)dmabuf_buf_priv(buf))->mmaps++;
	*out = p;
	return 0;
}

static int t_vmap(struct dmabuf_buf *buf, void **vaddr)
{
	struct texp *t = dmabuf_buf_priv(buf);

	t->vmaps++;
	*vaddr = t->mem;
	return 0;
}

static void t_vunmap(struct dmabuf_buf *buf, void *vaddr)
{
	((struct texp *)dmabuf_buf_priv(buf))->vunmaps++;
}

static void t_release(struct dmabuf_buf *buf)
{
	((struct texp *)dmabuf_buf_priv(buf))->releases++;
}

static const struct dmabuf_buf_ops t_ops = {
	.attach = t_attach,
	.detach = t_detach,
	.map_attachment = t_map,
	.unmap_attachment = t_unmap,
	.begin_cpu_access = t_begin,
	.end_cpu_access = t_end,
	.mmap = t_mmap,
	.vmap = t_vmap,
	.vunmap = t_vunmap,
	.release = t_release,
};

static const struct dmabuf_buf_ops t_ops_cached = {
	.cache_sgt_mapping = true,
	.map_attachment = t_map,
	.unmap_attachment = t_unmap,
	.release = t_release,
};

static const struct dmabuf_buf_ops t_ops_minimal = {
	.map_attachment = t_map,
	.unmap_attachment = t_unmap,
	.release = t_release,
};

static struct dmabuf_buf *export_with(struct texp *t,
				      const struct dmabuf_buf_ops *ops, int flags)
{
	struct dmabuf_export_info info = {
		.exp_name = "test",
		.ops = ops,
		.size = SIZE,
		.flags = flags,
		.map_info = DMABUF_MAP_INCOHERENT,
		.priv = t,
	};
	struct dmabuf_buf *buf = NULL;

	memset(t, 0, sizeof(*t));
	if (dmabuf_buf_export(&info, &buf))
		bail_out("export failed");
	return buf;
}

/* ---- tests ---- */

static void test_export_rules(void)
{
	struct texp t = { 0 };
	struct dmabuf_export_info info = {
		.exp_name = "test", .ops = &t_ops, .size = SIZE,
		.flags = O_RDWR, .map_info = DMABUF_MAP_COHERENT_WC, .priv = &t,
	};
	struct dmabuf_buf_ops no_map = t_ops, no_unmap = t_ops, no_release = t_ops;
	struct dmabuf_export_info bad;
	struct dmabuf_buf *buf = NULL;

	no_map.map_attachment = NULL;
	no_unmap.unmap_attachment = NULL;
	no_release.release = NULL;

	bad = info;
	bad.ops = NULL;
	is_int(dmabuf_buf_export(&bad, &buf), -EINVAL, "no ops: -EINVAL");
	bad.ops = &no_map;
	is_int(dmabuf_buf_export(&bad, &buf), -EINVAL, "no map op: -EINVAL");
	bad.ops = &no_unmap;
	is_int(dmabuf_buf_export(&bad, &buf), -EINVAL, "no unmap op: -EINVAL");
	bad.ops = &no_release;
	is_int(dmabuf_buf_export(&bad, &buf), -EINVAL, "no release op: -EINVAL");
	bad = info;
	bad.size = 0;
	is_int(dmabuf_buf_export(&bad, &buf), -EINVAL, "size 0: -EINVAL");
	bad = info;
	bad.map_info = (enum dmabuf_map_info)3;
	is_int(dmabuf_buf_export(&bad, &buf), -EINVAL, "map_info 3: -EINVAL");
	bad = info;
	bad.flags = O_RDWR | O_APPEND;
	is_int(dmabuf_buf_export(&bad, &buf), -EINVAL, "flags with O_APPEND: -EINVAL");
	is_int(dmabuf_buf_export(NULL, &buf), -EINVAL, "NULL info: -EINVAL");
	is_int(dmabuf_buf_export(&info, NULL), -EINVAL, "NULL out: -EINVAL");
	ok(buf == NULL && t.releases == 0,
	   "failed exports create nothing and call no release");

	is_int(dmabuf_buf_export(&info, &buf), 0, "a valid export works");
	is_int(dmabuf_buf_size(buf), SIZE, "size");
	is_str(dmabuf_buf_exp_name(buf), "test", "exp_name");
	ok(dmabuf_buf_priv(buf) == &t, "priv");
	is_int(dmabuf_buf_flags(buf), O_RDWR, "flags");
	is_int(dmabuf_buf_map_info(buf), DMABUF_MAP_COHERENT_WC,
	       "map_info as exported");
	info.map_info = DMABUF_MAP_INCOHERENT;
	is_int(dmabuf_buf_map_info(buf), DMABUF_MAP_COHERENT_WC,
	       "map_info is fixed at export (the info was copied)");
	ok(dmabuf_buf_resv(buf) != NULL, "an embedded resv");
	is_int(dmabuf_buf_memfd(buf), -1, "no memfd op: memfd() is -1");
	dmabuf_buf_put(buf);
	is_int(t.releases, 1, "the last put releases");
	ok(dmabuf_buf_size(NULL) == 0 && dmabuf_buf_resv(NULL) == NULL &&
	   dmabuf_buf_get(NULL) == NULL, "NULL accessors are harmless");
	dmabuf_buf_put(NULL);
}

static void test_external_resv(void)
{
	struct dmabuf_resv resv;
	struct texp t;
	struct dmabuf_export_info info = {
		.ops = &t_ops_minimal, .size = SIZE, .flags = O_RDWR,
		.resv = &resv, .priv = &t,
	};
	struct dmabuf_buf *buf = NULL;
	struct tfence *w = new_fence();

	memset(&t, 0, sizeof(t));
	dmabuf_resv_init(&resv);
	ok(!dmabuf_buf_export(&info, &buf) && dmabuf_buf_resv(buf) == &resv,
	   "an exporter-supplied resv is used");
	is_str(dmabuf_buf_exp_name(buf), "", "a NULL exp_name reads as \"\"");
	add_fence(buf, w, DMABUF_RESV_USAGE_WRITE);
	is_int(dmabuf_buf_poll(buf, POLLIN | POLLOUT), 0,
	       "fences of the shared resv count for the buffer");
	dmabuf_buf_put(buf);
	is_int(t.releases, 1, "released");
	is_int(dmabuf_resv_num_fences(&resv), 1,
	       "the shared resv and its fence survive the buffer");
	dmabuf_fence_signal(&w->base);
	dmabuf_fence_put(&w->base);
	dmabuf_resv_fini(&resv);
}

static void test_lifetime(void)
{
	struct dmabuf_attachment *att = NULL;
	struct texp t;
	struct dmabuf_buf *buf = export_with(&t, &t_ops, O_RDWR);
	struct tfence *f = new_fence();
	int released_before;
	void *v = NULL, *m = NULL;

	ok(dmabuf_buf_get(buf) == buf, "get returns the buffer");
	dmabuf_buf_put(buf);
	is_int(t.releases, 0, "put after get: not released");

	ok(!dmabuf_buf_attach(buf, "dev", NULL, &att), "attach");
	ok(!dmabuf_buf_vmap(buf, &v), "vmap");
	ok(!dmabuf_buf_mmap(buf, 4096, PROT_READ, MAP_SHARED, 0, &m), "mmap");
	add_fence(buf, f, DMABUF_RESV_USAGE_READ);
	dmabuf_fence_signal(&f->base);
	released_before = atomic_load(&fences_released);
	dmabuf_fence_put(&f->base);
	is_int(atomic_load(&fences_released), released_before,
	       "the buffer's resv holds its own fence reference");
	dmabuf_buf_put(buf);
	is_int(t.releases, 0,
	       "the creator's put leaves it alive: attachment, vmap, mmap hold it");
	dmabuf_buf_detach(att);
	is_int(t.releases, 0, "still alive after detach");
	dmabuf_buf_vunmap(buf, v);
	is_int(t.releases, 0, "still alive after vunmap");
	dmabuf_buf_munmap(buf, m, 4096);
	is_int(t.releases, 1, "munmap of the last mapping releases, once");
	is_int(atomic_load(&fences_released), released_before + 1,
	       "the release drops the resv's fences");
}

static void test_names(void)
{
	struct texp t;
	struct dmabuf_buf *buf = export_with(&t, &t_ops_minimal, O_RDWR);
	char name[DMABUF_BUF_NAME_LEN], small[4];
	const char *n31 = "0123456789012345678901234567890";
	const char *n32 = "01234567890123456789012345678901";

	is_int(dmabuf_buf_get_name(buf, name, sizeof(name)), -ENODATA,
	       "no name yet: -ENODATA");
	is_int(dmabuf_buf_set_name(buf, "oracle-buf"), 0, "set 'oracle-buf'");
	is_int(dmabuf_buf_get_name(buf, name, sizeof(name)), 10, "get: length 10");
	is_str(name, "oracle-buf", "get: the name");
	is_int(dmabuf_buf_set_name(buf, n31), 0, "31 characters: 0");
	is_int(dmabuf_buf_get_name(buf, name, sizeof(name)), 31, "get: 31");
	is_str(name, n31, "the 31-character name is kept whole");
	is_int(dmabuf_buf_set_name(buf, n32), -EINVAL, "32 characters: -EINVAL");
	dmabuf_buf_get_name(buf, name, sizeof(name));
	is_str(name, n31, "a rejected name leaves the old one");
	is_int(dmabuf_buf_set_name(buf, NULL), -EFAULT, "NULL: -EFAULT");
	is_int(dmabuf_buf_set_name(buf, ""), 0, "'': 0");
	is_int(dmabuf_buf_get_name(buf, name, sizeof(name)), 0,
	       "an empty name is a name (length 0, not -ENODATA)");
	is_int(dmabuf_buf_set_name(buf, "final-name"), 0, "set 'final-name'");
	is_int(dmabuf_buf_get_name(buf, small, sizeof(small)), 10,
	       "a small buffer: the full length is returned");
	is_str(small, "fin", "and the copy is truncated and terminated");
	is_int(dmabuf_buf_set_name(NULL, "x"), -EINVAL, "NULL buffer: -EINVAL");
	dmabuf_buf_put(buf);
}

struct map_arg {
	struct dmabuf_attachment *att;
	struct dmabuf_sg_table *table;
};

static int map_fn(void *p)
{
	struct map_arg *a = p;

	return dmabuf_attachment_map(a->att, DMABUF_BIDIRECTIONAL, &a->table);
}

static void test_attachments(void)
{
	struct dmabuf_attachment *a = NULL, *b = NULL;
	struct dmabuf_sg_table *ta = NULL, *tb = NULL, *tc = NULL;
	char devname[] = "gpu0";
	struct map_arg marg;
	struct tfence *k;
	struct texp t;
	struct dmabuf_buf *buf = export_with(&t, &t_ops, O_RDWR);
	int dev_priv, ret;

	is_int(dmabuf_buf_attach(buf, NULL, NULL, &a), -EINVAL, "no dev name: -EINVAL");
	t.attach_ret = -EBUSY;
	is_int(dmabuf_buf_attach(buf, "x", NULL, &a), -EBUSY,
	       "the attach op's error is returned");
	ok(a == NULL && dmabuf_buf_num_attachments(buf) == 0 && t.detaches == 0,
	   "a failed attach leaves nothing attached");
	t.attach_ret = 0;

	ok(!dmabuf_buf_attach(buf, devname, &dev_priv, &a), "attach gpu0");
	devname[0] = 'X';
	is_str(dmabuf_attachment_dev_name(a), "gpu0", "the device name is copied");
	ok(dmabuf_attachment_dev_priv(a) == &dev_priv, "dev_priv");
	ok(dmabuf_attachment_priv(a) == &t, "the exporter's per-attachment priv");
	ok(dmabuf_attachment_buf(a) == buf, "attachment_buf");
	ok(!dmabuf_buf_attach(buf, "vpu", NULL, &b), "attach vpu");
	is_int(dmabuf_buf_num_attachments(buf), 2, "two attachments");
	is_int(t.attaches, 3, "the attach op ran for each attach");

	is_int(dmabuf_attachment_map(a, DMABUF_DMA_NONE, &ta), -EINVAL,
	       "map with DMA_NONE: -EINVAL");
	is_int(dmabuf_attachment_map(a, DMABUF_TO_DEVICE, &ta), 0, "map a");
	is_int(t.last_dir, DMABUF_TO_DEVICE, "the direction reaches the exporter");
	is_int(dmabuf_attachment_map(a, DMABUF_FROM_DEVICE, &tb), 0,
	       "a non-caching exporter maps again");
	ok(ta && tb && ta != tb && t.maps == 2, "with a new table each time");
	dmabuf_attachment_unmap(a, ta, DMABUF_TO_DEVICE);
	dmabuf_attachment_unmap(a, tb, DMABUF_FROM_DEVICE);
	is_int(t.unmaps, 2, "each unmap reaches the exporter");

	/* Mapping waits for KERNEL fences (memory moves). */
	k = new_fence();
	add_fence(buf, k, DMABUF_RESV_USAGE_KERNEL);
	marg.att = b;
	ok(blocks_on(k, map_fn, &marg, &ret),
	   "map blocks while a KERNEL fence is pending");
	is_int(ret, 0, "and succeeds once it signaled");
	dmabuf_attachment_unmap(b, marg.table, DMABUF_BIDIRECTIONAL);
	dmabuf_fence_put(&k->base);
	k = new_fence();
	add_fence(buf, k, DMABUF_RESV_USAGE_WRITE);
	ok(!blocks_on(k, map_fn, &marg, &ret) && ret == 0,
	   "map does not wait for WRITE fences");
	dmabuf_attachment_unmap(b, marg.table, DMABUF_BIDIRECTIONAL);
	dmabuf_fence_put(&k->base);

	dmabuf_buf_detach(a);
	is_int(dmabuf_buf_num_attachments(buf), 1, "detach a: one left");
	is_int(t.detaches, 1, "the detach op ran");
	dmabuf_buf_detach(b);
	dmabuf_buf_detach(NULL);
	is_int(t.releases, 0, "not released while the creator holds it");
	dmabuf_buf_put(buf);
	is_int(t.releases, 1, "released");

	/* A caching exporter. */
	buf = export_with(&t, &t_ops_cached, O_RDWR);
	ok(!dmabuf_buf_attach(buf, "dev", NULL, &a), "attach (caching exporter)");
	ok(!dmabuf_attachment_map(a, DMABUF_TO_DEVICE, &ta), "map TO_DEVICE");
	ok(!dmabuf_attachment_map(a, DMABUF_TO_DEVICE, &tb) && tb == ta,
	   "a second map returns the cached table");
	is_int(dmabuf_attachment_map(a, DMABUF_FROM_DEVICE, &tc), -EBUSY,
	       "a map in another direction: -EBUSY");
	is_int(t.maps, 1, "the exporter mapped once");
	dmabuf_attachment_unmap(a, ta, DMABUF_TO_DEVICE);
	is_int(t.unmaps, 0, "unmapping the cached table keeps it");
	dmabuf_buf_detach(a);
	is_int(t.unmaps, 1, "detach unmaps the cached table");
	ok(!dmabuf_buf_attach(buf, "dev", NULL, &a), "attach again");
	ok(!dmabuf_attachment_map(a, DMABUF_BIDIRECTIONAL, &ta), "map BIDIRECTIONAL");
	ok(!dmabuf_attachment_map(a, DMABUF_FROM_DEVICE, &tb) && tb == ta,
	   "after a bidirectional map, any direction gets the cached table");
	dmabuf_buf_detach(a);
	dmabuf_buf_put(buf);
	is_int(t.releases, 1, "released once");
}

struct sync_arg {
	struct dmabuf_buf *buf;
	uint64_t flags;
};

static int sync_fn(void *p)
{
	struct sync_arg *a = p;

	return dmabuf_buf_sync(a->buf, a->flags);
}

/* Does SYNC(@flags) block on a pending fence of @usage? */
static bool sync_blocks(struct dmabuf_buf *buf, uint64_t flags,
			enum dmabuf_resv_usage usage, int *ret)
{
	struct tfence *f = new_fence();
	struct sync_arg a = { buf, flags };
	bool blocked;

	add_fence(buf, f, usage);
	blocked = blocks_on(f, sync_fn, &a, ret);
	dmabuf_fence_put(&f->base);
	return blocked;
}

static void test_sync(void)
{
	static const uint64_t bad[] = {
		0, DMABUF_SYNC_END, 0x8, DMABUF_SYNC_RW | 0x8,
		DMABUF_SYNC_READ | (1ULL << 40), UINT64_MAX,
	};
	struct texp t;
	struct dmabuf_buf *buf = export_with(&t, &t_ops, O_RDWR);
	int ret;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		is_int(dmabuf_buf_sync(buf, bad[i]), -EINVAL,
		       "SYNC(%#llx): -EINVAL", (unsigned long long)bad[i]);
	ok(t.begins == 0 && t.ends == 0, "rejected flags reach no exporter op");

	is_int(dmabuf_buf_sync(buf, DMABUF_SYNC_START | DMABUF_SYNC_READ), 0,
	       "START|READ");
	is_int(t.last_dir, DMABUF_FROM_DEVICE, "READ is FROM_DEVICE");
	is_int(dmabuf_buf_sync(buf, DMABUF_SYNC_START | DMABUF_SYNC_WRITE), 0,
	       "START|WRITE");
	is_int(t.last_dir, DMABUF_TO_DEVICE, "WRITE is TO_DEVICE");
	is_int(dmabuf_buf_sync(buf, DMABUF_SYNC_END | DMABUF_SYNC_RW), 0,
	       "END|RW");
	is_int(t.last_dir, DMABUF_BIDIRECTIONAL, "RW is BIDIRECTIONAL");
	ok(t.begins == 2 && t.ends == 1, "START calls begin, END calls end");
	t.end_ret = -EIO;
	is_int(dmabuf_buf_sync(buf, DMABUF_SYNC_END | DMABUF_SYNC_READ), -EIO,
	       "the end op's error is returned");
	t.end_ret = 0;

	/* What START waits for. */
	ok(sync_blocks(buf, DMABUF_SYNC_START | DMABUF_SYNC_READ,
		       DMABUF_RESV_USAGE_WRITE, &ret) && ret == 0,
	   "START|READ waits for a pending writer");
	ok(sync_blocks(buf, DMABUF_SYNC_START | DMABUF_SYNC_READ,
		       DMABUF_RESV_USAGE_KERNEL, &ret) && ret == 0,
	   "START|READ waits for a pending KERNEL fence");
	ok(!sync_blocks(buf, DMABUF_SYNC_START | DMABUF_SYNC_READ,
			DMABUF_RESV_USAGE_READ, &ret) && ret == 0,
	   "START|READ does not wait for a pending reader");
	ok(sync_blocks(buf, DMABUF_SYNC_START | DMABUF_SYNC_WRITE,
		       DMABUF_RESV_USAGE_READ, &ret) && ret == 0,
	   "START|WRITE waits for a pending reader");
	ok(sync_blocks(buf, DMABUF_SYNC_START | DMABUF_SYNC_RW,
		       DMABUF_RESV_USAGE_READ, &ret) && ret == 0,
	   "START|RW waits for a pending reader");
	ok(!sync_blocks(buf, DMABUF_SYNC_START | DMABUF_SYNC_RW,
			DMABUF_RESV_USAGE_BOOKKEEP, &ret) && ret == 0,
	   "START|RW does not wait for BOOKKEEP fences");
	ok(!sync_blocks(buf, DMABUF_SYNC_END | DMABUF_SYNC_RW,
			DMABUF_RESV_USAGE_WRITE, &ret) && ret == 0,
	   "END never waits");
	t.begin_ret = -EIO;
	ok(!sync_blocks(buf, DMABUF_SYNC_START | DMABUF_SYNC_RW,
			DMABUF_RESV_USAGE_WRITE, &ret) && ret == -EIO,
	   "a failing begin op returns its error before any wait (kernel order)");
	t.begin_ret = 0;
	is_int(dmabuf_buf_begin_cpu_access(NULL, DMABUF_TO_DEVICE), -EINVAL,
	       "begin_cpu_access(NULL): -EINVAL");
	dmabuf_buf_put(buf);

	/* No CPU-access ops at all: the core answers 0. */
	buf = export_with(&t, &t_ops_minimal, O_RDWR);
	is_int(dmabuf_buf_sync(buf, DMABUF_SYNC_END | DMABUF_SYNC_RW), 0,
	       "END without ops: 0");
	is_int(dmabuf_buf_sync(buf, DMABUF_SYNC_START | DMABUF_SYNC_RW), 0,
	       "START without ops: 0");
	dmabuf_buf_put(buf);
}

static bool is_stub(struct dmabuf_sync_file *sf)
{
	struct dmabuf_fence *f = dmabuf_sync_file_get_fence(sf);
	bool r = f && !strcmp(dmabuf_fence_driver_name(f), "stub") &&
		 dmabuf_fence_get_status(f) == 1;

	dmabuf_fence_put(f);
	return r;
}

/* The sync_file's fence is exactly @want. */
static bool holds(struct dmabuf_sync_file *sf, struct tfence *want)
{
	struct dmabuf_fence *f = dmabuf_sync_file_get_fence(sf);
	bool r = f == &want->base;

	dmabuf_fence_put(f);
	return r;
}

static void test_export_sync_file(void)
{
	static const uint32_t bad[] = { 0, 4, DMABUF_SYNC_RW | 4, 0x80000000u };
	struct dmabuf_sync_file *sf = NULL, *sw = NULL;
	struct dmabuf_fence *f;
	struct tfence *r, *w, *w2, *bk;
	char name[DMABUF_SYNC_NAME_LEN];
	struct texp t;
	struct dmabuf_buf *buf = export_with(&t, &t_ops_minimal, O_RDWR);

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		is_int(dmabuf_buf_export_sync_file(buf, bad[i], &sf), -EINVAL,
		       "EXPORT_SYNC_FILE(%#x): -EINVAL", bad[i]);
	ok(sf == NULL, "no sync_file on error");

	ok(!dmabuf_buf_export_sync_file(buf, DMABUF_SYNC_READ, &sf) &&
	   is_stub(sf), "idle, READ: the signaled stub");
	dmabuf_sync_file_get_name(sf, name, sizeof(name));
	is_str(name, "stub-stub0-0", "named 'stub-stub0-0' like the kernel's");
	dmabuf_sync_file_put(sf);
	ok(!dmabuf_buf_export_sync_file(buf, DMABUF_SYNC_WRITE, &sf) &&
	   is_stub(sf), "idle, WRITE: the stub");
	dmabuf_sync_file_put(sf);
	ok(!dmabuf_buf_export_sync_file(buf, DMABUF_SYNC_RW, &sf) &&
	   is_stub(sf), "idle, RW: the stub");
	dmabuf_sync_file_put(sf);

	/* A pending reader. */
	r = new_fence();
	add_fence(buf, r, DMABUF_RESV_USAGE_READ);
	ok(!dmabuf_buf_export_sync_file(buf, DMABUF_SYNC_READ, &sf) &&
	   is_stub(sf), "pending reader, READ: the stub (readers do not block reads)");
	dmabuf_sync_file_put(sf);
	ok(!dmabuf_buf_export_sync_file(buf, DMABUF_SYNC_WRITE, &sw) &&
	   holds(sw, r), "pending reader, WRITE: the reader's fence");
	is_int(dmabuf_sync_file_status(sw), 0, "which is pending");

	/* Snapshot: a writer added afterwards does not join it. */
	w = new_fence();
	add_fence(buf, w, DMABUF_RESV_USAGE_WRITE);
	ok(holds(sw, r), "a writer added later does not change the export");
	dmabuf_fence_signal(&r->base);
	is_int(dmabuf_sync_file_status(sw), 1,
	       "the export signals with its fence although the writer is pending");
	is_int(dmabuf_buf_poll(buf, POLLIN | POLLOUT), 0,
	       "(the buffer itself is still busy)");
	dmabuf_sync_file_put(sw);

	/* Pending reader and writer. */
	w2 = r;
	r = new_fence();
	add_fence(buf, r, DMABUF_RESV_USAGE_READ);
	ok(!dmabuf_buf_export_sync_file(buf, DMABUF_SYNC_READ, &sf) &&
	   holds(sf, w), "reader + writer pending, READ: the writer only");
	dmabuf_sync_file_put(sf);
	ok(!dmabuf_buf_export_sync_file(buf, DMABUF_SYNC_RW, &sf),
	   "reader + writer pending, RW");
	f = dmabuf_sync_file_get_fence(sf);
	ok(dmabuf_fence_is_array(f) && dmabuf_fence_array_num_fences(f) == 2,
	   "RW: an array of both pending fences");
	dmabuf_fence_signal(&w->base);
	is_int(dmabuf_sync_file_status(sf), 0, "it waits for the reader too");
	dmabuf_fence_signal(&r->base);
	is_int(dmabuf_sync_file_status(sf), 1, "and signals after both");
	dmabuf_fence_put(f);
	dmabuf_sync_file_put(sf);

	/* BOOKKEEP fences never count. */
	bk = new_fence();
	add_fence(buf, bk, DMABUF_RESV_USAGE_BOOKKEEP);
	ok(!dmabuf_buf_export_sync_file(buf, DMABUF_SYNC_RW, &sf) && is_stub(sf),
	   "only a BOOKKEEP fence pending, RW: the stub");
	dmabuf_sync_file_put(sf);
	dmabuf_fence_signal(&bk->base);

	is_int(dmabuf_buf_export_sync_file(NULL, DMABUF_SYNC_RW, &sf), -EINVAL,
	       "NULL buffer: -EINVAL");
	is_int(dmabuf_buf_export_sync_file(buf, DMABUF_SYNC_RW, NULL), -EINVAL,
	       "NULL out: -EINVAL");
	dmabuf_fence_put(&r->base);
	dmabuf_fence_put(&w->base);
	dmabuf_fence_put(&w2->base);
	dmabuf_fence_put(&bk->base);
	dmabuf_buf_put(buf);
}

static struct dmabuf_sync_file *sync_file_of(struct dmabuf_fence *f)
{
	struct dmabuf_sync_file *sf = NULL;

	if (dmabuf_sync_file_create(f, &sf))
		bail_out("sync_file_create failed");
	return sf;
}

static void test_import_sync_file(void)
{
	static const uint32_t bad[] = { 0, 4, DMABUF_SYNC_RW | 4 };
	struct dmabuf_fence *arr = NULL, *pair[2], *leaf;
	struct dmabuf_sync_file *sf, *out = NULL;
	struct tfence *r, *w, *a, *b;
	struct dmabuf_resv_iter it;
	struct texp t;
	struct dmabuf_buf *buf = export_with(&t, &t_ops_minimal, O_RDWR);
	bool leaves_only = true;
	unsigned int n;

	r = new_fence();
	sf = sync_file_of(&r->base);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		is_int(dmabuf_buf_import_sync_file(buf, bad[i], sf), -EINVAL,
		       "IMPORT_SYNC_FILE(%#x): -EINVAL", bad[i]);
	is_int(dmabuf_buf_import_sync_file(buf, DMABUF_SYNC_WRITE, NULL), -EINVAL,
	       "no sync_file (fd -1 or not a sync_file): -EINVAL");
	is_int(dmabuf_buf_import_sync_file(buf, 0, NULL), -EINVAL,
	       "bad flags and no sync_file: -EINVAL");
	is_int(dmabuf_resv_num_fences(dmabuf_buf_resv(buf)), 0,
	       "rejected imports add nothing");

	is_int(dmabuf_buf_poll(buf, POLLIN | POLLOUT), POLLIN | POLLOUT,
	       "idle: POLLIN|POLLOUT");
	is_int(dmabuf_buf_import_sync_file(buf, DMABUF_SYNC_READ, sf), 0,
	       "import an unsignaled fence as READ");
	is_int(dmabuf_buf_poll(buf, POLLIN), POLLIN,
	       "read fence pending: POLLIN ready");
	is_int(dmabuf_buf_poll(buf, POLLOUT), 0,
	       "read fence pending: POLLOUT not ready");
	ok(!dmabuf_buf_export_sync_file(buf, DMABUF_SYNC_WRITE, &out) &&
	   holds(out, r), "EXPORT(WRITE) now returns the imported fence");
	dmabuf_sync_file_put(out);
	dmabuf_fence_signal(&r->base);
	is_int(dmabuf_buf_poll(buf, POLLIN | POLLOUT), POLLIN | POLLOUT,
	       "after it signaled: POLLIN|POLLOUT");
	dmabuf_sync_file_put(sf);

	w = new_fence();
	sf = sync_file_of(&w->base);
	is_int(dmabuf_buf_import_sync_file(buf, DMABUF_SYNC_RW, sf), 0,
	       "import as RW");
	is_int(dmabuf_buf_poll(buf, POLLIN | POLLOUT), 0,
	       "RW imports a writer: neither POLLIN nor POLLOUT");
	ok(!dmabuf_buf_export_sync_file(buf, DMABUF_SYNC_READ, &out) &&
	   holds(out, w), "EXPORT(READ) returns it");
	dmabuf_sync_file_put(out);
	dmabuf_fence_signal(&w->base);
	is_int(dmabuf_buf_poll(buf, POLLIN | POLLOUT), POLLIN | POLLOUT,
	       "after it signaled: POLLIN|POLLOUT");
	dmabuf_sync_file_put(sf);
	dmabuf_buf_put(buf);

	/* A container is unwrapped: each leaf is added. */
	buf = export_with(&t, &t_ops_minimal, O_RDWR);
	a = new_fence();
	b = new_fence();
	pair[0] = &a->base;
	pair[1] = &b->base;
	if (dmabuf_fence_array_create(2, pair, dmabuf_fence_context_alloc(1), 1,
				      false, &arr))
		bail_out("fence_array_create failed");
	sf = sync_file_of(arr);

	/* All or nothing under allocation failure. */
	{
		int ret = -ENOMEM, i;
		bool clean = true;

		for (i = 0; i < 16 && ret; i++) {
			dmabuf_fault_inject_alloc((unsigned int)i, 1);
			ret = dmabuf_buf_import_sync_file(buf, DMABUF_SYNC_WRITE, sf);
			dmabuf_fault_inject_alloc(0, 0);
			if (ret && (ret != -ENOMEM ||
				    dmabuf_resv_num_fences(dmabuf_buf_resv(buf)) ||
				    dmabuf_buf_poll(buf, POLLIN) != POLLIN))
				clean = false;
		}
		ok(ret == 0, "the import succeeds once no allocation fails");
		ok(clean, "a failed import (-ENOMEM) adds no fence at all");
	}
	n = 0;
	dmabuf_resv_lock(dmabuf_buf_resv(buf), NULL);
	dmabuf_resv_for_each_fence(&it, dmabuf_buf_resv(buf),
				   DMABUF_RESV_USAGE_BOOKKEEP, leaf) {
		n++;
		if (leaf != &a->base && leaf != &b->base)
			leaves_only = false;
	}
	dmabuf_resv_unlock(dmabuf_buf_resv(buf));
	is_int(n, 2, "an imported array adds its two leaves");
	ok(leaves_only, "the leaves themselves, not the container");
	dmabuf_fence_signal(&a->base);
	is_int(dmabuf_buf_poll(buf, POLLIN), 0,
	       "one leaf signaled: still not ready");
	dmabuf_fence_signal(&b->base);
	is_int(dmabuf_buf_poll(buf, POLLIN | POLLOUT), POLLIN | POLLOUT,
	       "both signaled: ready");
	dmabuf_sync_file_put(sf);
	dmabuf_fence_put(arr);
	dmabuf_fence_put(&a->base);
	dmabuf_fence_put(&b->base);
	dmabuf_fence_put(&r->base);
	dmabuf_fence_put(&w->base);
	dmabuf_buf_put(buf);
}

static atomic_int cb_runs;

static void count_cb(struct dmabuf_fence *f, struct dmabuf_fence_cb *cb)
{
	atomic_fetch_add(&cb_runs, 1);
}

static void test_poll(void)
{
	struct dmabuf_fence *armed = NULL;
	struct dmabuf_fence_cb cb;
	struct tfence *w, *w2, *r1, *r2, *bk;
	struct texp t;
	struct dmabuf_buf *buf = export_with(&t, &t_ops_minimal, O_RDWR);

	is_int(dmabuf_buf_poll(buf, POLLIN | POLLOUT), POLLIN | POLLOUT,
	       "idle: POLLIN|POLLOUT");
	is_int(dmabuf_buf_poll(buf, POLLIN), POLLIN, "only what is asked: POLLIN");
	is_int(dmabuf_buf_poll(buf, POLLOUT), POLLOUT, "only what is asked: POLLOUT");
	is_int(dmabuf_buf_poll(buf, POLLPRI), 0, "other events: never");
	is_int(dmabuf_buf_poll(NULL, POLLIN), 0, "NULL: 0");

	is_int(dmabuf_buf_poll_add_callback(buf, POLLIN | POLLOUT, &cb, count_cb,
					    &armed), -ENOENT,
	       "arming on an idle buffer: -ENOENT (ready)");
	ok(armed == NULL, "nothing armed");
	is_int(dmabuf_buf_poll_add_callback(buf, POLLPRI, &cb, count_cb, &armed),
	       -EINVAL, "arming without POLLIN/POLLOUT: -EINVAL");

	bk = new_fence();
	add_fence(buf, bk, DMABUF_RESV_USAGE_BOOKKEEP);
	is_int(dmabuf_buf_poll(buf, POLLIN | POLLOUT), POLLIN | POLLOUT,
	       "a pending BOOKKEEP fence does not affect poll");

	w = new_fence();
	add_fence(buf, w, DMABUF_RESV_USAGE_WRITE);
	is_int(dmabuf_buf_poll(buf, POLLIN | POLLOUT), 0,
	       "a pending writer: neither");
	is_int(dmabuf_buf_poll_add_callback(buf, POLLIN, &cb, count_cb, &armed), 0,
	       "arm POLLIN");
	ok(armed == &w->base, "on the writer");
	is_int(atomic_load(&cb_runs), 0, "not run yet");
	is_int(dmabuf_buf_wait(buf, false, 0), -ETIME,
	       "wait(writers, 0): -ETIME while pending");
	dmabuf_fence_signal(&w->base);
	is_int(atomic_load(&cb_runs), 1, "the callback ran when the writer signaled");
	is_int(dmabuf_buf_poll(buf, POLLIN | POLLOUT), POLLIN | POLLOUT,
	       "and poll says ready");
	is_int(dmabuf_buf_wait(buf, true, 0), 0, "wait(all, 0): 0 when idle");
	dmabuf_fence_put(armed);

	r1 = new_fence();
	r2 = new_fence();
	add_fence(buf, r1, DMABUF_RESV_USAGE_READ);
	add_fence(buf, r2, DMABUF_RESV_USAGE_READ);
	is_int(dmabuf_buf_poll(buf, POLLIN | POLLOUT), POLLIN,
	       "pending readers only: POLLIN");
	is_int(dmabuf_buf_poll_add_callback(buf, POLLIN | POLLOUT, &cb, count_cb,
					    &armed), -ENOENT,
	       "arming for IN|OUT while IN is ready: -ENOENT");
	is_int(dmabuf_buf_wait(buf, false, 0), 0, "wait(writers): 0");
	is_int(dmabuf_buf_wait(buf, true, 0), -ETIME, "wait(all, 0): -ETIME");
	is_int(dmabuf_buf_poll_add_callback(buf, POLLOUT, &cb, count_cb, &armed),
	       0, "arm POLLOUT");
	ok(dmabuf_fence_is_array(armed), "on an array of the two readers");
	dmabuf_fence_signal(&r1->base);
	is_int(atomic_load(&cb_runs), 1, "one reader signaled: not run");
	dmabuf_fence_signal(&r2->base);
	is_int(atomic_load(&cb_runs), 2, "both signaled: the callback ran");
	is_int(dmabuf_buf_poll(buf, POLLOUT), POLLOUT, "POLLOUT ready");
	dmabuf_fence_put(armed);

	/* Cancelling an armed callback. */
	w2 = new_fence();
	add_fence(buf, w2, DMABUF_RESV_USAGE_WRITE);
	ok(!dmabuf_buf_poll_add_callback(buf, POLLOUT, &cb, count_cb, &armed),
	   "arm POLLOUT on a new writer");
	ok(dmabuf_fence_remove_callback(armed, &cb), "cancel it");
	dmabuf_fence_signal(&w2->base);
	is_int(atomic_load(&cb_runs), 2, "a cancelled callback never runs");
	dmabuf_fence_put(armed);

	dmabuf_fence_signal(&bk->base);
	dmabuf_fence_put(&bk->base);
	dmabuf_fence_put(&w->base);
	dmabuf_fence_put(&w2->base);
	dmabuf_fence_put(&r1->base);
	dmabuf_fence_put(&r2->base);
	dmabuf_buf_put(buf);
}

struct wait_arg {
	struct dmabuf_buf *buf;
	bool write;
};

static int wait_fn(void *p)
{
	struct wait_arg *a = p;

	return dmabuf_buf_wait(a->buf, a->write, DMABUF_TIMEOUT_INFINITE);
}

static void test_wait(void)
{
	struct texp t;
	struct dmabuf_buf *buf = export_with(&t, &t_ops_minimal, O_RDWR);
	struct wait_arg a = { buf, true };
	struct tfence *r = new_fence();
	int ret;

	add_fence(buf, r, DMABUF_RESV_USAGE_READ);
	ok(blocks_on(r, wait_fn, &a, &ret) && ret == 0,
	   "wait(all) blocks until a reader signals");
	dmabuf_fence_put(&r->base);
	r = new_fence();
	add_fence(buf, r, DMABUF_RESV_USAGE_READ);
	a.write = false;
	ok(!blocks_on(r, wait_fn, &a, &ret) && ret == 0,
	   "wait(writers) does not wait for a reader");
	dmabuf_fence_put(&r->base);
	is_int(dmabuf_buf_wait(NULL, true, 0), -EINVAL, "wait(NULL): -EINVAL");
	dmabuf_buf_put(buf);
}

static void test_vmap_mmap(void)
{
	struct texp t;
	struct dmabuf_buf *buf = export_with(&t, &t_ops, O_RDWR), *ro;
	void *v1 = NULL, *v2 = NULL, *m = NULL;

	ok(!dmabuf_buf_vmap(buf, &v1) && v1 == t.mem, "vmap returns the exporter's address");
	ok(!dmabuf_buf_vmap(buf, &v2) && v2 == v1, "a second vmap, the same");
	is_int(t.vmaps, 1, "the exporter's vmap ran once");
	dmabuf_buf_vunmap(buf, v1);
	is_int(t.vunmaps, 0, "the first vunmap keeps it");
	dmabuf_buf_vunmap(buf, (char *)v1 + 1);
	is_int(t.vunmaps, 0, "a vunmap of another address is ignored");
	dmabuf_buf_vunmap(buf, v1);
	is_int(t.vunmaps, 1, "the last vunmap reaches the exporter");
	dmabuf_buf_vunmap(buf, v1);
	is_int(t.vunmaps, 1, "an unbalanced vunmap is ignored");

	is_int(dmabuf_buf_mmap(buf, SIZE + 1, PROT_READ, MAP_SHARED, 0, &m),
	       -EINVAL, "mmap beyond the size: -EINVAL");
	is_int(dmabuf_buf_mmap(buf, 4096, PROT_READ, MAP_SHARED, 4, &m), -EINVAL,
	       "mmap at pgoff == size: -EINVAL");
	is_int(t.mmaps, 0, "the core checks bounds before the exporter");
	ok(!dmabuf_buf_mmap(buf, SIZE, PROT_READ, MAP_SHARED, 0, &m) &&
	   t.mmaps == 1, "a full-size mmap reaches the exporter");
	is_int(dmabuf_buf_munmap(buf, m, SIZE), 0, "munmap");
	dmabuf_buf_put(buf);

	ro = export_with(&t, &t_ops, O_RDONLY);
	is_int(dmabuf_buf_mmap(ro, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, 0, &m),
	       -EACCES, "RW shared mmap of an O_RDONLY buffer: -EACCES");
	is_int(dmabuf_buf_mmap(ro, 4096, PROT_READ | PROT_WRITE,
			       MAP_SHARED_VALIDATE, 0, &m),
	       -EACCES, "the same with MAP_SHARED_VALIDATE: -EACCES");
	is_int(t.mmaps, 0, "rejected before the exporter");
	dmabuf_buf_put(ro);

	buf = export_with(&t, &t_ops_minimal, O_RDWR);
	is_int(dmabuf_buf_vmap(buf, &v1), -EINVAL, "no vmap op: -EINVAL");
	is_int(dmabuf_buf_mmap(buf, 4096, PROT_READ, MAP_SHARED, 0, &m), -EINVAL,
	       "no mmap op: -EINVAL");
	dmabuf_buf_put(buf);
}

static void test_fault_injection(void)
{
	struct texp t;
	struct dmabuf_export_info info = {
		.exp_name = "test", .ops = &t_ops, .size = SIZE,
		.flags = O_RDWR, .priv = &t,
	};
	struct dmabuf_attachment *att = NULL;
	struct dmabuf_sg_table *table = NULL;
	struct dmabuf_buf *buf = NULL;
	bool clean = true;
	int ret, i;

	memset(&t, 0, sizeof(t));
	dmabuf_fault_inject_alloc(0, 1);
	ret = dmabuf_buf_export(&info, &buf);
	dmabuf_fault_inject_alloc(0, 0);
	ok(ret == -ENOMEM && !buf && t.releases == 0,
	   "export under -ENOMEM: nothing created, no release");
	ok(!dmabuf_buf_export(&info, &buf), "export");

	for (i = 0; i < 8; i++) {
		dmabuf_fault_inject_alloc((unsigned int)i, 1);
		ret = dmabuf_buf_attach(buf, "dev", NULL, &att);
		dmabuf_fault_inject_alloc(0, 0);
		if (!ret)
			break;
		if (ret != -ENOMEM || att || dmabuf_buf_num_attachments(buf) ||
		    t.attaches)
			clean = false;
	}
	ok(i > 0 && att, "attach succeeds once no allocation fails");
	ok(clean, "a failed attach (-ENOMEM) leaves nothing and skips the op");

	dmabuf_fault_inject_alloc(0, 1);
	ret = dmabuf_attachment_map(att, DMABUF_TO_DEVICE, &table);
	dmabuf_fault_inject_alloc(0, 0);
	ok(ret == -ENOMEM && t.maps == 0, "map under -ENOMEM fails cleanly");
	dmabuf_buf_detach(att);

	{
		void *m = NULL;

		dmabuf_fault_inject_alloc(0, 1);
		ret = dmabuf_buf_mmap(buf, 4096, PROT_READ, MAP_SHARED, 0, &m);
		dmabuf_fault_inject_alloc(0, 0);
		ok(ret == -ENOMEM && t.mmaps == 0 && !dmabuf_buf_num_mmaps(buf),
		   "mmap under -ENOMEM maps nothing");
	}
	{
		struct dmabuf_sync_file *sf = NULL;
		struct tfence *r1 = new_fence(), *r2 = new_fence();

		add_fence(buf, r1, DMABUF_RESV_USAGE_READ);
		add_fence(buf, r2, DMABUF_RESV_USAGE_READ);
		clean = true;
		for (i = 0; i < 8; i++) {
			dmabuf_fault_inject_alloc((unsigned int)i, 1);
			ret = dmabuf_buf_export_sync_file(buf, DMABUF_SYNC_RW, &sf);
			dmabuf_fault_inject_alloc(0, 0);
			if (!ret)
				break;
			if (ret != -ENOMEM || sf)
				clean = false;
		}
		ok(i > 0 && sf, "export_sync_file succeeds once no allocation fails");
		ok(clean, "a failed export_sync_file returns -ENOMEM and nothing");
		dmabuf_sync_file_put(sf);
		dmabuf_fence_signal(&r1->base);
		dmabuf_fence_signal(&r2->base);
		dmabuf_fence_put(&r1->base);
		dmabuf_fence_put(&r2->base);
	}
	dmabuf_buf_put(buf);
	is_int(t.releases, 1, "released once");
}

int main(void)
{
	test_export_rules();
	test_external_resv();
	test_lifetime();
	test_names();
	test_attachments();
	test_sync();
	test_export_sync_file();
	test_import_sync_file();
	test_poll();
	test_wait();
	test_vmap_mmap();
	test_fault_injection();
	return tap_done();
}
