// SPDX-License-Identifier: MIT
/*
 * test_cxx_headers.cc - every public header compiles and links from C++,
 * and the structures C++ sees have the layout the library was built with.
 */
#include <cstddef>
#include <cstdio>

#include <dmabuf/dmabuf.h>

#include "tap.h"

int main()
{
	struct dmabuf_fence *stub = dmabuf_fence_get_stub();

	ok(stub != nullptr, "C++: the stub fence is reachable");
	is_int(dmabuf_fence_get_status(stub), 1, "C++: the stub is signaled");
	is_int(stub->context, 0, "C++: struct dmabuf_fence fields read through C++ atomics' layout");
	is_str(dmabuf_fence_driver_name(stub), "stub", "C++: driver name");
	ok(sizeof(dmabuf_atomic_ulong) == sizeof(unsigned long) &&
	   sizeof(dmabuf_atomic_int) == sizeof(int) &&
	   sizeof(dmabuf_atomic_u64) == 8,
	   "C++: atomic members have the C sizes");
	dmabuf_fence_put(stub);
	return tap_done();
}
