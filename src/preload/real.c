// SPDX-License-Identifier: MIT
/* real.c - the definitions the wrappers stand in front of, and the per-thread guard. */
#include <dlfcn.h>
#include <stdatomic.h>

#include "shim.h"

struct shim_real shim_real;
bool shim_real_ready;
bool shim_off;
__thread int shim_depth __attribute__((tls_model("initial-exec")));

#define RESOLVE(fn) (*(void **)&shim_real.fn = dlsym(RTLD_NEXT, #fn))

/*
 * Resolve every wrapped function once.  Racing threads store the same values; the flag is
 * published last, so a reader that sees it set sees all pointers.
 */
void shim_real_resolve(void)
{
	RESOLVE(open);
	RESOLVE(openat);
	RESOLVE(fopen);
	RESOLVE(opendir);
	RESOLVE(readdir);
	RESOLVE(readdir64);
	RESOLVE(closedir);
	RESOLVE(stat);
	RESOLVE(lstat);
	RESOLVE(fstatat);
	RESOLVE(statx);
	RESOLVE(access);
	RESOLVE(faccessat);
	RESOLVE(close);
	RESOLVE(close_range);
	RESOLVE(dup);
	RESOLVE(dup2);
	RESOLVE(dup3);
	RESOLVE(fcntl);
	RESOLVE(ioctl);
	RESOLVE(read);
	RESOLVE(write);
	RESOLVE(readv);
	RESOLVE(writev);
	RESOLVE(pread);
	RESOLVE(pwrite);
	RESOLVE(preadv);
	RESOLVE(pwritev);
	RESOLVE(lseek);
	RESOLVE(fstat);
	RESOLVE(ftruncate);
	RESOLVE(fallocate);
	RESOLVE(fsync);
	RESOLVE(fdatasync);
	RESOLVE(mmap);
	RESOLVE(munmap);
	RESOLVE(mremap);
	RESOLVE(poll);
	RESOLVE(ppoll);
	RESOLVE(select);
	RESOLVE(pselect);
	RESOLVE(epoll_ctl);
	RESOLVE(epoll_wait);
	RESOLVE(epoll_pwait);
	RESOLVE(epoll_pwait2);
	RESOLVE(recvmsg);
	RESOLVE(recvmmsg);
	RESOLVE(execve);
	RESOLVE(execvpe);
	RESOLVE(fexecve);
	atomic_thread_fence(memory_order_release);
	shim_real_ready = true;
}
