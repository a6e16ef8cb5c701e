// SPDX-License-Identifier: MIT
/*
 * swdev.c - the software device (include/dmabuf/swdev.h): a sw_sync timeline, a worker thread
 * and a queue of jobs that run on dma-bufs as a device sees them.
 *
 * Submission does the driver's part under the device's submit lock, so that the buffers see
 * the job fences in point order: it takes the buffers' implicit fences (EXPORT_SYNC_FILE),
 * maps the device views, checks and duplicates the input fences, makes the job's fence (the
 * next point of the timeline), adds it to the buffers (IMPORT_SYNC_FILE) and queues the job.
 * The worker takes the jobs in order, waits for their fences, runs the function, unmaps and
 * advances the timeline by one: job N's fence is point N.
 *
 * Device views are mapped with the raw system call, not mmap(): they are no CPU mapping of the
 * library's (no CPU view, no record in the mapping table, nothing for the coherency checker
 * or the preload library to act on).
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <dmabuf/fd.h>
#include <dmabuf/swdev.h>

#include "backend.h"
#include "trace.h"
#include "../core/internal.h"

#define MAX_BUFS	DMABUF_SWDEV_MAX_BUFS
#define MAX_WAITS	(DMABUF_SWDEV_MAX_BUFS + DMABUF_SWDEV_MAX_FENCES)

/*
 * struct job - a submitted job.
 * @bufs: the buffers as the function gets them: @fd is the queue's own descriptor.
 * @maplen: the length of each device view's mapping.
 * @waits: the sync_files to wait for: the buffers' implicit fences, then the input fences.
 * @skip: only signal: the job's fence could not be added to every buffer.
 * @attached: tracing: attach events were recorded for the buffers (detach them when done).
 * @att: on the broker, the device's attachment to each buffer (0: none), detached when done.
 * @sf: tracing: the inode of the job fence's sync_file.
 */
struct job {
	struct job *next;
	uint32_t seqno;
	bool skip;
	bool attached;
	uint64_t sf;
	struct dmabuf_swdev_buf bufs[MAX_BUFS];
	size_t maplen[MAX_BUFS];
	uint64_t att[MAX_BUFS];
	unsigned int nbufs;
	int waits[MAX_WAITS];
	unsigned int nwaits;
	dmabuf_swdev_fn fn;
	void *arg;
};

/*
 * struct dmabuf_swdev - a device.
 * @submit_lock: one submission at a time (@seqno, the order of the fences on the buffers).
 * @lock: the queue, the counts, @stop and @started.
 * @work: signaled when a job is queued or @stop is set.
 * @idle: signaled when a job is done, and when the worker has started.
 */
struct dmabuf_swdev {
	char name[32];
	int tl;
	uint32_t seqno;
	pthread_mutex_t submit_lock;
	pthread_mutex_t lock;
	pthread_cond_t work;
	pthread_cond_t idle;
	struct job *head;
	struct job **tail;
	uint64_t queued;
	uint64_t done;
	bool stop;
	bool started;
	pthread_t worker;
};

/* ---- device views ---- */

/* Map [0, @len) of @fd (the kernel backend: the dma-buf itself): 0 or -errno. */
static int map_fd(int fd, size_t len, int prot, void **map)
{
	void *p = dmabuf_sys_mmap(NULL, len, prot, MAP_SHARED, fd, 0);

	if (p == MAP_FAILED)
		return -errno;
	*map = p;
	return 0;
}

/*
 * Map buffer @fd as a device with @access sees it: its whole size, read-only for a reading
 * job.  The descriptor's access mode must allow the mapping, as for mmap(2).
 */
static int view_map(int fd, unsigned int access, struct dmabuf_swdev_buf *b, size_t *maplen)
{
	int prot = PROT_READ, acc = fcntl(fd, F_GETFL);
	uint64_t page = dmabuf_page_size();
	struct stat st;
	size_t len;
	int ret;

	if (acc < 0 || fstat(fd, &st))
		return -errno;
	acc &= O_ACCMODE;
	if (access & DMABUF_SWDEV_WRITE)
		prot |= PROT_WRITE;
	if (acc == O_WRONLY || ((prot & PROT_WRITE) && acc != O_RDWR))
		return -EACCES;
	if (st.st_size <= 0)
		return -EINVAL;
	len = ((uint64_t)st.st_size + page - 1) & ~(page - 1);
	if (dmabuf_fd_backend() == &dmabuf_fd_broker_ops)
		ret = broker_buf_map_memory(fd, len, prot, &b->map);
	else
		ret = map_fd(fd, len, prot, &b->map);
	if (ret)
		return ret;
	b->size = (uint64_t)st.st_size;
	*maplen = len;
	return 0;
}

