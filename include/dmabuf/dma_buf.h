/* SPDX-License-Identifier: MIT */
/*
 * dmabuf/dma_buf.h - the dma-buf: a shareable buffer with an exporter.
 *
 * A dma-buf is a buffer object provided by an exporter (the system heap,
 * udmabuf, ...) through an ops table.  It carries a size, the exporter's
 * name, an optional user-chosen name, a reservation object holding the
 * implicit-sync fences of everybody using the buffer, and a list of
 * attachments (importing "devices").  The functions below implement the
 * rules of the dma-buf fd uAPI (DMA_BUF_IOCTL_SYNC, DMA_BUF_SET_NAME,
 * DMA_BUF_IOCTL_EXPORT_SYNC_FILE / IMPORT_SYNC_FILE, poll, mmap) as Linux
 * 6.12 does, so an fd layer can map ioctls onto them without adding
 * semantics.  What is left to that layer: resolving fds (EBADF, and EINVAL
 * for an IMPORT_SYNC_FILE fd that is not a sync_file), copying arguments in
 * and out (EFAULT for a NULL argument), unknown requests (ENOTTY), lseek,
 * read/write and fdinfo formatting.
 *
 * Backing memory is described as ranges of memfds (struct dmabuf_sg_entry);
 * this is what attaching and mapping a buffer hands to an importer, in
 * place of the kernel's scatterlist of DMA addresses.
 */
#ifndef DMABUF_DMA_BUF_H
#define DMABUF_DMA_BUF_H

#include <dmabuf/api.h>

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <dmabuf/fence.h>

DMABUF_BEGIN_DECLS

struct dmabuf_resv;
struct dmabuf_sync_file;

/** Direction of a device or CPU access (the kernel's enum dma_data_direction). */
enum dmabuf_data_direction {
	DMABUF_BIDIRECTIONAL = 0,
	DMABUF_TO_DEVICE = 1,
	DMABUF_FROM_DEVICE = 2,
	DMABUF_DMA_NONE = 3,
};

/**
 * enum dmabuf_map_info - how CPU mappings of the buffer behave (the
 * DMA_BUF_IOCTL_INFO proposal's DMA_BUF_INFO_MAP_INFO), fixed at export.
 * @DMABUF_MAP_INCOHERENT: CPU access needs DMA_BUF_IOCTL_SYNC brackets.
 * @DMABUF_MAP_COHERENT_WC: coherent, write-combined.
 * @DMABUF_MAP_COHERENT_CACHED: coherent, cached.
 * Coherent kinds need no brackets for cache maintenance; fences still apply.
 */
enum dmabuf_map_info {
	DMABUF_MAP_INCOHERENT = 0,
	DMABUF_MAP_COHERENT_WC = 1,
	DMABUF_MAP_COHERENT_CACHED = 2,
};

/* DMA_BUF_IOCTL_SYNC flags, with the uAPI's values. */
#define DMABUF_SYNC_READ	(1 << 0)
#define DMABUF_SYNC_WRITE	(2 << 0)
#define DMABUF_SYNC_RW		(DMABUF_SYNC_READ | DMABUF_SYNC_WRITE)
#define DMABUF_SYNC_START	(0 << 2)
#define DMABUF_SYNC_END		(1 << 2)
#define DMABUF_SYNC_VALID_FLAGS_MASK (DMABUF_SYNC_RW | DMABUF_SYNC_END)

/** Longest buffer name plus its NUL (the uAPI's DMA_BUF_NAME_LEN). */
#define DMABUF_BUF_NAME_LEN 32

/**
 * struct dmabuf_sg_entry - one backing range of a buffer.
 * @fd: a memfd owned by the exporter; valid while the buffer lives.
 * @offset: byte offset of the range in @fd.
 * @length: bytes in the range.
 */
struct dmabuf_sg_entry {
	int fd;
	uint64_t offset;
	uint64_t length;
};

/**
 * struct dmabuf_sg_table - the backing of a buffer, in buffer order: the
 * entries' lengths add up to the buffer size.
 * @nents: number of entries.
 * @ents: the entries.
 */
struct dmabuf_sg_table {
	unsigned int nents;
	struct dmabuf_sg_entry *ents;
};

struct dmabuf_buf;
struct dmabuf_attachment;

