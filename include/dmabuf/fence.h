/* SPDX-License-Identifier: MIT */
/*
 * dmabuf/fence.h - the fence: a one-shot completion event on a timeline.
 *
 * A fence belongs to a timeline (a 64-bit context) and carries a sequence
 * number on it.  It starts pending and is signaled exactly once, optionally
 * with an error set beforehand.  Signaling records a CLOCK_MONOTONIC
 * timestamp and runs every registered callback exactly once.
 *
 * Conventions of the whole library: functions that can fail return 0 or a
 * negative errno value (the kernel's codes); objects come back through an
 * out-pointer and are reference counted (*_get / *_put).  Callbacks run with
 * the fence's lock held: they may signal other fences and drop references to
 * other objects, but must not call back into the same fence (see
 * docs/architecture.md).
 */
#ifndef DMABUF_FENCE_H
#define DMABUF_FENCE_H

#include <dmabuf/api.h>

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include <dmabuf/list.h>

DMABUF_BEGIN_DECLS

/** Timeout value meaning "wait forever". Any negative timeout does. */
#define DMABUF_TIMEOUT_INFINITE (-1LL)

struct dmabuf_fence;
struct dmabuf_fence_cb;

/* Bits of dmabuf_fence.flags. Bits from DMABUF_FENCE_FLAG_USER up are free
 * for the fence's owner (e.g. sw_sync uses one for "has a deadline"). */
enum dmabuf_fence_flag_bits {
	DMABUF_FENCE_FLAG_SIGNALED = 0,
	DMABUF_FENCE_FLAG_TIMESTAMP = 1,
	DMABUF_FENCE_FLAG_ENABLE_SIGNAL = 2,
	DMABUF_FENCE_FLAG_USER = 8,
};

/**
 * struct dmabuf_fence_ops - what the fence's owner (the "driver") provides.
 * @get_driver_name: required; static string naming the driver.
 * @get_timeline_name: required; name of the fence's timeline.
 * @enable_signaling: optional; called once, with the fence lock held, when
 *	somebody first needs to know when the fence signals (a callback or a
 *	waiter).  Return false if the fence has already completed; the core
 *	then signals it.
 * @signaled: optional; poll whether the fence has completed although it was
 *	not signaled yet.  Return true to have the core signal it.  Called
 *	without the lock.
 * @release: optional; frees the fence when its last reference is gone.  If
 *	NULL the core calls free() on the fence pointer.  A fence that uses
 *	its own lock has it destroyed before @release runs: do not take
 *	fence->lock in @release.
 * @set_deadline: optional; hint that the fence should signal by
 *	@deadline_ns (CLOCK_MONOTONIC).  Called without the lock.
 * @use_64bit_seqno: compare seqnos as 64-bit numbers; otherwise as 32-bit
 *	numbers with wrap-around (a point more than 2^31 ahead counts as
 *	passed), like sw_sync.
 */
struct dmabuf_fence_ops {
	const char *(*get_driver_name)(struct dmabuf_fence *fence);
	const char *(*get_timeline_name)(struct dmabuf_fence *fence);
	bool (*enable_signaling)(struct dmabuf_fence *fence);
	bool (*signaled)(struct dmabuf_fence *fence);
	void (*release)(struct dmabuf_fence *fence);
	void (*set_deadline)(struct dmabuf_fence *fence, int64_t deadline_ns);
	bool use_64bit_seqno;
};

/** Callback signature: runs once, with the fence lock held, when @fence signals. */
typedef void (*dmabuf_fence_func_t)(struct dmabuf_fence *fence,
				    struct dmabuf_fence_cb *cb);

/**
 * struct dmabuf_fence_cb - a callback registration, embedded by the caller.
 * @node: link in the fence's callback list (owned by the fence while added).
 * @func: function to run.
 */
struct dmabuf_fence_cb {
	struct dmabuf_list node;
	dmabuf_fence_func_t func;
};

/**
 * struct dmabuf_fence - a fence.  Embed it in the driver's own structure and
 * initialize it with dmabuf_fence_init().  Fields are read-only for users.
 * @ops: the owner's operations.
 * @lock: lock protecting @cb_list and signaling; shared per timeline or
 *	@own_lock.
 * @context: the timeline.
 * @seqno: position on the timeline.
 * @flags: DMABUF_FENCE_FLAG_* bits (atomic).
 * @refcount: references (atomic).
 * @error: 0, or the negative error set by dmabuf_fence_set_error().
 * @timestamp_ns: CLOCK_MONOTONIC time of signaling (valid once the
 *	TIMESTAMP flag is set).
 * @cb_list: pending callbacks.
 * @own_lock: the lock used when dmabuf_fence_init() gets no shared lock.
 */
