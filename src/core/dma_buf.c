// SPDX-License-Identifier: MIT
/*
 * dma_buf.c - dmabuf_buf: exporter ops, attachments, CPU access, mmap/vmap,
 * implicit sync through the reservation object, sync_file export/import.
 *
 * Locking: buf->lock (a plain mutex) protects the name, the attachment
 * list, the vmap count and the list of mmaps.  The reservation object has
 * its own locking (see resv.h); buf->lock is never held while taking it or
 * while waiting for fences.  Exporter ops are called without buf->lock,
 * except vmap/vunmap, which are serialized by it like the kernel's
 * dmabuf->lock.
 */
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <dmabuf/dma_buf.h>
#include <dmabuf/fence_unwrap.h>
#include <dmabuf/resv.h>
#include <dmabuf/sync_file.h>

#include "internal.h"

struct dmabuf_buf {
	atomic_int refcount;
	const struct dmabuf_buf_ops *ops;
	uint64_t size;
	const char *exp_name;
	int flags;
	enum dmabuf_map_info map_info;
	void *priv;
	struct dmabuf_resv *resv;

	pthread_mutex_t lock;
	bool has_name;
	char name[DMABUF_BUF_NAME_LEN];
	struct dmabuf_list attachments;
	unsigned int num_attachments;
	void *vmap_ptr;
	unsigned int vmap_count;
	struct dmabuf_list mmaps;
	unsigned int num_mmaps;

	struct dmabuf_resv embedded_resv;
};

struct dmabuf_attachment {
	struct dmabuf_list node;
	struct dmabuf_buf *buf;
	char *dev_name;
	void *dev_priv;
	void *priv;
	/* Cached mapping (exporters with cache_sgt_mapping). */
	struct dmabuf_sg_table *sgt;
	enum dmabuf_data_direction dir;
};

/* One live dmabuf_buf_mmap() mapping. */
struct buf_mmap {
	struct dmabuf_list node;
	void *addr;
	size_t len;
};

#define BUF_FLAGS_VALID (O_ACCMODE | O_CLOEXEC | O_NONBLOCK)

int dmabuf_buf_export(const struct dmabuf_export_info *info,
		      struct dmabuf_buf **out)
{
	struct dmabuf_buf *buf;

	if (!info || !out || !info->ops || !info->ops->map_attachment ||
	    !info->ops->unmap_attachment || !info->ops->release)
		return -EINVAL;
	if (!info->size || (info->flags & ~BUF_FLAGS_VALID))
		return -EINVAL;
	if (info->map_info != DMABUF_MAP_INCOHERENT &&
	    info->map_info != DMABUF_MAP_COHERENT_WC &&
	    info->map_info != DMABUF_MAP_COHERENT_CACHED)
		return -EINVAL;

	buf = dmabuf_calloc(1, sizeof(*buf));
	if (!buf)
		return -ENOMEM;
	atomic_init(&buf->refcount, 1);
	buf->ops = info->ops;
	buf->size = info->size;
	buf->exp_name = info->exp_name ? info->exp_name : "";
	buf->flags = info->flags;
	buf->map_info = info->map_info;
	buf->priv = info->priv;
	if (info->resv) {
		buf->resv = info->resv;
	} else {
		dmabuf_resv_init(&buf->embedded_resv);
		buf->resv = &buf->embedded_resv;
	}
	pthread_mutex_init(&buf->lock, NULL);
	dmabuf_list_init(&buf->attachments);
	dmabuf_list_init(&buf->mmaps);
	*out = buf;
	return 0;
}

struct dmabuf_buf *dmabuf_buf_get(struct dmabuf_buf *buf)
{
	if (buf)
		atomic_fetch_add_explicit(&buf->refcount, 1,
					  memory_order_relaxed);
	return buf;
}

void dmabuf_buf_put(struct dmabuf_buf *buf)
{
	if (!buf)
		return;
	if (atomic_fetch_sub_explicit(&buf->refcount, 1,
				      memory_order_acq_rel) != 1)
		return;
	/* Attachments, mmaps and vmaps hold references: all are gone. */
	buf->ops->release(buf);
	if (buf->resv == &buf->embedded_resv)
		dmabuf_resv_fini(&buf->embedded_resv);
	pthread_mutex_destroy(&buf->lock);
	dmabuf_free(buf);
}