/**
 * struct dmabuf_buf_ops - what an exporter provides.
 * @cache_sgt_mapping: map each attachment at most once: a second map of an
 *	attachment returns the same table (or -EBUSY for another direction,
 *	unless the first was bidirectional) and the table is unmapped only at
 *	detach time.
 * @attach: optional; a device is attaching.  Return 0 or a negative error
 *	(the attach then fails with it).
 * @detach: optional; the attachment is going away.
 * @map_attachment: required; return in *@out a table describing the backing
 *	for @att (0 or a negative error).  The exporter owns the table until
 *	@unmap_attachment gets it back.
 * @unmap_attachment: required; take back a table from @map_attachment.
 * @begin_cpu_access: optional; prepare for CPU access in @dir.
 * @end_cpu_access: optional; CPU access in @dir has ended.
 * @mmap: optional (without it mmap fails with -EINVAL); map @len bytes
 *	from page @pgoff into the caller's address space with mmap(2)'s
 *	@prot and @flags at or near @addr_hint (MAP_FIXED is in @flags if the
 *	caller asked for it); store the address in *@out.  Bounds and access
 *	rights are checked by the core before.  The mapping is removed with
 *	munmap(2).
 * @vmap: optional; map the whole buffer read/write and store the address
 *	in *@vaddr.  Called with the buffer's internal lock held (like the
 *	kernel's dmabuf->lock): it may use the accessors (dmabuf_buf_priv(),
 *	dmabuf_buf_size(), ...) but no other dmabuf_buf_* function.
 * @vunmap: optional; undo @vmap.  Same locking as @vmap.
 * @memfd: optional; the memfd backing the whole buffer from its offset 0,
 *	or -1 if the buffer is not backed that way.
 * @release: required; free the exporter's data, once, when the buffer goes.
 */
struct dmabuf_buf_ops {
	bool cache_sgt_mapping;
	int (*attach)(struct dmabuf_buf *buf, struct dmabuf_attachment *att);
	void (*detach)(struct dmabuf_buf *buf, struct dmabuf_attachment *att);
	int (*map_attachment)(struct dmabuf_attachment *att,
			      enum dmabuf_data_direction dir,
			      struct dmabuf_sg_table **out);
	void (*unmap_attachment)(struct dmabuf_attachment *att,
				 struct dmabuf_sg_table *table,
				 enum dmabuf_data_direction dir);
	int (*begin_cpu_access)(struct dmabuf_buf *buf,
				enum dmabuf_data_direction dir);
	int (*end_cpu_access)(struct dmabuf_buf *buf,
			      enum dmabuf_data_direction dir);
	int (*mmap)(struct dmabuf_buf *buf, void *addr_hint, size_t len,
		    int prot, int flags, uint64_t pgoff, void **out);
	int (*vmap)(struct dmabuf_buf *buf, void **vaddr);
	void (*vunmap)(struct dmabuf_buf *buf, void *vaddr);
	int (*memfd)(struct dmabuf_buf *buf);
	void (*release)(struct dmabuf_buf *buf);
};

/**
 * struct dmabuf_export_info - what dmabuf_buf_export() needs.
 * @exp_name: the exporter's name (fdinfo's exp_name); a static string,
 *	NULL reads as "".
 * @ops: the exporter's ops.
 * @size: buffer size in bytes, nonzero.
 * @flags: the fd's flags: O_RDONLY, O_WRONLY or O_RDWR, optionally with
 *	O_CLOEXEC and O_NONBLOCK.  The access mode decides what mmap allows.
 * @map_info: how CPU mappings behave; fixed for the buffer's life.
 * @resv: a reservation object shared with the exporter, or NULL to use
 *	one embedded in the buffer.  A shared one must outlive the buffer.
 * @priv: the exporter's data, see dmabuf_buf_priv().
 */
struct dmabuf_export_info {
	const char *exp_name;
	const struct dmabuf_buf_ops *ops;
	uint64_t size;
	int flags;
	enum dmabuf_map_info map_info;
	struct dmabuf_resv *resv;
	void *priv;
};

/**
 * dmabuf_buf_export() - create a buffer for an exporter.
 * @info: the export information; copied.
 * @out: receives the buffer with one reference.
 * Returns 0; -EINVAL if @info or @out is NULL, the ops lack
 * map_attachment, unmap_attachment or release, @size is 0, @flags has bits
 * other than the access mode, O_CLOEXEC and O_NONBLOCK, or @map_info is
 * unknown; -ENOMEM.  On error the exporter's release is not called.
 */