struct dmabuf_fence {
	const struct dmabuf_fence_ops *ops;
	pthread_mutex_t *lock;
	uint64_t context;
	uint64_t seqno;
	dmabuf_atomic_ulong flags;
	dmabuf_atomic_int refcount;
	int error;
	int64_t timestamp_ns;
	struct dmabuf_list cb_list;
	pthread_mutex_t own_lock;
};

/**
 * dmabuf_fence_context_alloc() - reserve @num consecutive timeline contexts.
 * Returns the first one.  Contexts are never 0 (0 is the stubs') and never
 * reused within a process.  @num 0 reserves one.
 */
DMABUF_API uint64_t dmabuf_fence_context_alloc(unsigned int num);

/**
 * dmabuf_fence_init() - initialize a pending fence with one reference.
 * @fence: storage, usually embedded in the driver's structure.
 * @ops: operations; get_driver_name and get_timeline_name are required.
 * @lock: shared lock (e.g. per timeline), or NULL to use @fence->own_lock.
 * @context: from dmabuf_fence_context_alloc().
 * @seqno: position on the timeline.
 * Returns 0, or -EINVAL if @fence or @ops is unusable.
 */
DMABUF_API int dmabuf_fence_init(struct dmabuf_fence *fence,
				 const struct dmabuf_fence_ops *ops,
				 pthread_mutex_t *lock, uint64_t context,
				 uint64_t seqno);

/** dmabuf_fence_get() - take a reference; returns @fence (NULL passes through). */
DMABUF_API struct dmabuf_fence *dmabuf_fence_get(struct dmabuf_fence *fence);

/**
 * dmabuf_fence_get_unless_zero() - take a reference unless the fence's count
 * already reached zero (its release is under way).  For drivers that keep
 * fences on lists without holding a reference.  Returns true if it took one.
 */
DMABUF_API bool dmabuf_fence_get_unless_zero(struct dmabuf_fence *fence);

/** dmabuf_fence_put() - drop a reference; the last one releases the fence. NULL is a no-op. */
DMABUF_API void dmabuf_fence_put(struct dmabuf_fence *fence);

/**
 * dmabuf_fence_signal() - signal @fence: record the timestamp, run callbacks.
 * Returns 0, or -EINVAL if it was already signaled (nothing happens then).
 */
DMABUF_API int dmabuf_fence_signal(struct dmabuf_fence *fence);

/**
 * dmabuf_fence_signal_locked() - as dmabuf_fence_signal() with @fence->lock
 * already held by the caller (for drivers signaling a whole timeline).
 */
DMABUF_API int dmabuf_fence_signal_locked(struct dmabuf_fence *fence);

/**
 * dmabuf_fence_signal_timestamp() - signal with an explicit CLOCK_MONOTONIC
 * timestamp (e.g. the time the work really finished).  As dmabuf_fence_signal().
 */
DMABUF_API int dmabuf_fence_signal_timestamp(struct dmabuf_fence *fence,
					     int64_t timestamp_ns);

/**
 * dmabuf_fence_set_error() - record a negative error to report at signal
 * time.  Returns 0; -EINVAL if @error is not a negative errno (>= -4095) or
 * the fence is already signaled (the error is then not recorded).
 */
DMABUF_API int dmabuf_fence_set_error(struct dmabuf_fence *fence, int error);

/**
 * dmabuf_fence_is_signaled() - true if @fence has signaled.  Asks the
 * driver's signaled() op and signals the fence if it says so.
 */
DMABUF_API bool dmabuf_fence_is_signaled(struct dmabuf_fence *fence);

/**
 * dmabuf_fence_get_status() - 0 while pending, 1 once signaled without
 * error, the negative error once signaled with one (the sync_file uAPI's
 * fence status); -EINVAL for NULL.
 */
DMABUF_API int dmabuf_fence_get_status(struct dmabuf_fence *fence);

/**
 * dmabuf_fence_get_timestamp() - the signal timestamp in ns
 * (CLOCK_MONOTONIC), or 0 while the fence is pending (and for NULL).
 */
DMABUF_API int64_t dmabuf_fence_get_timestamp(struct dmabuf_fence *fence);

/**
 * dmabuf_fence_enable_signaling() - tell the driver somebody waits for
 * @fence (calls ops->enable_signaling once).
 */
