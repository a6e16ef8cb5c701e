# SPDX-License-Identifier: MIT
# conformance.mk - the dma-buf uAPI conformance suite (tests/conformance, docs/conformance.md).
# Included from the top Makefile.
#
#   make check-kernel                      run it on Linux 6.12 under QEMU, compare with the
#                                          committed reference transcript
#   make check-kernel UPDATE_REFERENCE=1   rewrite the reference from the kernel's transcript
#   make check-conformance                 run it under dmabuf-run, compare with the reference
#   make check-conformance-coherency       the same under dmabuf-run --check-coherency: no
#                                          report allowed either
#                                          (the script exits 77 when dmabuf-run is missing:
#                                          make then reports "Error 77"; with
#                                          CONFORMANCE_SKIP_OK=1 a skip is not an error)

CONFORMANCE_DIR := tests/conformance

.PHONY: check-kernel check-conformance

check-kernel:
	UPDATE_REFERENCE=$(UPDATE_REFERENCE) $(CONFORMANCE_DIR)/check-kernel.sh

# dmabuf-run is part of the project's build
check-conformance: all
	@BUILD=$(BUILD) $(CONFORMANCE_DIR)/check-conformance.sh; rc=$$?; \
	if [ $$rc = 77 ] && [ -n "$(CONFORMANCE_SKIP_OK)" ]; then exit 0; fi; exit $$rc

# The same run under the coherency checker: the suite must also bracket every access.
.PHONY: check-conformance-coherency
check-conformance-coherency: all
	@BUILD=$(BUILD) CONFORMANCE_CHECK_COHERENCY=1 \
		CONFORMANCE_BUILD=$(abspath build-conformance-coherency) \
		$(CONFORMANCE_DIR)/check-conformance.sh

# The same run with the preload library built with ASan+UBSan (build-asan/): their runtimes
# are preloaded first, so that the uninstrumented suite can load the instrumented library.
ASAN_RT := $(shell $(CC) -print-file-name=libasan.so):$(shell $(CC) -print-file-name=libubsan.so)

.PHONY: check-conformance-asan
check-conformance-asan: build-asan/build.ninja
	$(NINJA) -C build-asan
	ASAN_OPTIONS=detect_leaks=0:verify_asan_link_order=0:abort_on_error=1 \
	UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	LD_PRELOAD="$(ASAN_RT)" \
	DMABUF_RUN=$(abspath build-asan/src/tools/dmabuf-run) \
	DMABUF_PRELOAD=$(abspath build-asan/src/preload/libdmabuf-preload.so) \
	CONFORMANCE_BUILD=$(abspath build-conformance-asan) \
		$(CONFORMANCE_DIR)/check-conformance.sh