DMABUF_API int dmabuf_buf_export(const struct dmabuf_export_info *info,
				 struct dmabuf_buf **out);

/** dmabuf_buf_get() - take a reference; returns @buf (NULL passes through). */
DMABUF_API struct dmabuf_buf *dmabuf_buf_get(struct dmabuf_buf *buf);

/**
 * dmabuf_buf_put() - drop a reference.  The last one calls the exporter's
 * release exactly once, then frees the buffer (and its embedded resv with
 * the fences in it).  Attachments, mmaps and vmaps each hold a reference,
 * so the last put comes after all of them are gone.  NULL is a no-op.
 */
DMABUF_API void dmabuf_buf_put(struct dmabuf_buf *buf);

/** dmabuf_buf_size() - the size in bytes (0 for NULL). */
DMABUF_API uint64_t dmabuf_buf_size(const struct dmabuf_buf *buf);

/** dmabuf_buf_exp_name() - the exporter's name, e.g. "system" ("" for NULL). */
DMABUF_API const char *dmabuf_buf_exp_name(const struct dmabuf_buf *buf);

/** dmabuf_buf_priv() - the exporter's private data. */
DMABUF_API void *dmabuf_buf_priv(const struct dmabuf_buf *buf);

/** dmabuf_buf_resv() - the buffer's reservation object (implicit-sync fences). */
DMABUF_API struct dmabuf_resv *dmabuf_buf_resv(const struct dmabuf_buf *buf);

/** dmabuf_buf_map_info() - the map info fixed at export. */
DMABUF_API enum dmabuf_map_info dmabuf_buf_map_info(const struct dmabuf_buf *buf);

/** dmabuf_buf_flags() - the fd flags given at export (access mode, O_CLOEXEC, ...). */
DMABUF_API int dmabuf_buf_flags(const struct dmabuf_buf *buf);

/**
 * dmabuf_buf_memfd() - the memfd backing the whole buffer from offset 0 (a
 * system heap buffer, a one-range udmabuf at offset 0), or -1.  The fd
 * belongs to the buffer: dup() it to keep it.
 */
DMABUF_API int dmabuf_buf_memfd(struct dmabuf_buf *buf);

/**
 * dmabuf_buf_set_name() - DMA_BUF_SET_NAME: set or replace the buffer's
 * name (fdinfo's "name:").
 * @name: up to 31 characters; "" is a valid (empty) name.
 * Returns 0; -EFAULT if @name is NULL (what the uAPI answers for a NULL
 * pointer); -EINVAL if it is 32 characters or longer or @buf is NULL.
 */
DMABUF_API int dmabuf_buf_set_name(struct dmabuf_buf *buf, const char *name);

/**
 * dmabuf_buf_get_name() - copy the buffer's name.
 * @out: destination, NUL-terminated (truncated to fit) when @len > 0.
 * @len: size of @out; DMABUF_BUF_NAME_LEN always fits.
 * Returns the name's length; -ENODATA if no name was ever set (fdinfo then
 * has no "name:" line; an empty name set with set_name is length 0);
 * -EINVAL if @buf is NULL or @out is NULL with @len > 0.
 */
DMABUF_API int dmabuf_buf_get_name(struct dmabuf_buf *buf, char *out,
				   size_t len);

/**
 * dmabuf_buf_attach() - attach a device (importer) to @buf.
 * @dev_name: the device's name (copied); required.
 * @dev_priv: the importer's data, see dmabuf_attachment_dev_priv().
 * @out: receives the attachment, which holds a reference to @buf.
 * Calls the exporter's attach op.  Returns 0; -EINVAL on NULL arguments;
 * -ENOMEM; or the attach op's error (nothing is left behind then).
 */
DMABUF_API int dmabuf_buf_attach(struct dmabuf_buf *buf, const char *dev_name,
				 void *dev_priv, struct dmabuf_attachment **out);

/**
 * dmabuf_buf_detach() - undo dmabuf_buf_attach(): unmaps a cached mapping,
 * calls the exporter's detach op, drops the buffer reference and frees the
 * attachment.  Mappings the importer did not unmap are its bug (the kernel
 * warns); they are not tracked.  NULL is a no-op.
 */
DMABUF_API void dmabuf_buf_detach(struct dmabuf_attachment *att);

/** dmabuf_buf_num_attachments() - how many devices are attached (0 for NULL). */
DMABUF_API unsigned int dmabuf_buf_num_attachments(struct dmabuf_buf *buf);

