/* SPDX-License-Identifier: MIT */
/*
 * broker_ident.h - what a descriptor is to dmabufd, and the shared slot table; not installed.
 *
 * A descriptor is known by its file (st_dev, st_ino).  A small direct-mapped cache keeps what
 * the broker said about the files this process met: filled from the replies that made them
 * and from DMABUFD_OP_IDENTIFY.  A buffer's entry is trusted only while its slot in the
 * shared table still holds the same generation and inode; other entries only while the
 * connection they were learned on lasts.
 */
#ifndef DMABUF_CLIENT_BROKER_IDENT_H
#define DMABUF_CLIENT_BROKER_IDENT_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/stat.h>

#include "proto.h"

/**
 * struct broker_ident - what the broker said a file is.
 * @type: enum dmabufd_type.
 * @slot: buffers: the slot index, or DMABUFD_NO_SLOT.
 * @gen: the slot's generation when the buffer got it.
 * @ino: the buffer's st_ino as the broker saw it.
 * @epoch: broker_epoch() of the connection that said so.
 */
struct broker_ident {
	uint32_t type;
	uint64_t slot;
	uint32_t gen;
	uint64_t ino;
	uint64_t epoch;
};

/*
 * What @fd (whose fstat is @st) is: from the cache, else asked (DMABUFD_OP_IDENTIFY) and
 * remembered.  Returns 0 with *@id (type DMABUFD_TYPE_NONE: not a broker object), -EBADF, or
 * the connection's error (-ENOTCONN).
 */
int broker_ident_get(int fd, const struct stat *st, struct broker_ident *id);

/* Remember what @fd is, from a reply that made it; @id->epoch is set by the caller. */
void broker_ident_learn(int fd, const struct broker_ident *id);

/* Forget the file of @st (an entry that turned out wrong). */
void broker_ident_forget(const struct stat *st);

/*
 * The state bits (enum dmabufd_slot_state) of the buffer @id from the shared table: true
 * when its slot still describes it, false when it cannot tell (no slot, slot reused, no
 * table, another connection).
 */
bool broker_ident_state(const struct broker_ident *id, uint32_t *state);

/*
 * The slot table of a new connection (epoch @epoch): map @memfd's @nslots slots read-only.
 * Returns 0 or a negative errno (the table is unusable).
 */
int broker_table_attach(int memfd, uint64_t nslots, uint64_t epoch);

/* Drop the current table: its memory stays readable (zero) for readers that still hold it. */
void broker_table_detach(void);

/* The cache's lock is unusable in a fork child: start afresh there. */
void broker_ident_atfork_child(void);

#endif /* DMABUF_CLIENT_BROKER_IDENT_H */
