/* SPDX-License-Identifier: MIT */
/*
 * dmabuf/api.h - what every public header of libdmabuf shares: the
 * visibility of exported functions and C++ linkage of the declarations.
 */
#ifndef DMABUF_API_H
#define DMABUF_API_H

/* Marks a function or object exported by libdmabuf.so (the rest is hidden). */
#ifndef DMABUF_API
#define DMABUF_API __attribute__((visibility("default")))
#endif

/* Bracket a header's declarations so C++ code links them with C names. */
#ifdef __cplusplus
#define DMABUF_BEGIN_DECLS extern "C" {
#define DMABUF_END_DECLS }
#else
#define DMABUF_BEGIN_DECLS
#define DMABUF_END_DECLS
#endif

/*
 * C11 atomics in public structures.  C++ before C++23 has no <stdatomic.h>;
 * its std::atomic types have the same size and layout with GCC and Clang,
 * so C++ code sees the same structures.
 */
#ifdef __cplusplus
#include <atomic>
typedef std::atomic<int> dmabuf_atomic_int;
typedef std::atomic<unsigned long> dmabuf_atomic_ulong;
typedef std::atomic<unsigned long long> dmabuf_atomic_u64;
#else
#include <stdatomic.h>
typedef atomic_int dmabuf_atomic_int;
typedef atomic_ulong dmabuf_atomic_ulong;
typedef _Atomic unsigned long long dmabuf_atomic_u64;
#endif

#endif /* DMABUF_API_H */