/** dmabuf_attachment_buf() - the buffer @att is attached to. */
DMABUF_API struct dmabuf_buf *dmabuf_attachment_buf(const struct dmabuf_attachment *att);

/** dmabuf_attachment_dev_name() - the device name given at attach time. */
DMABUF_API const char *dmabuf_attachment_dev_name(const struct dmabuf_attachment *att);

/** dmabuf_attachment_dev_priv() - the importer's data given at attach time. */
DMABUF_API void *dmabuf_attachment_dev_priv(const struct dmabuf_attachment *att);

/** dmabuf_attachment_priv() - the exporter's per-attachment data (NULL until set). */
DMABUF_API void *dmabuf_attachment_priv(const struct dmabuf_attachment *att);

/** dmabuf_attachment_set_priv() - set the exporter's per-attachment data. */
DMABUF_API void dmabuf_attachment_set_priv(struct dmabuf_attachment *att,
					   void *priv);

/**
 * dmabuf_attachment_map() - map the buffer for the device's access.
 * @dir: BIDIRECTIONAL, TO_DEVICE or FROM_DEVICE.
 * @out: receives the backing table; give it back with
 *	dmabuf_attachment_unmap().
 * Waits for the buffer's KERNEL-usage fences (memory moves), like the
 * kernel does for static importers.  With a caching exporter, a second map
 * returns the same table, or -EBUSY if @dir differs and the first mapping
 * was not bidirectional.  As in the kernel, the importer serializes the
 * map and unmap calls on one attachment.  Returns 0; -EINVAL on NULL
 * arguments or a bad @dir; -ENOMEM or the exporter's error.
 */
DMABUF_API int dmabuf_attachment_map(struct dmabuf_attachment *att,
				     enum dmabuf_data_direction dir,
				     struct dmabuf_sg_table **out);

/**
 * dmabuf_attachment_unmap() - give back a table from dmabuf_attachment_map().
 * A table cached by the attachment stays until detach.  NULL arguments are
 * ignored.
 */
DMABUF_API void dmabuf_attachment_unmap(struct dmabuf_attachment *att,
					struct dmabuf_sg_table *table,
					enum dmabuf_data_direction dir);

/**
 * dmabuf_buf_begin_cpu_access() - prepare for CPU access in @dir: calls the
 * exporter's begin_cpu_access, then (if it succeeded) waits for the
 * implicit-sync fences that conflict with the access: for FROM_DEVICE (a
 * CPU read) the writers (usage <= WRITE), for TO_DEVICE and BIDIRECTIONAL
 * (a CPU write) all fences (usage <= READ).  That is the kernel's order.
 * Returns 0, -EINVAL (NULL @buf or a bad @dir) or the exporter's error.
 */
DMABUF_API int dmabuf_buf_begin_cpu_access(struct dmabuf_buf *buf,
					   enum dmabuf_data_direction dir);

/**
 * dmabuf_buf_end_cpu_access() - CPU access in @dir has ended: calls the
 * exporter's end_cpu_access (whose answer to an unbalanced end is its own
 * business: the system heap says 0, udmabuf -EINVAL before any begin).
 * Returns 0, -EINVAL or the exporter's error.
 */
DMABUF_API int dmabuf_buf_end_cpu_access(struct dmabuf_buf *buf,
					 enum dmabuf_data_direction dir);

/**
 * dmabuf_buf_sync() - DMA_BUF_IOCTL_SYNC.
 * @flags: DMABUF_SYNC_START or _END, with READ, WRITE or both.
 * Bits outside DMABUF_SYNC_VALID_FLAGS_MASK, or neither READ nor WRITE:
 * -EINVAL.  READ maps to FROM_DEVICE, WRITE to TO_DEVICE, RW to
 * BIDIRECTIONAL; START calls dmabuf_buf_begin_cpu_access() (so it blocks
 * until the conflicting fences have signaled: START|READ waits for the
 * writers, START|WRITE and START|RW for all), END calls
 * dmabuf_buf_end_cpu_access().  Brackets are not counted.
 * Returns 0, -EINVAL or the exporter's error.
 */
DMABUF_API int dmabuf_buf_sync(struct dmabuf_buf *buf, uint64_t flags);

