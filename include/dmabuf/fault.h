/* SPDX-License-Identifier: MIT */
/*
 * dmabuf/fault.h - failure injection for tests.
 *
 * Every allocation the library makes goes through one internal allocator.
 * These calls make it fail on purpose, per thread, so a test can check that
 * a failed call returns -ENOMEM and leaves every object as it was.
 */
#ifndef DMABUF_FAULT_H
#define DMABUF_FAULT_H

#include <dmabuf/api.h>

DMABUF_BEGIN_DECLS

/**
 * dmabuf_fault_inject_alloc() - in the calling thread, let the next @skip
 * allocations succeed and fail the @count after them; then succeed again.
 * dmabuf_fault_inject_alloc(0, 0) turns injection off.
 */
DMABUF_API void dmabuf_fault_inject_alloc(unsigned int skip, unsigned int count);

/**
 * dmabuf_fault_injected() - how many allocations failed on purpose in the
 * calling thread since the last dmabuf_fault_inject_alloc() call.
 */
DMABUF_API unsigned int dmabuf_fault_injected(void);

DMABUF_END_DECLS

#endif /* DMABUF_FAULT_H */
