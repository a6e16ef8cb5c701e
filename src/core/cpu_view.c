// SPDX-License-Identifier: MIT
/*
 * cpu_view.c - the CPU view of an incoherent buffer: fetch on the first READ begin,
 * write-back of the changed bytes on the last WRITE end (see cpu_view.h).
 */
#include <errno.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "cpu_view.h"
#include "internal.h"

static void *map_fd(int fd, uint64_t len, uint64_t offset)
{
	void *p = dmabuf_sys_mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, offset);

	return p == MAP_FAILED ? NULL : p;
}

/* A memfd of 2 * @size bytes mapped as @cpu and @clean; 0 or a negative errno. */
static int view_memory(uint64_t size, int *fd, uint8_t **cpu, uint8_t **clean)
{
	int ret;

	if (size > UINT64_MAX / 2 || dmabuf_len_too_large(2 * size))
		return -ENOMEM;
	*fd = memfd_create("libdmabuf-cpu-view", MFD_CLOEXEC);
	if (*fd < 0)
		return -errno;
	if (ftruncate(*fd, (off_t)(2 * size))) {
		ret = -errno;
		goto err_close;
	}
	*cpu = map_fd(*fd, 2 * size, 0);
	if (!*cpu) {
		ret = -errno;
		goto err_close;
	}
	*clean = *cpu + size;
	return 0;

err_close:
	close(*fd);
	return ret;
}

int dmabuf_cpu_view_init(struct dmabuf_cpu_view *v, int dev_fd, uint64_t size)
{
	int ret;

	if (!size)
		return -EINVAL;
	v->size = size;
	v->count = 0;
	v->dev = map_fd(dev_fd, size, 0);
	if (!v->dev)
		return -errno;
	ret = view_memory(size, &v->fd, &v->cpu, &v->clean);
	if (ret) {
		dmabuf_sys_munmap(v->dev, size);
		return ret;
	}
	/* a cold cache: the first reads see the memory as it is */
	memcpy(v->cpu, v->dev, size);
	memcpy(v->clean, v->dev, size);
	return 0;
}

void dmabuf_cpu_view_fini(struct dmabuf_cpu_view *v)
{
	dmabuf_sys_munmap(v->cpu, 2 * v->size);
	dmabuf_sys_munmap(v->dev, v->size);
	close(v->fd);
	v->fd = -1;
}

/* Invalidate: the device's data replaces the copy, dropping what the CPU changed. */
static void fetch(struct dmabuf_cpu_view *v)
{
	memcpy(v->cpu, v->dev, v->size);
	memcpy(v->clean, v->dev, v->size);
}

/* Clean: the bytes that differ from the clean copy go to the device. */
static void write_back(struct dmabuf_cpu_view *v)
{
	uint64_t i, c, k;

	for (i = 0; i + sizeof(c) <= v->size; i += sizeof(c)) {
		memcpy(&c, v->cpu + i, sizeof(c));
		memcpy(&k, v->clean + i, sizeof(k));
		if (c == k)
			continue;
		for (uint64_t j = i; j < i + sizeof(c); j++)
			if (v->cpu[j] != v->clean[j])
				v->dev[j] = v->cpu[j];
	}
	for (; i < v->size; i++)
		if (v->cpu[i] != v->clean[i])
			v->dev[i] = v->cpu[i];
	memcpy(v->clean, v->cpu, v->size);
}

void dmabuf_cpu_view_begin(struct dmabuf_cpu_view *v, bool read)
{
	if (!v->count && read)
		fetch(v);
	v->count++;
}

void dmabuf_cpu_view_end(struct dmabuf_cpu_view *v, bool write)
{
	if (!v->count)
		return;
	if (--v->count == 0 && write)
		write_back(v);
}

int dmabuf_cpu_view_mmap(struct dmabuf_cpu_view *v, void *addr, size_t len, int prot,
			 int flags, uint64_t offset, void **out)
{
	void *p = dmabuf_sys_mmap(addr, len, prot, flags, v->fd, offset);

	if (p == MAP_FAILED)
		return -errno;
	*out = p;
	return 0;
}

int dmabuf_cpu_view_copy_make(const struct dmabuf_cpu_view *v, struct dmabuf_cpu_view_copy *c)
{
	uint8_t *clean;
	int ret;

	ret = view_memory(v->size, &c->fd, &c->cpu, &clean);
	if (ret)
		return ret;
	memcpy(c->cpu, v->cpu, 2 * v->size);
	return 0;
}

void dmabuf_cpu_view_copy_drop(const struct dmabuf_cpu_view *v, struct dmabuf_cpu_view_copy *c)
{
	dmabuf_sys_munmap(c->cpu, 2 * v->size);
	close(c->fd);
}

void dmabuf_cpu_view_copy_adopt(struct dmabuf_cpu_view *v, struct dmabuf_cpu_view_copy *c)
{
	dmabuf_sys_munmap(v->cpu, 2 * v->size);
	close(v->fd);
	v->fd = c->fd;
	v->cpu = c->cpu;
	v->clean = c->cpu + v->size;
	/* the parent's open accesses are the parent's */
	v->count = 0;
}

int dmabuf_cpu_view_remap(struct dmabuf_cpu_view *v, void *addr, size_t len, int prot,
			  uint64_t offset)
{
	void *p = dmabuf_sys_mmap(addr, len, prot, MAP_SHARED | MAP_FIXED, v->fd, offset);

	return p == MAP_FAILED ? -errno : 0;
}