DMABUF_API void dmabuf_fence_enable_signaling(struct dmabuf_fence *fence);

/**
 * dmabuf_fence_add_callback() - run @func once when @fence signals.
 * @cb is caller storage that must stay valid until the callback ran or was
 * removed.  Enables signaling.  Returns 0, -ENOENT if the fence is already
 * signaled (@func is then not called and @cb is left unlinked), -EINVAL on
 * NULL arguments.
 */
DMABUF_API int dmabuf_fence_add_callback(struct dmabuf_fence *fence,
					 struct dmabuf_fence_cb *cb,
					 dmabuf_fence_func_t func);

/**
 * dmabuf_fence_remove_callback() - cancel a callback added earlier.
 * Returns true if it was still pending (it will now never run), false if
 * it already ran or was never added (a @cb that was never passed to
 * dmabuf_fence_add_callback() must be zeroed for that).  After return the
 * callback is not running.
 */
DMABUF_API bool dmabuf_fence_remove_callback(struct dmabuf_fence *fence,
					     struct dmabuf_fence_cb *cb);

/**
 * dmabuf_fence_wait_timeout() - wait until @fence signals.
 * @timeout_ns: relative timeout; 0 only tests; negative waits forever.
 * Returns 0 once signaled (whatever its error), -ETIME on timeout,
 * -EINVAL on NULL.
 */
DMABUF_API int dmabuf_fence_wait_timeout(struct dmabuf_fence *fence,
					 int64_t timeout_ns);

/**
 * dmabuf_fence_wait_any_timeout() - wait until any of @count fences signals.
 * @idx: if not NULL, receives the index of a signaled fence.
 * Returns 0, -ETIME on timeout, -EINVAL if @fences is NULL, @count is 0 or
 * an entry is NULL, -ENOMEM if more than 8 fences need waiting for and the
 * callback table cannot be allocated (nothing changed then).
 */
DMABUF_API int dmabuf_fence_wait_any_timeout(struct dmabuf_fence **fences,
					     unsigned int count,
					     int64_t timeout_ns,
					     unsigned int *idx);

/**
 * dmabuf_fence_set_deadline() - hint that @fence should signal by
 * @deadline_ns (CLOCK_MONOTONIC).  Forwarded to ops->set_deadline while the
 * fence is pending; otherwise ignored.
 */
DMABUF_API void dmabuf_fence_set_deadline(struct dmabuf_fence *fence,
					  int64_t deadline_ns);

/**
 * dmabuf_fence_is_later() - true if @a comes after @b on their (same)
 * timeline, using 32- or 64-bit comparison as @a's ops say.  False if
 * either is NULL.
 */
DMABUF_API bool dmabuf_fence_is_later(const struct dmabuf_fence *a,
				      const struct dmabuf_fence *b);

/**
 * dmabuf_fence_seqno_passed() - seqno comparison rule of @fence's timeline:
 * true if @seqno is at or after @fence->seqno.  False for NULL.
 */
DMABUF_API bool dmabuf_fence_seqno_passed(const struct dmabuf_fence *fence,
					  uint64_t seqno);

/**
 * dmabuf_fence_get_stub() - a reference to the process-wide signaled stub
 * fence (context 0, seqno 0, driver and timeline "stub").  Never fails.
 */
DMABUF_API struct dmabuf_fence *dmabuf_fence_get_stub(void);

/**
 * dmabuf_fence_create_stub() - a new signaled stub fence with the given
 * timestamp (what merge returns when nothing is left).  Like the kernel's
 * private stub it has context 0 and seqno 0, so its sync_file name is
 * "stub-stub0-0".
 * Returns 0, -ENOMEM.
 */
DMABUF_API int dmabuf_fence_create_stub(int64_t timestamp_ns,
					struct dmabuf_fence **out);

/** dmabuf_fence_driver_name() - ops->get_driver_name(@fence). */
DMABUF_API const char *dmabuf_fence_driver_name(struct dmabuf_fence *fence);

/** dmabuf_fence_timeline_name() - ops->get_timeline_name(@fence). */
DMABUF_API const char *dmabuf_fence_timeline_name(struct dmabuf_fence *fence);

/** dmabuf_now_ns() - CLOCK_MONOTONIC now, in ns (the clock of all timestamps). */
DMABUF_API int64_t dmabuf_now_ns(void);

DMABUF_END_DECLS

#endif /* DMABUF_FENCE_H */
