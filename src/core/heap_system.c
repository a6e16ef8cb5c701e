// SPDX-License-Identifier: MIT
/*
 * heap_system.c - the "system" heap: zero-filled buffers backed by a sealed
 * memfd (the kernel's system heap hands out pages; a memfd is how userspace
 * holds pages that other processes can map).
 *
 * Behaviour as the kernel's: CPU mappings are cached and coherent, the CPU
 * access brackets do nothing visible (an END without START is fine), and a
 * private mapping works only for a single page (the kernel maps the pages
 * one by one, which a copy-on-write mapping allows only when it is one
 * page long).
 */
#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <dmabuf/heap.h>

#include "internal.h"

struct system_buffer {
	int memfd;
	uint64_t len;
};

extern const struct dmabuf_heap dmabuf_system_heap;

static struct system_buffer *to_sb(struct dmabuf_buf *buf)
{
	return dmabuf_buf_priv(buf);
}

static int system_map(struct dmabuf_attachment *att,
		      enum dmabuf_data_direction dir,
		      struct dmabuf_sg_table **out)
{
	struct system_buffer *sb = to_sb(dmabuf_attachment_buf(att));
	struct dmabuf_sg_table *table;
	int ret;

	ret = dmabuf_sg_table_alloc(1, &table);
	if (ret)
		return ret;
	table->ents[0].fd = sb->memfd;
	table->ents[0].offset = 0;
	table->ents[0].length = sb->len;
	*out = table;
	return 0;
}

static void system_unmap(struct dmabuf_attachment *att,
			 struct dmabuf_sg_table *table,
			 enum dmabuf_data_direction dir)
{
	dmabuf_sg_table_free(table);
}

static int system_begin_cpu_access(struct dmabuf_buf *buf,
				   enum dmabuf_data_direction dir)
{
	/* Cache-coherent memory: nothing to flush or invalidate. */
	return 0;
}

static int system_end_cpu_access(struct dmabuf_buf *buf,
				 enum dmabuf_data_direction dir)
{
	return 0;
}

static int system_mmap(struct dmabuf_buf *buf, void *addr_hint, size_t len,
		       int prot, int flags, uint64_t pgoff, void **out)
{
	struct system_buffer *sb = to_sb(buf);
	uint64_t psz = dmabuf_page_size();
	void *p;

	/* Copy-on-write mappings of more than one page are refused. */
	if ((flags & MAP_TYPE) == MAP_PRIVATE && len > psz)
		return -EINVAL;
	p = mmap(addr_hint, len, prot, flags, sb->memfd, (off_t)(pgoff * psz));
	if (p == MAP_FAILED)
		return -errno;
	*out = p;
	return 0;
}

static int system_vmap(struct dmabuf_buf *buf, void **vaddr)
{
	struct system_buffer *sb = to_sb(buf);
	void *p;

	p = mmap(NULL, sb->len, PROT_READ | PROT_WRITE, MAP_SHARED, sb->memfd,
		 0);
	if (p == MAP_FAILED)
		return -errno;
	*vaddr = p;
	return 0;
}

static void system_vunmap(struct dmabuf_buf *buf, void *vaddr)
{
	munmap(vaddr, to_sb(buf)->len);
}

static int system_memfd(struct dmabuf_buf *buf)
{
	return to_sb(buf)->memfd;
}

static void system_release(struct dmabuf_buf *buf)
{
	struct system_buffer *sb = to_sb(buf);

	close(sb->memfd);
	dmabuf_free(sb);
}

static const struct dmabuf_buf_ops system_buf_ops = {
	.map_attachment = system_map,
	.unmap_attachment = system_unmap,
	.begin_cpu_access = system_begin_cpu_access,
	.end_cpu_access = system_end_cpu_access,
	.mmap = system_mmap,
	.vmap = system_vmap,
	.vunmap = system_vunmap,
	.memfd = system_memfd,
	.release = system_release,
};

static int system_allocate(struct dmabuf_heap *heap, uint64_t len,
			   uint32_t fd_flags, uint64_t heap_flags,
			   struct dmabuf_buf **out)
{
	struct dmabuf_export_info info = {
		.exp_name = "system",
		.ops = &system_buf_ops,
		.size = len,
		.flags = (int)fd_flags,
		.map_info = DMABUF_MAP_COHERENT_CACHED,
	};
	struct system_buffer *sb;
	int ret;

	if (dmabuf_len_too_large(len))
		return -ENOMEM;

	sb = dmabuf_calloc(1, sizeof(*sb));
	if (!sb)
		return -ENOMEM;
	sb->len = len;
	sb->memfd = memfd_create("dmabuf-system", MFD_CLOEXEC |
						  MFD_ALLOW_SEALING);
	if (sb->memfd < 0) {
		ret = -errno;
		goto err_free;
	}
	/* A fresh memfd reads as zeros: the buffer is zero-filled. */
	if (ftruncate(sb->memfd, (off_t)len) ||
	    fcntl(sb->memfd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW)) {
		ret = (errno == EFBIG || errno == EINVAL) ? -ENOMEM : -errno;
		goto err_close;
	}

	info.priv = sb;
	ret = dmabuf_buf_export(&info, out);
	if (ret)
		goto err_close;
	return 0;

err_close:
	close(sb->memfd);
err_free:
	dmabuf_free(sb);
	return ret;
}

static const struct dmabuf_heap_ops system_heap_ops = {
	.allocate = system_allocate,
};

const struct dmabuf_heap dmabuf_system_heap = {
	.name = "system",
	.ops = &system_heap_ops,
};