uint64_t dmabuf_buf_size(const struct dmabuf_buf *buf)
{
	return buf ? buf->size : 0;
}

const char *dmabuf_buf_exp_name(const struct dmabuf_buf *buf)
{
	return buf ? buf->exp_name : "";
}

void *dmabuf_buf_priv(const struct dmabuf_buf *buf)
{
	return buf ? buf->priv : NULL;
}

struct dmabuf_resv *dmabuf_buf_resv(const struct dmabuf_buf *buf)
{
	return buf ? buf->resv : NULL;
}

enum dmabuf_map_info dmabuf_buf_map_info(const struct dmabuf_buf *buf)
{
	return buf ? buf->map_info : DMABUF_MAP_INCOHERENT;
}

int dmabuf_buf_flags(const struct dmabuf_buf *buf)
{
	return buf ? buf->flags : 0;
}

int dmabuf_buf_memfd(struct dmabuf_buf *buf)
{
	if (!buf || !buf->ops->memfd)
		return -1;
	return buf->ops->memfd(buf);
}

/* ---- name ---- */

int dmabuf_buf_set_name(struct dmabuf_buf *buf, const char *name)
{
	size_t len;

	if (!buf)
		return -EINVAL;
	if (!name)
		return -EFAULT;
	len = strnlen(name, DMABUF_BUF_NAME_LEN);
	if (len >= DMABUF_BUF_NAME_LEN)
		return -EINVAL;

	pthread_mutex_lock(&buf->lock);
	memcpy(buf->name, name, len);
	buf->name[len] = '\0';
	buf->has_name = true;
	pthread_mutex_unlock(&buf->lock);
	return 0;
}

int dmabuf_buf_get_name(struct dmabuf_buf *buf, char *out, size_t len)
{
	size_t n;
	int ret;

	if (!buf || (!out && len))
		return -EINVAL;
	pthread_mutex_lock(&buf->lock);
	if (!buf->has_name) {
		ret = -ENODATA;
	} else {
		n = strlen(buf->name);
		ret = (int)n;
		if (len) {
			if (n >= len)
				n = len - 1;
			memcpy(out, buf->name, n);
			out[n] = '\0';
		}
	}
	pthread_mutex_unlock(&buf->lock);
	return ret;
}

/* ---- attachments ---- */

static bool valid_map_dir(enum dmabuf_data_direction dir)
{
	return dir == DMABUF_BIDIRECTIONAL || dir == DMABUF_TO_DEVICE ||
	       dir == DMABUF_FROM_DEVICE;
}

int dmabuf_buf_attach(struct dmabuf_buf *buf, const char *dev_name,
		      void *dev_priv, struct dmabuf_attachment **out)
{
	struct dmabuf_attachment *att;
	size_t len;
	int ret;

	if (!buf || !dev_name || !out)
		return -EINVAL;

	att = dmabuf_calloc(1, sizeof(*att));
	if (!att)
		return -ENOMEM;
	len = strlen(dev_name);
	att->dev_name = dmabuf_malloc(len + 1);
	if (!att->dev_name) {
		ret = -ENOMEM;
		goto err_free;
	}
	memcpy(att->dev_name, dev_name, len + 1);
	att->buf = buf;
	att->dev_priv = dev_priv;
	dmabuf_list_init(&att->node);

	if (buf->ops->attach) {
		ret = buf->ops->attach(buf, att);
		if (ret)
			goto err_name;
	}

	dmabuf_buf_get(buf);
	pthread_mutex_lock(&buf->lock);
	dmabuf_list_add_tail(&att->node, &buf->attachments);
	buf->num_attachments++;
	pthread_mutex_unlock(&buf->lock);
	*out = att;
	return 0;

err_name:
	dmabuf_free(att->dev_name);
err_free:
	dmabuf_free(att);
	return ret;
}

void dmabuf_buf_detach(struct dmabuf_attachment *att)
{
	struct dmabuf_buf *buf;

	if (!att)
		return;
	buf = att->buf;
	if (att->sgt)
		buf->ops->unmap_attachment(att, att->sgt, att->dir);

	pthread_mutex_lock(&buf->lock);
	dmabuf_list_del_init(&att->node);
	buf->num_attachments--;
	pthread_mutex_unlock(&buf->lock);

	if (buf->ops->detach)
		buf->ops->detach(buf, att);
	dmabuf_free(att->dev_name);
	dmabuf_free(att);
	dmabuf_buf_put(buf);
}