/* ---- jobs ---- */

static void job_free(const struct dmabuf_swdev *dev, struct job *j)
{
	unsigned int i;

	for (i = 0; i < j->nbufs; i++) {
		if (j->attached)
			dmabuf_trace_attach("detach", dmabuf_trace_ino(j->bufs[i].fd), dev->name);
		if (j->att[i])
			broker_buf_detach(j->att[i]);
		if (j->bufs[i].map)
			dmabuf_sys_munmap(j->bufs[i].map, j->maplen[i]);
		if (j->bufs[i].fd >= 0)
			close(j->bufs[i].fd);
	}
	for (i = 0; i < j->nwaits; i++)
		if (j->waits[i] >= 0)
			close(j->waits[i]);
	dmabuf_free(j);
}

/* What needs no descriptor: -EINVAL or 0. */
static int job_check(const struct dmabuf_swdev *dev, const struct dmabuf_swdev_job *job)
{
	unsigned int i, a;

	if (!dev || !job || !job->fn || job->nbufs > MAX_BUFS ||
	    job->nin > DMABUF_SWDEV_MAX_FENCES || (job->nbufs && !job->bufs) ||
	    (job->nin && !job->in_fences))
		return -EINVAL;
	for (i = 0; i < job->nbufs; i++) {
		a = job->bufs[i].access;
		if (a != DMABUF_SWDEV_READ && a != DMABUF_SWDEV_WRITE && a != DMABUF_SWDEV_RW)
			return -EINVAL;
	}
	return 0;
}

/* A descriptor of the queue's own, close-on-exec: it, or -EBADF (not open), -EMFILE. */
static int dup_own(int fd)
{
	int d = fd < 0 ? -1 : fcntl(fd, F_DUPFD_CLOEXEC, 0);

	return d >= 0 ? d : fd < 0 ? -EBADF : -errno;
}

/*
 * The buffers: the queue's descriptor, the implicit fences the access waits for (a reader
 * waits for the writers, a writer for everybody), the device view, and on the broker the
 * device's attachment (the kernel's drivers attach what a job uses).  Before the job's own
 * fence exists, so the job never waits for itself.
 */
static int job_take_bufs(const struct dmabuf_swdev *dev, struct job *j,
			 const struct dmabuf_swdev_job *job)
{
	struct dmabuf_swdev_buf *b;
	unsigned int i;
	int ret;

	for (i = 0; i < job->nbufs; i++) {
		b = &j->bufs[j->nbufs++];
		b->access = job->bufs[i].access;
		b->fd = dup_own(job->bufs[i].fd);
		if (b->fd < 0)
			return b->fd;
		ret = dmabuf_fd_buf_export_sync_file(b->fd, b->access == DMABUF_SWDEV_READ ?
						     DMABUF_FD_SYNC_READ : DMABUF_FD_SYNC_WRITE);
		if (ret < 0)
			return ret;
		j->waits[j->nwaits++] = ret;
		ret = view_map(b->fd, b->access, b, &j->maplen[i]);
		if (ret)
			return ret;
		if (dmabuf_fd_backend() == &dmabuf_fd_broker_ops) {
			ret = broker_buf_attach(b->fd, dev->name, &j->att[i]);
			if (ret)
				return ret;
		}
	}
	return 0;
}

/* The input fences: sync_files (SYNC_IOC_FILE_INFO says so), kept as descriptors of ours. */
static int job_take_fences(struct job *j, const struct dmabuf_swdev_job *job)
{
	struct dmabuf_fd_sync_file_info info;
	unsigned int i;
	int fd, ret;

	for (i = 0; i < job->nin; i++) {
		fd = job->in_fences[i];
		memset(&info, 0, sizeof(info));
		ret = dmabuf_fd_sync_file_info(fd, &info);
		if (ret)
			return ret;
		ret = dup_own(fd);
		if (ret < 0)
			return ret;
		j->waits[j->nwaits++] = ret;
	}
	return 0;
}