/**
 * dmabuf_buf_mmap() - mmap of a dma-buf fd.
 * @len: bytes to map; rounded up to pages.
 * @prot: mmap(2) protection.
 * @flags: mmap(2) flags: MAP_SHARED, MAP_SHARED_VALIDATE or MAP_PRIVATE,
 *	optionally with MAP_FIXED, MAP_FIXED_NOREPLACE, MAP_POPULATE, ...
 * @pgoff: first page of the buffer to map.
 * @addr: in: the address hint (the address with MAP_FIXED), NULL for none;
 *	out: the mapping.
 * Checks, in the kernel's order (mmap(2)'s generic checks, then the
 * dma-buf's): @len 0 or MAP_ANONYMOUS: -EINVAL; @len wraps when rounded up
 * to pages: -ENOMEM; @pgoff + pages wraps: -EOVERFLOW; a mapping type other
 * than shared or private: -EINVAL; a shared mapping with PROT_WRITE of a
 * buffer that is not O_RDWR, or any mapping of a buffer whose access mode
 * is not readable: -EACCES; no mmap op or @pgoff + pages beyond the
 * buffer's size: -EINVAL; then the exporter's
 * rules (private mappings: the system heap allows only one page, udmabuf
 * none: -EINVAL) and mmap(2)'s errors.  The mapping holds a reference to
 * @buf until dmabuf_buf_munmap().  Returns 0 or a negative error (-ENOMEM
 * included); on error nothing is mapped (except that a failed MAP_FIXED
 * may, as with mmap(2), have unmapped what was at @addr).
 */
DMABUF_API int dmabuf_buf_mmap(struct dmabuf_buf *buf, size_t len, int prot,
			       int flags, uint64_t pgoff, void **addr);

/**
 * dmabuf_buf_munmap() - remove a mapping made by dmabuf_buf_mmap() and drop
 * its buffer reference.
 * @addr, @len: exactly the address returned and the length given to
 *	dmabuf_buf_mmap() (partial unmaps are not tracked).
 * Returns 0, -EINVAL if no such mapping of @buf exists.
 */
DMABUF_API int dmabuf_buf_munmap(struct dmabuf_buf *buf, void *addr,
				 size_t len);

/** dmabuf_buf_num_mmaps() - how many dmabuf_buf_mmap() mappings are live. */
DMABUF_API unsigned int dmabuf_buf_num_mmaps(struct dmabuf_buf *buf);

/**
 * dmabuf_buf_vmap() - a read/write mapping of the whole buffer for the
 * library's own use (the kernel's vmap).  Mappings are counted: the first
 * call asks the exporter, later ones return the same address.  Each call
 * holds a buffer reference until the matching dmabuf_buf_vunmap().
 * Returns 0; -EINVAL if @buf or @vaddr is NULL or there is no vmap op;
 * -ENOMEM or the exporter's error.
 */
DMABUF_API int dmabuf_buf_vmap(struct dmabuf_buf *buf, void **vaddr);

/**
 * dmabuf_buf_vunmap() - drop one vmap count; the last one calls the
 * exporter's vunmap.  @vaddr must be the address vmap returned; a call
 * without a live vmap or with another address is ignored.
 */
DMABUF_API void dmabuf_buf_vunmap(struct dmabuf_buf *buf, void *vaddr);

/**
 * dmabuf_buf_export_sync_file() - DMA_BUF_IOCTL_EXPORT_SYNC_FILE.
 * @flags: DMABUF_SYNC_READ, _WRITE or _RW; anything else (0 included):
 *	-EINVAL.
 * @out: receives a new sync_file (one reference).
 * READ returns the fences a CPU read must wait for (usage <= WRITE), WRITE
 * and RW those a write must wait for (usage <= READ; BOOKKEEP fences never
 * count).  The unsignaled ones are taken as they are now, a snapshot: fences
 * added later do not affect it.  None pending: the signaled stub fence.
 * Returns 0, -EINVAL (also for NULL arguments), -ENOMEM.
 */
DMABUF_API int dmabuf_buf_export_sync_file(struct dmabuf_buf *buf,
					   uint32_t flags,
					   struct dmabuf_sync_file **out);

/**
 * dmabuf_buf_import_sync_file() - DMA_BUF_IOCTL_IMPORT_SYNC_FILE.
 * @flags: DMABUF_SYNC_READ, _WRITE or _RW; anything else (0 included):
 *	-EINVAL (checked first).
 * @sf: the sync_file; NULL (an fd that is not a sync_file): -EINVAL.
 * Adds the sync_file's fence, unwrapped to its leaves, to the buffer's
 * reservation object: with usage WRITE if @flags has WRITE, else READ.  A
 * leaf replaces a fence of the same timeline already there.  All or
 * nothing: slots are reserved first.  Returns 0, -EINVAL, -ENOMEM.
 */
