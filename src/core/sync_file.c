// SPDX-License-Identifier: MIT
/*
 * sync_file.c - sync_file objects: a name plus one fence, and their uAPI rules.
 *
 * A sync_file never changes after creation (its fence and name are fixed),
 * so it needs no lock; only its reference count is atomic.
 */
#include <stdio.h>
#include <string.h>

#include <dmabuf/fence_unwrap.h>
#include <dmabuf/sync_file.h>

#include "internal.h"

struct dmabuf_sync_file {
	atomic_int refcount;
	struct dmabuf_fence *fence;
	char user_name[DMABUF_SYNC_NAME_LEN];
};

/* Copy at most @size - 1 characters of @src and a NUL (like strscpy). */
static void copy_name(char *dst, const char *src, size_t size)
{
	size_t len = strnlen(src, size - 1);

	memcpy(dst, src, len);
	dst[len] = '\0';
}

int dmabuf_sync_file_create(struct dmabuf_fence *fence,
			    struct dmabuf_sync_file **out)
{
	struct dmabuf_sync_file *sf;

	if (!fence || !out)
		return -EINVAL;
	sf = dmabuf_calloc(1, sizeof(*sf));
	if (!sf)
		return -ENOMEM;
	atomic_init(&sf->refcount, 1);
	sf->fence = dmabuf_fence_get(fence);
	*out = sf;
	return 0;
}

struct dmabuf_sync_file *dmabuf_sync_file_get(struct dmabuf_sync_file *sf)
{
	if (sf)
		atomic_fetch_add_explicit(&sf->refcount, 1, memory_order_relaxed);
	return sf;
}

void dmabuf_sync_file_put(struct dmabuf_sync_file *sf)
{
	if (!sf)
		return;
	if (atomic_fetch_sub_explicit(&sf->refcount, 1,
				      memory_order_acq_rel) != 1)
		return;
	dmabuf_fence_put(sf->fence);
	dmabuf_free(sf);
}

struct dmabuf_fence *dmabuf_sync_file_get_fence(struct dmabuf_sync_file *sf)
{
	return sf ? dmabuf_fence_get(sf->fence) : NULL;
}

void dmabuf_sync_file_get_name(struct dmabuf_sync_file *sf, char *buf,
			       size_t len)
{
	struct dmabuf_fence *fence;

	if (!buf || !len)
		return;
	if (!sf) {
		buf[0] = '\0';
		return;
	}
	if (sf->user_name[0]) {
		copy_name(buf, sf->user_name, len);
		return;
	}
	fence = sf->fence;
	snprintf(buf, len, "%s-%s%llu-%lld", dmabuf_fence_driver_name(fence),
		 dmabuf_fence_timeline_name(fence),
		 (unsigned long long)fence->context, (long long)fence->seqno);
}

int dmabuf_sync_file_merge_check(uint32_t flags, uint32_t pad)
{
	return flags || pad ? -EINVAL : 0;
}

int dmabuf_sync_file_merge(const char *name, struct dmabuf_sync_file *a,
			   struct dmabuf_sync_file *b,
			   struct dmabuf_sync_file **out)
{
	struct dmabuf_fence *fences[2];
	struct dmabuf_sync_file *sf;
	int ret;

	if (!name || !a || !b || !out)
		return -EINVAL;
	sf = dmabuf_calloc(1, sizeof(*sf));
	if (!sf)
		return -ENOMEM;
	fences[0] = a->fence;
	fences[1] = b->fence;
	ret = dmabuf_fence_merge(2, fences, &sf->fence);
	if (ret) {
		dmabuf_free(sf);
		return ret;
	}
	atomic_init(&sf->refcount, 1);
	copy_name(sf->user_name, name, sizeof(sf->user_name));
	*out = sf;
	return 0;
}

/* Fill one FILE_INFO entry for the leaf @fence; returns its status. */
static int fill_fence_info(struct dmabuf_fence *fence,
			   struct dmabuf_sync_fence_info *info)
{
	memset(info, 0, sizeof(*info));
	copy_name(info->obj_name, dmabuf_fence_timeline_name(fence),
		  sizeof(info->obj_name));
	copy_name(info->driver_name, dmabuf_fence_driver_name(fence),
		  sizeof(info->driver_name));
	info->status = dmabuf_fence_get_status(fence);
	if (dmabuf_fence_is_signaled(fence))
		info->timestamp_ns = (uint64_t)dmabuf_fence_get_timestamp(fence);
	return info->status;
}

int dmabuf_sync_file_get_info(struct dmabuf_sync_file *sf,
			      struct dmabuf_sync_file_info *info,
			      struct dmabuf_sync_fence_info *fences)
{
	struct dmabuf_fence_unwrap cursor;
	struct dmabuf_fence *leaf;
	unsigned int count, n = 0;
	int status;

	if (!sf)
		return -EINVAL;
	if (!info)
		return -EFAULT;
	if (info->flags || info->pad)
		return -EINVAL;

	count = dmabuf_fence_unwrap_count(sf->fence);
	if (!info->num_fences) {
		/* Only the count: the status is the fence's own. */
		status = dmabuf_fence_get_status(sf->fence);
		goto done;
	}
	if (info->num_fences < count)
		return -EINVAL;
	if (count && !fences)
		return -EFAULT;

	/* 1 unless a leaf is pending or failed: then the first such one's. */
	status = 1;
	dmabuf_fence_unwrap_for_each(leaf, &cursor, sf->fence) {
		int s;

		if (n == count) {	/* cannot grow; be safe anyway */
			dmabuf_fence_unwrap_end(&cursor);
			break;
		}
		s = fill_fence_info(leaf, &fences[n++]);
		if (status > 0)
			status = s;
	}
	/* A chain may have dropped signaled links since the count. */
	if (n < count)
		memset(&fences[n], 0, (count - n) * sizeof(*fences));
	count = n;
done:
	dmabuf_sync_file_get_name(sf, info->name, sizeof(info->name));
	info->status = status;
	info->num_fences = count;
	return 0;
}

int dmabuf_sync_file_status(struct dmabuf_sync_file *sf)
{
	if (!sf)
		return -EINVAL;
	return dmabuf_fence_get_status(sf->fence);
}

int dmabuf_sync_file_wait(struct dmabuf_sync_file *sf, int64_t timeout_ns)
{
	if (!sf)
		return -EINVAL;
	return dmabuf_fence_wait_timeout(sf->fence, timeout_ns);
}

bool dmabuf_sync_file_poll(struct dmabuf_sync_file *sf)
{
	if (!sf)
		return false;
	dmabuf_fence_enable_signaling(sf->fence);
	return dmabuf_fence_is_signaled(sf->fence);
}

int dmabuf_sync_file_set_deadline(struct dmabuf_sync_file *sf,
				  int64_t deadline_ns)
{
	struct dmabuf_fence_unwrap cursor;
	struct dmabuf_fence *leaf;

	if (!sf)
		return -EINVAL;
	/* The kernel hands the hint to the fence itself, which ignores it once
	 * signaled; containers pass it on to each of their fences. */
	if (dmabuf_fence_is_signaled(sf->fence))
		return 0;
	dmabuf_fence_unwrap_for_each(leaf, &cursor, sf->fence)
		dmabuf_fence_set_deadline(leaf, deadline_ns);
	return 0;
}
