#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# check-kernel-api.sh - run the fd-level API test suite on the real Linux 6.12 kernel in QEMU.
#
# usage: check-kernel-api.sh
#
# Builds libdmabuf as a static library (meson, -Ddefault_library=static, in $API_BUILD),
# links tests/api/test_fd_api.c and test_swdev.c statically against it, and runs each with the conformance
# suite's guest (tests/conformance/kernel/prepare.sh and boot.sh), where the kernel backend
# is selected: /dev/dma_heap/system, /dev/udmabuf and sw_sync exist there.  Every TAP point
# must pass.  Ends with a line "api (kernel): N passed, N failed".
#
# Environment: API_BUILD (build directory, default build-kernel-api), CC, and what
# tests/conformance/kernel/env.sh reads (LIBDMABUF_CACHE, CONFORMANCE_KABI, CONFORMANCE_SMP).
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
KERNEL=$ROOT/tests/conformance/kernel
OUT=${API_BUILD:-$ROOT/build-kernel-api}
MESON=${MESON:-meson}
NINJA=${NINJA:-ninja}

"$KERNEL/prepare.sh"
if [ ! -f "$OUT/build.ninja" ]; then
	"$MESON" setup "$OUT" "$ROOT" -Ddefault_library=static -Db_sanitize=none >/dev/null
fi
"$NINJA" -C "$OUT" src/libdmabuf.a >/dev/null

passed=0 failed=0
# one guest boot per program: the fd-level API, and the software device built on it
for t in test_fd_api test_swdev; do
	prog=$OUT/$t-static
	${CC:-cc} -std=gnu11 -D_GNU_SOURCE -O2 -g -Wall -Wextra -Wno-unused-parameter \
		-Wno-missing-field-initializers -static -pthread \
		-I"$ROOT/include" -I"$ROOT/tests" -o "$prog" "$HERE/$t.c" "$OUT/src/libdmabuf.a"
	log=$OUT/$t.linux-6.12.log
	set +e
	"$KERNEL/boot.sh" "$prog" >"$log"
	rc=$?
	set -e
	cat "$log"
	p=$(grep -cE '^ok [0-9]+' "$log" || true)
	f=$(grep -cE '^not ok [0-9]+' "$log" || true)
	plan=$(sed -n 's/^1\.\.\([0-9]*\)$/\1/p' "$log" | tail -1)
	if [ "$rc" != 0 ] && [ "$f" = 0 ]; then
		echo "check-kernel-api: $t exited $rc" >&2
		f=1
	fi
	if [ -z "$plan" ] || [ "$plan" != $((p + f)) ]; then
		echo "check-kernel-api: $t: no complete TAP plan (bailed out?)" >&2
		[ "$f" != 0 ] || f=1
	fi
	grep -q '^# backend: kernel$' "$log" || {
		echo "check-kernel-api: $t: the guest did not select the kernel backend" >&2
		[ "$f" != 0 ] || f=1
	}
	passed=$((passed + p)) failed=$((failed + f))
done
echo "api (kernel): $passed passed, $failed failed"
[ "$failed" = 0 ]