DMABUF_API int dmabuf_buf_import_sync_file(struct dmabuf_buf *buf,
					   uint32_t flags,
					   struct dmabuf_sync_file *sf);

/**
 * dmabuf_buf_poll() - poll readiness of a dma-buf fd.
 * @events: the requested events, POLLIN and/or POLLOUT from <poll.h>.
 * Returns the ready subset: POLLIN once every writer (usage <= WRITE) has
 * signaled, POLLOUT once every fence (usage <= READ) has.  An idle buffer
 * is POLLIN|POLLOUT.  0 for NULL.  Does not block.
 */
DMABUF_API unsigned int dmabuf_buf_poll(struct dmabuf_buf *buf,
					unsigned int events);

/**
 * dmabuf_buf_poll_add_callback() - be told when poll readiness may have
 * changed (for an fd layer that must wake poll()/epoll waiters).
 * @events: POLLIN and/or POLLOUT.
 * @cb: caller storage for the callback registration.
 * @func: called once (with the fence lock held: see fence.h) when the
 *	fence in *@fence_out signals.
 * @fence_out: receives a reference to the fence @cb was added to.
 *
 * If an event of @events is ready already, nothing is armed: -ENOENT.
 * Otherwise the callback goes on one fence standing for the fences that
 * currently block the earliest requested event (the writers if POLLIN is
 * requested, else all fences): a lone fence or a fence array of them.  It
 * is a snapshot: after it runs, call dmabuf_buf_poll() again and re-arm if
 * still not ready (fences may have been added meanwhile).  To cancel, call
 * dmabuf_fence_remove_callback(*@fence_out, @cb); in any case put the
 * fence.  Returns 0; -ENOENT (ready; *@fence_out is NULL); -EINVAL on NULL
 * arguments or @events without POLLIN/POLLOUT; -ENOMEM.
 */
DMABUF_API int dmabuf_buf_poll_add_callback(struct dmabuf_buf *buf,
					    unsigned int events,
					    struct dmabuf_fence_cb *cb,
					    dmabuf_fence_func_t func,
					    struct dmabuf_fence **fence_out);

/**
 * dmabuf_buf_wait() - wait for the implicit-sync fences: the writers
 * (@write false, what POLLIN waits for) or all of them (@write true, as
 * POLLOUT).
 * @timeout_ns: relative; 0 only tests; negative waits forever.
 * Returns 0, -ETIME on timeout, -EINVAL for NULL.
 */
DMABUF_API int dmabuf_buf_wait(struct dmabuf_buf *buf, bool write,
			       int64_t timeout_ns);

/**
 * dmabuf_sg_table_mmap() - map a window of a backing table into the
 * address space (a helper for exporters' mmap and vmap ops, and for
 * importers that want CPU access to mapped tables).
 * @table: the backing; its ranges are laid out one after the other.
 * @offset: byte offset of the window in the table; page-aligned.
 * @len: bytes; rounded up to pages; the window must lie within the table.
 * @prot, @flags: as mmap(2) (MAP_SHARED or MAP_PRIVATE, MAP_FIXED, ...).
 * @addr_hint: as mmap(2)'s first argument.
 * @out: receives the address.
 * A window within one range is one mmap of its memfd; a window over
 * several ranges is an address reservation with each piece mapped into
 * it.  Returns 0; -EINVAL for bad arguments; mmap(2)'s error negated.
 */
DMABUF_API int dmabuf_sg_table_mmap(const struct dmabuf_sg_table *table,
				    uint64_t offset, size_t len, int prot,
				    int flags, void *addr_hint, void **out);

/**
 * dmabuf_sg_table_alloc() - allocate a table of @nents zeroed entries (for
 * exporters' map_attachment).  Returns 0, -EINVAL, -ENOMEM.
 */
DMABUF_API int dmabuf_sg_table_alloc(unsigned int nents,
				     struct dmabuf_sg_table **out);

/** dmabuf_sg_table_free() - free a table from dmabuf_sg_table_alloc(); NULL is a no-op. */
DMABUF_API void dmabuf_sg_table_free(struct dmabuf_sg_table *table);

DMABUF_END_DECLS

#endif /* DMABUF_DMA_BUF_H */