/*
 * Add the job's fence to every buffer: a write fence for a writing job, a read fence
 * otherwise.  Returns 0, or the error and in *@added whether some buffer got it already.
 */
static int job_add_fence(struct job *j, int fence, bool *added)
{
	unsigned int i;
	int ret;

	*added = false;
	for (i = 0; i < j->nbufs; i++) {
		ret = dmabuf_fd_buf_import_sync_file(j->bufs[i].fd,
						     j->bufs[i].access == DMABUF_SWDEV_READ ?
						     DMABUF_FD_SYNC_READ : DMABUF_FD_SYNC_WRITE,
						     fence);
		if (ret)
			return ret;
		*added = true;
	}
	return 0;
}

/* Run @j on the worker: wait, work, release what it held, signal. */
static void job_run(struct dmabuf_swdev *dev, struct job *j)
{
	struct dmabuf_swdev_buf bufs[MAX_BUFS];
	unsigned int i;

	for (i = 0; i < j->nwaits; i++) {
		/* a failed fence counts as signaled; a lost broker leaves nothing to wait for */
		dmabuf_fd_sync_wait(j->waits[i], -1);
		close(j->waits[i]);
		j->waits[i] = -1;
	}
	if (j->attached)
		dmabuf_trace_job("job_begin", dev->name, j->seqno, j->sf);
	if (!j->skip) {
		memcpy(bufs, j->bufs, j->nbufs * sizeof(bufs[0]));
		j->fn(j->arg, bufs, j->nbufs);
	}
	if (j->attached)
		dmabuf_trace_job("job_end", dev->name, j->seqno, j->sf);
	job_free(dev, j);
	dmabuf_fd_sw_timeline_inc(dev->tl, 1);
}

/* ---- the worker ---- */

static struct job *queue_pop(struct dmabuf_swdev *dev)
{
	struct job *j;

	pthread_mutex_lock(&dev->lock);
	while (!dev->head && !dev->stop)
		pthread_cond_wait(&dev->work, &dev->lock);
	j = dev->head;
	if (j) {
		dev->head = j->next;
		if (!dev->head)
			dev->tail = &dev->head;
	}
	pthread_mutex_unlock(&dev->lock);
	return j;
}

/*
 * The worker names itself after the device and opens the timeline: the driver names a
 * timeline after the thread that opens it, so the job fences show the device's name.
 */
static void *worker_main(void *arg)
{
	struct dmabuf_swdev *dev = arg;
	char comm[16];
	struct job *j;
	int tl;

	/* a thread's name has 15 characters at most */
	memcpy(comm, dev->name, sizeof(comm) - 1);
	comm[sizeof(comm) - 1] = '\0';
	pthread_setname_np(pthread_self(), comm);
	tl = dmabuf_fd_sw_timeline_create(O_CLOEXEC);
	pthread_mutex_lock(&dev->lock);
	dev->tl = tl;
	dev->started = true;
	pthread_cond_broadcast(&dev->idle);
	pthread_mutex_unlock(&dev->lock);
	if (tl < 0)
		return NULL;
	while ((j = queue_pop(dev))) {
		job_run(dev, j);
		pthread_mutex_lock(&dev->lock);
		dev->done++;
		pthread_cond_broadcast(&dev->idle);
		pthread_mutex_unlock(&dev->lock);
	}
	return NULL;
}

/* Start the worker with every asynchronous signal blocked: they are the program's threads'. */
static int worker_start(struct dmabuf_swdev *dev)
{
	static const int sync_signals[] = { SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGTRAP, SIGSYS };
	sigset_t all, old;
	unsigned int i;
	int ret;

	sigfillset(&all);
	for (i = 0; i < DMABUF_ARRAY_SIZE(sync_signals); i++)
		sigdelset(&all, sync_signals[i]);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	ret = -pthread_create(&dev->worker, NULL, worker_main, dev);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (ret)
		return ret;
	pthread_mutex_lock(&dev->lock);
	while (!dev->started)
		pthread_cond_wait(&dev->idle, &dev->lock);
	pthread_mutex_unlock(&dev->lock);
	if (dev->tl < 0) {
		pthread_join(dev->worker, NULL);
		return dev->tl;
	}
	return 0;
}