unsigned int dmabuf_buf_num_attachments(struct dmabuf_buf *buf)
{
	unsigned int n;

	if (!buf)
		return 0;
	pthread_mutex_lock(&buf->lock);
	n = buf->num_attachments;
	pthread_mutex_unlock(&buf->lock);
	return n;
}

struct dmabuf_buf *dmabuf_attachment_buf(const struct dmabuf_attachment *att)
{
	return att ? att->buf : NULL;
}

const char *dmabuf_attachment_dev_name(const struct dmabuf_attachment *att)
{
	return att ? att->dev_name : NULL;
}

void *dmabuf_attachment_dev_priv(const struct dmabuf_attachment *att)
{
	return att ? att->dev_priv : NULL;
}

void *dmabuf_attachment_priv(const struct dmabuf_attachment *att)
{
	return att ? att->priv : NULL;
}

void dmabuf_attachment_set_priv(struct dmabuf_attachment *att, void *priv)
{
	if (att)
		att->priv = priv;
}

int dmabuf_attachment_map(struct dmabuf_attachment *att,
			  enum dmabuf_data_direction dir,
			  struct dmabuf_sg_table **out)
{
	struct dmabuf_sg_table *table = NULL;
	struct dmabuf_buf *buf;
	int ret;

	if (!att || !out || !valid_map_dir(dir))
		return -EINVAL;
	buf = att->buf;

	if (att->sgt) {
		if (att->dir != dir && att->dir != DMABUF_BIDIRECTIONAL)
			return -EBUSY;
		*out = att->sgt;
		return 0;
	}

	ret = buf->ops->map_attachment(att, dir, &table);
	if (ret)
		return ret;
	if (!table)
		return -ENOMEM;

	/* A static importer must not see memory that is still moving. */
	ret = dmabuf_resv_wait_timeout(buf->resv, DMABUF_RESV_USAGE_KERNEL,
				       DMABUF_TIMEOUT_INFINITE);
	if (ret < 0) {
		buf->ops->unmap_attachment(att, table, dir);
		return ret;
	}

	if (buf->ops->cache_sgt_mapping) {
		att->sgt = table;
		att->dir = dir;
	}
	*out = table;
	return 0;
}

void dmabuf_attachment_unmap(struct dmabuf_attachment *att,
			     struct dmabuf_sg_table *table,
			     enum dmabuf_data_direction dir)
{
	if (!att || !table)
		return;
	if (att->sgt == table)
		return;
	att->buf->ops->unmap_attachment(att, table, dir);
}

/* ---- CPU access ---- */

int dmabuf_buf_begin_cpu_access(struct dmabuf_buf *buf,
				enum dmabuf_data_direction dir)
{
	bool write;
	int ret = 0;

	if (!buf || dir > DMABUF_DMA_NONE)
		return -EINVAL;
	if (buf->ops->begin_cpu_access)
		ret = buf->ops->begin_cpu_access(buf, dir);
	if (ret)
		return ret;

	write = dir == DMABUF_BIDIRECTIONAL || dir == DMABUF_TO_DEVICE;
	ret = dmabuf_resv_wait_timeout(buf->resv, dmabuf_resv_usage_rw(write),
				       DMABUF_TIMEOUT_INFINITE);
	return ret < 0 ? ret : 0;
}

int dmabuf_buf_end_cpu_access(struct dmabuf_buf *buf,
			      enum dmabuf_data_direction dir)
{
	if (!buf || dir > DMABUF_DMA_NONE)
		return -EINVAL;
	if (buf->ops->end_cpu_access)
		return buf->ops->end_cpu_access(buf, dir);
	return 0;
}

int dmabuf_buf_sync(struct dmabuf_buf *buf, uint64_t flags)
{
	enum dmabuf_data_direction dir;

	if (!buf)
		return -EINVAL;
	if (flags & ~(uint64_t)DMABUF_SYNC_VALID_FLAGS_MASK)
		return -EINVAL;

	switch (flags & DMABUF_SYNC_RW) {
	case DMABUF_SYNC_READ:
		dir = DMABUF_FROM_DEVICE;
		break;
	case DMABUF_SYNC_WRITE:
		dir = DMABUF_TO_DEVICE;
		break;
	case DMABUF_SYNC_RW:
		dir = DMABUF_BIDIRECTIONAL;
		break;
	default:
		return -EINVAL;
	}

	if (flags & DMABUF_SYNC_END)
		return dmabuf_buf_end_cpu_access(buf, dir);
	return dmabuf_buf_begin_cpu_access(buf, dir);
}

