# SPDX-License-Identifier: MIT
# conformance.mk - the dma-buf uAPI conformance suite (tests/conformance, docs/conformance.md).
# Included from the top Makefile.
#
#   make check-kernel                      run it on Linux 6.12 under QEMU, compare with the
#                                          committed reference transcript
#   make check-kernel UPDATE_REFERENCE=1   rewrite the reference from the kernel's transcript
#   make check-conformance                 run it under dmabuf-run, compare with the reference
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
