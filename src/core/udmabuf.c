// SPDX-License-Identifier: MIT
/*
 * udmabuf.c - buffers aliasing ranges of memfds (the kernel's udmabuf).
 *
 * The kernel pins the memfd's pages; here the buffer keeps a duplicate of
 * each memfd and maps the ranges again wherever the buffer is mapped, which
 * gives the same aliasing.  F_SEAL_SHRINK keeps the ranges valid.
 */
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <dmabuf/udmabuf.h>

#include "internal.h"

struct udmabuf {
	struct dmabuf_sg_table table;	/* the ranges; fds point into @fds */
	int *fds;			/* our duplicates, each once */
	unsigned int nfds;
	uint64_t size;
	atomic_bool cpu_prepared;	/* begin_cpu_access ran once */
};

static struct udmabuf *to_ubuf(struct dmabuf_buf *buf)
{
	return dmabuf_buf_priv(buf);
}

static int udmabuf_map(struct dmabuf_attachment *att,
		       enum dmabuf_data_direction dir,
		       struct dmabuf_sg_table **out)
{
	struct udmabuf *ubuf = to_ubuf(dmabuf_attachment_buf(att));
	struct dmabuf_sg_table *table;
	unsigned int i;
	int ret;

	ret = dmabuf_sg_table_alloc(ubuf->table.nents, &table);
	if (ret)
		return ret;
	for (i = 0; i < table->nents; i++)
		table->ents[i] = ubuf->table.ents[i];
	*out = table;
	return 0;
}

static void udmabuf_unmap(struct dmabuf_attachment *att,
			  struct dmabuf_sg_table *table,
			  enum dmabuf_data_direction dir)
{
	dmabuf_sg_table_free(table);
}

static int udmabuf_begin_cpu_access(struct dmabuf_buf *buf,
				    enum dmabuf_data_direction dir)
{
	/* The kernel builds its CPU-sync table here, the first time. */
	atomic_store(&to_ubuf(buf)->cpu_prepared, true);
	return 0;
}

static int udmabuf_end_cpu_access(struct dmabuf_buf *buf,
				  enum dmabuf_data_direction dir)
{
	/* Nothing to sync back before the first begin: the kernel refuses. */
	if (!atomic_load(&to_ubuf(buf)->cpu_prepared))
		return -EINVAL;
	return 0;
}

static int udmabuf_mmap(struct dmabuf_buf *buf, void *addr_hint, size_t len,
			int prot, int flags, uint64_t pgoff, void **out)
{
	int type = flags & MAP_TYPE;

	if (type != MAP_SHARED && type != MAP_SHARED_VALIDATE)
		return -EINVAL;
	return dmabuf_sg_table_mmap(&to_ubuf(buf)->table, pgoff * dmabuf_page_size(),
				    len, prot, flags, addr_hint, out);
}

static int udmabuf_vmap(struct dmabuf_buf *buf, void **vaddr)
{
	struct udmabuf *ubuf = to_ubuf(buf);

	return dmabuf_sg_table_mmap(&ubuf->table, 0, ubuf->size,
				    PROT_READ | PROT_WRITE, MAP_SHARED, NULL,
				    vaddr);
}

static void udmabuf_vunmap(struct dmabuf_buf *buf, void *vaddr)
{
	munmap(vaddr, to_ubuf(buf)->size);
}

static int udmabuf_memfd(struct dmabuf_buf *buf)
{
	struct udmabuf *ubuf = to_ubuf(buf);

	if (ubuf->table.nents != 1 || ubuf->table.ents[0].offset)
		return -1;
	return ubuf->table.ents[0].fd;
}

static void udmabuf_free(struct udmabuf *ubuf)
{
	unsigned int i;

	for (i = 0; i < ubuf->nfds; i++)
		close(ubuf->fds[i]);
	dmabuf_free(ubuf->fds);
	dmabuf_free(ubuf->table.ents);
	dmabuf_free(ubuf);
}

static void udmabuf_release(struct dmabuf_buf *buf)
{
	udmabuf_free(to_ubuf(buf));
}

static const struct dmabuf_buf_ops udmabuf_ops = {
	.cache_sgt_mapping = true,
	.map_attachment = udmabuf_map,
	.unmap_attachment = udmabuf_unmap,
	.begin_cpu_access = udmabuf_begin_cpu_access,
	.end_cpu_access = udmabuf_end_cpu_access,
	.mmap = udmabuf_mmap,
	.vmap = udmabuf_vmap,
	.vunmap = udmabuf_vunmap,
	.memfd = udmabuf_memfd,
	.release = udmabuf_release,
};