/* ---- mmap ---- */

static bool buf_readable(const struct dmabuf_buf *buf)
{
	int acc = buf->flags & O_ACCMODE;

	return acc == O_RDONLY || acc == O_RDWR;
}

int dmabuf_buf_mmap(struct dmabuf_buf *buf, size_t len, int prot, int flags,
		    uint64_t pgoff, void **addr)
{
	uint64_t pages, psz = dmabuf_page_size();
	struct buf_mmap *m;
	void *out = NULL;
	int type, ret;

	if (!buf || !addr || !len)
		return -EINVAL;
	if (flags & MAP_ANONYMOUS)
		return -EINVAL;
	if (len > SIZE_MAX - (psz - 1))
		return -ENOMEM;		/* mmap(2): the length wraps */
	pages = (len + psz - 1) / psz;
	if (pgoff + pages < pgoff)
		return -EOVERFLOW;

	type = flags & MAP_TYPE;
	switch (type) {
	case MAP_SHARED:
	case MAP_SHARED_VALIDATE:
		if ((prot & PROT_WRITE) && (buf->flags & O_ACCMODE) != O_RDWR)
			return -EACCES;
		if (!buf_readable(buf))
			return -EACCES;
		break;
	case MAP_PRIVATE:
		if (!buf_readable(buf))
			return -EACCES;
		break;
	default:
		return -EINVAL;
	}

	if (!buf->ops->mmap)
		return -EINVAL;
	if (pgoff + pages > buf->size / psz)
		return -EINVAL;

	m = dmabuf_malloc(sizeof(*m));
	if (!m)
		return -ENOMEM;
	ret = buf->ops->mmap(buf, *addr, len, prot, flags, pgoff, &out);
	if (ret) {
		dmabuf_free(m);
		return ret;
	}

	m->addr = out;
	m->len = len;
	dmabuf_buf_get(buf);
	pthread_mutex_lock(&buf->lock);
	dmabuf_list_add_tail(&m->node, &buf->mmaps);
	buf->num_mmaps++;
	pthread_mutex_unlock(&buf->lock);
	*addr = out;
	return 0;
}

int dmabuf_buf_munmap(struct dmabuf_buf *buf, void *addr, size_t len)
{
	struct buf_mmap *found = NULL;
	struct dmabuf_list *pos;

	if (!buf || !addr)
		return -EINVAL;
	pthread_mutex_lock(&buf->lock);
	for (pos = buf->mmaps.next; pos != &buf->mmaps; pos = pos->next) {
		struct buf_mmap *m = dmabuf_container_of(pos, struct buf_mmap,
							 node);

		if (m->addr == addr && m->len == len) {
			found = m;
			dmabuf_list_del_init(&m->node);
			buf->num_mmaps--;
			break;
		}
	}
	pthread_mutex_unlock(&buf->lock);
	if (!found)
		return -EINVAL;

	munmap(found->addr, found->len);
	dmabuf_free(found);
	dmabuf_buf_put(buf);
	return 0;
}

unsigned int dmabuf_buf_num_mmaps(struct dmabuf_buf *buf)
{
	unsigned int n;

	if (!buf)
		return 0;
	pthread_mutex_lock(&buf->lock);
	n = buf->num_mmaps;
	pthread_mutex_unlock(&buf->lock);
	return n;
}

/* ---- vmap ---- */

int dmabuf_buf_vmap(struct dmabuf_buf *buf, void **vaddr)
{
	void *ptr = NULL;
	int ret = 0;

	if (!buf || !vaddr)
		return -EINVAL;
	*vaddr = NULL;
	if (!buf->ops->vmap)
		return -EINVAL;

	pthread_mutex_lock(&buf->lock);
	if (buf->vmap_count) {
		buf->vmap_count++;
		*vaddr = buf->vmap_ptr;
		goto out_ref;
	}
	ret = buf->ops->vmap(buf, &ptr);
	if (ret)
		goto out_unlock;
	buf->vmap_ptr = ptr;
	buf->vmap_count = 1;
	*vaddr = ptr;
out_ref:
	dmabuf_buf_get(buf);
out_unlock:
	pthread_mutex_unlock(&buf->lock);
	return ret;
}

