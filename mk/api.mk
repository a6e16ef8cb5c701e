# SPDX-License-Identifier: MIT
# api.mk - the fd-level API test suite on the real kernel (tests/api, docs/api.md).
# Included from the top Makefile.
#
#   make check-kernel-api    build libdmabuf static and run tests/api/test_fd_api.c on
#                            Linux 6.12 under QEMU with the kernel backend; every case must
#                            pass (on the host, `make check` runs it in suite 'api')

.PHONY: check-kernel-api

check-kernel-api:
	tests/api/check-kernel-api.sh