/* ---- the API ---- */

/* Tracing: the device attaches to the job's buffers, and the job is submitted. */
static void trace_submit(const struct dmabuf_swdev *dev, struct job *j, int fence)
{
	unsigned int i;

	for (i = 0; i < j->nbufs; i++)
		dmabuf_trace_attach("attach", dmabuf_trace_ino(j->bufs[i].fd), dev->name);
	j->sf = dmabuf_trace_ino(fence);
	j->attached = true;
	dmabuf_trace_job("job_submit", dev->name, j->seqno, j->sf);
}

static void dev_free(struct dmabuf_swdev *dev)
{
	pthread_cond_destroy(&dev->idle);
	pthread_cond_destroy(&dev->work);
	pthread_mutex_destroy(&dev->lock);
	pthread_mutex_destroy(&dev->submit_lock);
	dmabuf_free(dev);
}

int dmabuf_swdev_create(const char *name, struct dmabuf_swdev **out)
{
	struct dmabuf_swdev *dev;
	int ret;

	if (!name || !out || strlen(name) >= sizeof(dev->name))
		return -EINVAL;
	dev = dmabuf_calloc(1, sizeof(*dev));
	if (!dev)
		return -ENOMEM;
	strcpy(dev->name, name);
	dev->tl = -1;
	dev->tail = &dev->head;
	pthread_mutex_init(&dev->submit_lock, NULL);
	pthread_mutex_init(&dev->lock, NULL);
	pthread_cond_init(&dev->work, NULL);
	pthread_cond_init(&dev->idle, NULL);
	ret = worker_start(dev);
	if (ret) {
		dev_free(dev);
		return ret;
	}
	*out = dev;
	return 0;
}

int dmabuf_swdev_submit(struct dmabuf_swdev *dev, const struct dmabuf_swdev_job *job)
{
	bool added = false;
	struct job *j;
	int fence, ret;

	ret = job_check(dev, job);
	if (ret)
		return ret;
	j = dmabuf_calloc(1, sizeof(*j));
	if (!j)
		return -ENOMEM;
	j->fn = job->fn;
	j->arg = job->arg;
	pthread_mutex_lock(&dev->submit_lock);
	ret = job_take_bufs(dev, j, job);
	if (!ret)
		ret = job_take_fences(j, job);
	if (ret)
		goto fail;
	fence = dmabuf_fd_sw_fence_create(dev->tl, dev->seqno + 1, dev->name);
	if (fence < 0) {
		ret = fence;
		goto fail;
	}
	ret = job_add_fence(j, fence, &added);
	if (ret && !added) {
		close(fence);
		goto fail;
	}
	/* some buffers have the fence: it must signal in turn, the job only does not run */
	j->skip = ret != 0;
	j->seqno = ++dev->seqno;
	if (dmabuf_trace_on())
		trace_submit(dev, j, fence);
	pthread_mutex_lock(&dev->lock);
	*dev->tail = j;
	dev->tail = &j->next;
	dev->queued++;
	pthread_cond_signal(&dev->work);
	pthread_mutex_unlock(&dev->lock);
	pthread_mutex_unlock(&dev->submit_lock);
	if (ret) {
		close(fence);
		return ret;
	}
	return fence;
fail:
	pthread_mutex_unlock(&dev->submit_lock);
	job_free(dev, j);
	return ret;
}

void dmabuf_swdev_wait_idle(struct dmabuf_swdev *dev)
{
	if (!dev)
		return;
	pthread_mutex_lock(&dev->lock);
	while (dev->done != dev->queued)
		pthread_cond_wait(&dev->idle, &dev->lock);
	pthread_mutex_unlock(&dev->lock);
}

void dmabuf_swdev_destroy(struct dmabuf_swdev *dev)
{
	if (!dev)
		return;
	pthread_mutex_lock(&dev->lock);
	dev->stop = true;
	pthread_cond_signal(&dev->work);
	pthread_mutex_unlock(&dev->lock);
	pthread_join(dev->worker, NULL);
	close(dev->tl);
	dev_free(dev);
}
