// SPDX-License-Identifier: MIT
/*
 * heap_system.c - the "system" heap: zero-filled buffers backed by a sealed
 * memfd (the kernel's system heap hands out pages; a memfd is how userspace
 * holds pages that other processes can map), and what the other memfd-backed
 * heaps share with it (struct dmabuf_memfd_buf in internal.h).
 *
 * Behaviour as the kernel's: CPU mappings are cached and coherent, the CPU
 * access brackets do nothing visible (an END without START is fine), and a
 * private mapping works only for a single page (the kernel maps the pages
 * one by one, which a copy-on-write mapping allows only when it is one
 * page long).
 */
#include <fcntl.h>
#include <stdio.h>
#include <sys/mman.h>
#include <unistd.h>

#include <dmabuf/heap.h>

#include "internal.h"

static struct dmabuf_memfd_buf *to_mb(struct dmabuf_buf *buf)
{
	return dmabuf_buf_priv(buf);
}

int dmabuf_memfd_buf_map(struct dmabuf_attachment *att,
			 enum dmabuf_data_direction dir,
			 struct dmabuf_sg_table **out)
{
	struct dmabuf_memfd_buf *mb = to_mb(dmabuf_attachment_buf(att));
	struct dmabuf_sg_table *table;
	int ret;

	ret = dmabuf_sg_table_alloc(1, &table);
	if (ret)
		return ret;
	table->ents[0].fd = mb->memfd;
	table->ents[0].offset = 0;
	table->ents[0].length = mb->len;
	*out = table;
	return 0;
}

void dmabuf_memfd_buf_unmap(struct dmabuf_attachment *att,
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

int dmabuf_memfd_buf_check_mmap(size_t len, int flags)
{
	/* Copy-on-write mappings of more than one page are refused. */
	if ((flags & MAP_TYPE) == MAP_PRIVATE && len > dmabuf_page_size())
		return -EINVAL;
	return 0;
}

static int system_mmap(struct dmabuf_buf *buf, void *addr_hint, size_t len,
		       int prot, int flags, uint64_t pgoff, void **out)
{
	struct dmabuf_memfd_buf *mb = to_mb(buf);
	void *p;
	int ret;

	ret = dmabuf_memfd_buf_check_mmap(len, flags);
	if (ret)
		return ret;
	p = mmap(addr_hint, len, prot, flags, mb->memfd,
		 (off_t)(pgoff * dmabuf_page_size()));
	if (p == MAP_FAILED)
		return -errno;
	*out = p;
	return 0;
}

int dmabuf_memfd_buf_vmap(struct dmabuf_buf *buf, void **vaddr)
{
	struct dmabuf_memfd_buf *mb = to_mb(buf);
	void *p;

	p = mmap(NULL, mb->len, PROT_READ | PROT_WRITE, MAP_SHARED, mb->memfd,
		 0);
	if (p == MAP_FAILED)
		return -errno;
	*vaddr = p;
	return 0;
}

void dmabuf_memfd_buf_vunmap(struct dmabuf_buf *buf, void *vaddr)
{
	munmap(vaddr, to_mb(buf)->len);
}

int dmabuf_memfd_buf_memfd(struct dmabuf_buf *buf)
{
	return to_mb(buf)->memfd;
}

static void system_release(struct dmabuf_buf *buf)
{
	struct dmabuf_memfd_buf *mb = to_mb(buf);

	close(mb->memfd);
	dmabuf_free(mb);
}

static const struct dmabuf_buf_ops system_buf_ops = {
	.map_attachment = dmabuf_memfd_buf_map,
	.unmap_attachment = dmabuf_memfd_buf_unmap,
	.begin_cpu_access = system_begin_cpu_access,
	.end_cpu_access = system_end_cpu_access,
	.mmap = system_mmap,
	.vmap = dmabuf_memfd_buf_vmap,
	.vunmap = dmabuf_memfd_buf_vunmap,
	.memfd = dmabuf_memfd_buf_memfd,
	.release = system_release,
};

/* A zero-filled memfd of @len bytes named after the exporter, sealed against resizing. */
int dmabuf_sealed_memfd(const char *exp_name, uint64_t len, int seals)
{
	char name[64];
	int fd, ret;

	snprintf(name, sizeof(name), "dmabuf-%s", exp_name);
	fd = memfd_create(name, MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (fd < 0)
		return -errno;
	/* A fresh memfd reads as zeros: the buffer is zero-filled. */
	if (ftruncate(fd, (off_t)len) ||
	    fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | seals)) {
		ret = (errno == EFBIG || errno == EINVAL) ? -ENOMEM : -errno;
		close(fd);
		return ret;
	}
	return fd;
}

int dmabuf_memfd_buf_export(struct dmabuf_memfd_buf *mb,
			    struct dmabuf_export_info *info,
			    struct dmabuf_buf **out)
{
	int ret;

	if (dmabuf_len_too_large(info->size))
		return -ENOMEM;
	mb->len = info->size;
	mb->memfd = dmabuf_sealed_memfd(info->exp_name, mb->len, 0);
	if (mb->memfd < 0)
		return mb->memfd;
	ret = dmabuf_buf_export(info, out);
	if (ret) {
		close(mb->memfd);
		mb->memfd = -1;
	}
	return ret;
}

int dmabuf_memfd_heap_alloc(const char *exp_name, enum dmabuf_map_info map_info,
			    uint64_t len, uint32_t fd_flags,
			    struct dmabuf_buf **out)
{
	struct dmabuf_export_info info = {
		.exp_name = exp_name,
		.ops = &system_buf_ops,
		.size = len,
		.flags = (int)fd_flags,
		.map_info = map_info,
	};
	struct dmabuf_memfd_buf *mb;
	int ret;

	mb = dmabuf_calloc(1, sizeof(*mb));
	if (!mb)
		return -ENOMEM;
	info.priv = mb;
	ret = dmabuf_memfd_buf_export(mb, &info, out);
	if (ret)
		dmabuf_free(mb);
	return ret;
}

static int system_allocate(struct dmabuf_heap *heap, uint64_t len,
			   uint32_t fd_flags, uint64_t heap_flags,
			   struct dmabuf_buf **out)
{
	return dmabuf_memfd_heap_alloc("system", DMABUF_MAP_COHERENT_CACHED, len,
				       fd_flags, out);
}

static const struct dmabuf_heap_ops system_heap_ops = {
	.allocate = system_allocate,
};

const struct dmabuf_heap dmabuf_system_heap = {
	.name = "system",
	.ops = &system_heap_ops,
};
