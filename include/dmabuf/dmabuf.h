/* SPDX-License-Identifier: MIT */
/*
 * dmabuf/dmabuf.h - umbrella header: the whole libdmabuf core API.
 *
 * Include this, or only the headers of the objects you use.  The Android
 * libsync compatibility header, <dmabuf/libsync.h>, is not included: it
 * defines libsync's own global names.  The library
 * is the Linux dma-buf object model in userspace; see libdmabuf(7).
 */
#ifndef DMABUF_DMABUF_H
#define DMABUF_DMABUF_H

#define DMABUF_VERSION_MAJOR 0
#define DMABUF_VERSION_MINOR 1
#define DMABUF_VERSION_MICRO 0

#include <dmabuf/api.h>
#include <dmabuf/list.h>
#include <dmabuf/fault.h>
#include <dmabuf/fence.h>
#include <dmabuf/fence_array.h>
#include <dmabuf/fence_chain.h>
#include <dmabuf/fence_unwrap.h>
#include <dmabuf/ww_mutex.h>
#include <dmabuf/resv.h>
#include <dmabuf/sync_file.h>
#include <dmabuf/dma_buf.h>
#include <dmabuf/heap.h>
#include <dmabuf/udmabuf.h>
#include <dmabuf/sw_sync.h>
#include <dmabuf/fd.h>
#include <dmabuf/swdev.h>

#endif /* DMABUF_DMABUF_H */