void dmabuf_buf_vunmap(struct dmabuf_buf *buf, void *vaddr)
{
	bool drop = false;

	if (!buf)
		return;
	pthread_mutex_lock(&buf->lock);
	if (buf->vmap_count && buf->vmap_ptr == vaddr) {
		drop = true;
		if (--buf->vmap_count == 0) {
			if (buf->ops->vunmap)
				buf->ops->vunmap(buf, vaddr);
			buf->vmap_ptr = NULL;
		}
	}
	pthread_mutex_unlock(&buf->lock);
	if (drop)
		dmabuf_buf_put(buf);
}

/* ---- implicit sync: sync_file export/import, poll, wait ---- */

static bool valid_sync_file_flags(uint32_t flags)
{
	return !(flags & ~(uint32_t)DMABUF_SYNC_RW) && (flags & DMABUF_SYNC_RW);
}

int dmabuf_buf_export_sync_file(struct dmabuf_buf *buf, uint32_t flags,
				struct dmabuf_sync_file **out)
{
	struct dmabuf_fence *fence = NULL;
	enum dmabuf_resv_usage usage;
	int ret;

	if (!buf || !out || !valid_sync_file_flags(flags))
		return -EINVAL;

	usage = dmabuf_resv_usage_rw(flags & DMABUF_SYNC_WRITE);
	ret = dmabuf_resv_lock(buf->resv, NULL);
	if (ret)
		return ret;
	ret = dmabuf_resv_get_singleton(buf->resv, usage, NULL, &fence);
	dmabuf_resv_unlock(buf->resv);
	if (ret)
		return ret;

	if (!fence)
		fence = dmabuf_fence_get_stub();
	ret = dmabuf_sync_file_create(fence, out);
	dmabuf_fence_put(fence);
	return ret;
}

int dmabuf_buf_import_sync_file(struct dmabuf_buf *buf, uint32_t flags,
				struct dmabuf_sync_file *sf)
{
	struct dmabuf_fence_unwrap iter;
	struct dmabuf_fence *fence, *f;
	enum dmabuf_resv_usage usage;
	unsigned int num = 0;
	int ret;

	if (!buf || !valid_sync_file_flags(flags))
		return -EINVAL;
	fence = dmabuf_sync_file_get_fence(sf);
	if (!fence)
		return -EINVAL;

	usage = (flags & DMABUF_SYNC_WRITE) ? DMABUF_RESV_USAGE_WRITE :
					      DMABUF_RESV_USAGE_READ;
	dmabuf_fence_unwrap_for_each(f, &iter, fence)
		num++;

	ret = 0;
	if (num) {
		ret = dmabuf_resv_lock(buf->resv, NULL);
		if (ret)
			goto out_put;
		ret = dmabuf_resv_reserve_fences(buf->resv, num);
		if (!ret) {
			/* Leaves that signaled meanwhile may be skipped now:
			 * never more than counted. */
			dmabuf_fence_unwrap_for_each(f, &iter, fence)
				dmabuf_resv_add_fence(buf->resv, f, usage);
		}
		dmabuf_resv_unlock(buf->resv);
	}
out_put:
	dmabuf_fence_put(fence);
	return ret;
}

unsigned int dmabuf_buf_poll(struct dmabuf_buf *buf, unsigned int events)
{
	unsigned int ready = 0;

	if (!buf)
		return 0;
	if ((events & POLLOUT) &&
	    dmabuf_resv_test_signaled(buf->resv, dmabuf_resv_usage_rw(true)))
		ready |= POLLOUT;
	if ((events & POLLIN) &&
	    dmabuf_resv_test_signaled(buf->resv, dmabuf_resv_usage_rw(false)))
		ready |= POLLIN;
	return ready;
}

int dmabuf_buf_poll_add_callback(struct dmabuf_buf *buf, unsigned int events,
				 struct dmabuf_fence_cb *cb,
				 dmabuf_fence_func_t func,
				 struct dmabuf_fence **fence_out)
{
	struct dmabuf_fence *fence = NULL;
	enum dmabuf_resv_usage usage;
	int ret;

	if (!buf || !cb || !func || !fence_out)
		return -EINVAL;
	*fence_out = NULL;
	events &= POLLIN | POLLOUT;
	if (!events)
		return -EINVAL;
	if (dmabuf_buf_poll(buf, events))
		return -ENOENT;