/*
 * What the kernel asks of a memfd.  F_GET_SEALS answers for every tmpfs
 * and hugetlbfs file (plain tmpfs files report F_SEAL_SEAL only) and fails
 * with EINVAL for other files and EBADF for closed fds.
 */
static int check_memfd_seals(int fd)
{
	int seals = fcntl(fd, F_GET_SEALS);

	if (seals < 0)
		return (errno == EBADF || errno == EINVAL) ? -EBADFD : -errno;
	if (!(seals & F_SEAL_SHRINK))
		return -EINVAL;
	if (seals & (F_SEAL_WRITE | F_SEAL_FUTURE_WRITE))
		return -EINVAL;
	return 0;
}

static int check_range(int fd, uint64_t offset, uint64_t size)
{
	struct stat st;

	if (!size)
		return -EINVAL;
	if (fstat(fd, &st))
		return -errno;
	if (offset > (uint64_t)st.st_size ||
	    size > (uint64_t)st.st_size - offset)
		return -EINVAL;
	return 0;
}

/* Our duplicate of @fd: shared by the items naming the same fd. */
static int dup_memfd(struct udmabuf *ubuf, const struct dmabuf_udmabuf_item *items,
		     uint32_t idx)
{
	uint32_t j;
	int fd;

	for (j = 0; j < idx; j++)
		if (items[j].memfd == items[idx].memfd)
			return ubuf->table.ents[j].fd;
	fd = fcntl((int)items[idx].memfd, F_DUPFD_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	ubuf->fds[ubuf->nfds++] = fd;
	return fd;
}

static int add_items(struct udmabuf *ubuf, uint32_t count,
		     const struct dmabuf_udmabuf_item *items)
{
	uint32_t i;
	int ret, fd;

	for (i = 0; i < count; i++) {
		fd = (int)items[i].memfd;
		ret = check_memfd_seals(fd);
		if (!ret)
			ret = check_range(fd, items[i].offset, items[i].size);
		if (ret)
			return ret;
		fd = dup_memfd(ubuf, items, i);
		if (fd < 0)
			return fd;
		ubuf->table.ents[i].fd = fd;
		ubuf->table.ents[i].offset = items[i].offset;
		ubuf->table.ents[i].length = items[i].size;
	}
	return 0;
}

int dmabuf_udmabuf_create_list(uint32_t flags, uint32_t count,
			       const struct dmabuf_udmabuf_item *items,
			       struct dmabuf_buf **out)
{
	struct dmabuf_export_info info = {
		.exp_name = "udmabuf",
		.ops = &udmabuf_ops,
		.map_info = DMABUF_MAP_COHERENT_CACHED,
	};
	uint64_t psz = dmabuf_page_size(), pages = 0, limit;
	struct udmabuf *ubuf;
	uint32_t i;
	int ret;

	if (!out)
		return -EINVAL;
	if (count > DMABUF_UDMABUF_LIST_LIMIT)
		return -EINVAL;
	if (count && !items)
		return -EFAULT;

	limit = ((uint64_t)DMABUF_UDMABUF_SIZE_LIMIT_MB << 20) / psz;
	for (i = 0; i < count; i++) {
		if ((items[i].offset % psz) || (items[i].size % psz))
			return -EINVAL;
		pages += items[i].size / psz;
		if (pages > limit)
			return -EINVAL;
	}
	if (!pages)
		return -EINVAL;

	ubuf = dmabuf_calloc(1, sizeof(*ubuf));
	if (!ubuf)
		return -ENOMEM;
	ubuf->table.ents = dmabuf_calloc(count, sizeof(*ubuf->table.ents));
	ubuf->fds = dmabuf_calloc(count, sizeof(*ubuf->fds));
	if (!ubuf->table.ents || !ubuf->fds) {
		ret = -ENOMEM;
		goto err;
	}
	ubuf->table.nents = count;
	ubuf->size = pages * psz;
	atomic_init(&ubuf->cpu_prepared, false);

	ret = add_items(ubuf, count, items);
	if (ret)
		goto err;

	info.size = ubuf->size;
	info.flags = O_RDWR;
	if (flags & DMABUF_UDMABUF_FLAGS_CLOEXEC)
		info.flags |= O_CLOEXEC;
	info.priv = ubuf;
	ret = dmabuf_buf_export(&info, out);
	if (ret)
		goto err;
	return 0;

err:
	udmabuf_free(ubuf);
	return ret;
}

int dmabuf_udmabuf_create(int memfd, uint32_t flags, uint64_t offset,
			  uint64_t size, struct dmabuf_buf **out)
{
	struct dmabuf_udmabuf_item item = {
		.memfd = (uint32_t)memfd,
		.offset = offset,
		.size = size,
	};

	return dmabuf_udmabuf_create_list(flags, 1, &item, out);
}