	/* POLLIN becomes ready first (it needs a subset of the fences). */
	usage = dmabuf_resv_usage_rw(!(events & POLLIN));
	ret = dmabuf_resv_get_singleton(buf->resv, usage, NULL, &fence);
	if (ret)
		return ret;
	if (!fence)
		return -ENOENT;

	ret = dmabuf_fence_add_callback(fence, cb, func);
	if (ret) {
		dmabuf_fence_put(fence);
		return ret;
	}
	*fence_out = fence;
	return 0;
}

int dmabuf_buf_wait(struct dmabuf_buf *buf, bool write, int64_t timeout_ns)
{
	int ret;

	if (!buf)
		return -EINVAL;
	ret = dmabuf_resv_wait_timeout(buf->resv, dmabuf_resv_usage_rw(write),
				       timeout_ns);
	return ret < 0 ? ret : 0;
}

/* ---- backing tables ---- */

int dmabuf_sg_table_alloc(unsigned int nents, struct dmabuf_sg_table **out)
{
	struct dmabuf_sg_table *table;

	if (!out || !nents)
		return -EINVAL;
	table = dmabuf_malloc(sizeof(*table));
	if (!table)
		return -ENOMEM;
	table->ents = dmabuf_calloc(nents, sizeof(*table->ents));
	if (!table->ents) {
		dmabuf_free(table);
		return -ENOMEM;
	}
	table->nents = nents;
	*out = table;
	return 0;
}

void dmabuf_sg_table_free(struct dmabuf_sg_table *table)
{
	if (!table)
		return;
	dmabuf_free(table->ents);
	dmabuf_free(table);
}

static int map_piece(void *addr, size_t len, int prot, int flags, int fd,
		     uint64_t offset, void **out)
{
	void *p;

	if (offset > (uint64_t)INT64_MAX)
		return -EINVAL;
	p = mmap(addr, len, prot, flags, fd, (off_t)offset);
	if (p == MAP_FAILED)
		return -errno;
	*out = p;
	return 0;
}

int dmabuf_sg_table_mmap(const struct dmabuf_sg_table *table, uint64_t offset,
			 size_t len, int prot, int flags, void *addr_hint,
			 void **out)
{
	uint64_t psz = dmabuf_page_size(), total = 0, end, pos, ent_start;
	int rflags, pflags, ret;
	unsigned int i, first = 0;
	void *base = NULL;

	if (!table || !table->ents || !out || !len || (offset % psz))
		return -EINVAL;
	if (len > SIZE_MAX - (psz - 1))
		return -EINVAL;
	len = (len + psz - 1) / psz * psz;
	for (i = 0; i < table->nents; i++)
		total += table->ents[i].length;
	if (offset > total || len > total - offset)
		return -EINVAL;
	end = offset + len;

	/* Find the entry holding @offset. */
	ent_start = 0;
	for (i = 0; i < table->nents; i++) {
		if (offset < ent_start + table->ents[i].length)
			break;
		ent_start += table->ents[i].length;
	}
	first = i;
	if (end <= ent_start + table->ents[first].length)
		return map_piece(addr_hint, len, prot, flags,
				 table->ents[first].fd,
				 table->ents[first].offset + offset - ent_start,
				 out);

	/* Several pieces: reserve the range, then map each piece over it. */
	rflags = MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE |
		 (flags & (MAP_FIXED | MAP_FIXED_NOREPLACE));
	ret = map_piece(addr_hint, len, PROT_NONE, rflags, -1, 0, &base);
	if (ret)
		return ret;
	pflags = (flags & ~(MAP_FIXED_NOREPLACE)) | MAP_FIXED;
	pos = offset;
	for (i = first; pos < end; i++) {
		const struct dmabuf_sg_entry *e = &table->ents[i];
		uint64_t in = pos - ent_start;
		uint64_t n = e->length - in;
		void *p;

		if (n > end - pos)
			n = end - pos;
		/* MAP_FIXED pieces must start on page boundaries. */
		if (((pos - offset) % psz) || ((e->offset + in) % psz)) {
			munmap(base, len);
			return -EINVAL;
		}
		if (n) {
			ret = map_piece((char *)base + (pos - offset), n, prot,
					pflags, e->fd, e->offset + in, &p);
			if (ret) {
				munmap(base, len);
				return ret;
			}
		}
		pos += n;
		ent_start += e->length;
	}
	*out = base;
	return 0;
}
