#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# check-kernel.sh - run the conformance suite on the real Linux 6.12 kernel and compare its
# transcript with the committed reference.
#
# usage: check-kernel.sh [--update]
#
# Builds the suite statically, fetches and caches Debian's 6.12 kernel and the sw_sync module
# (kernel/prepare.sh), boots it under qemu-system-x86_64 -accel tcg (kernel/boot.sh) and runs
# the suite CONFORMANCE_RUNS times (default 2): every run must print the same transcript (the
# suite is deterministic) and no case may be broken.  Then the transcript must equal
# reference/linux-6.12.txt, else the diff is printed and the exit status is 1.  --update (or
# UPDATE_REFERENCE=1) writes the reference instead.
#
# Environment: LIBDMABUF_CACHE (cache root, default ~/.cache/libdmabuf), CONFORMANCE_BUILD
# (output directory, default build-conformance), CONFORMANCE_KABI (Debian kernel ABI).
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
REF=$HERE/reference/linux-6.12.txt
OUT=${CONFORMANCE_BUILD:-$ROOT/build-conformance}
RUNS=${CONFORMANCE_RUNS:-2}
update=${UPDATE_REFERENCE:-}
[ "$update" = 0 ] && update=
[ "${1:-}" = --update ] && update=1

t0=$(date +%s)
"$HERE/kernel/prepare.sh"
t1=$(date +%s)
"$HERE/build.sh" --static "$OUT/static/dmabuf-conform"
. "$HERE/kernel/env.sh"

fail=0
for i in $(seq 1 "$RUNS"); do
	log=$OUT/linux-6.12.run$i.log
	set +e
	"$HERE/kernel/boot.sh" "$OUT/static/dmabuf-conform" >"$log"
	rc=$?
	set -e
	grep '^CASE ' "$log" >"$OUT/linux-6.12.run$i.txt" || true
	echo "check-kernel: run $i: exit $rc, $(wc -l <"$OUT/linux-6.12.run$i.txt") cases ($log)"
	if [ "$rc" != 0 ]; then
		echo "check-kernel: the suite failed in the guest (exit $rc):" >&2
		grep -E '^not ok|^# |^boot.sh' "$log" | grep -v 'TODO' >&2 || true
		fail=1
	fi
	if [ "$i" -gt 1 ] && ! diff -u "$OUT/linux-6.12.run1.txt" "$OUT/linux-6.12.run$i.txt"; then
		echo "check-kernel: run $i differs from run 1: the suite is not deterministic" >&2
		fail=1
	fi
done
cp "$OUT/linux-6.12.run1.txt" "$OUT/linux-6.12.txt"
t2=$(date +%s)
echo "check-kernel: prepare $((t1 - t0)) s, build + $RUNS boots $((t2 - t1)) s"
[ "$fail" = 0 ] || exit 1

if [ -n "$update" ]; then
	{
		echo "# dma-buf uAPI conformance transcript of Linux $KVER (Debian $(cat "$KDIR/debversion"))"
		echo "# under qemu-system-x86_64 -accel tcg; made by tests/conformance/check-kernel.sh --update"
		cat "$OUT/linux-6.12.txt"
	} >"$REF"
	echo "check-kernel: wrote $REF ($(grep -c '^CASE ' "$REF") cases)"
	exit 0
fi
if [ ! -f "$REF" ]; then
	echo "check-kernel: no reference yet: make check-kernel UPDATE_REFERENCE=1" >&2
	exit 1
fi
total=$(grep -c '^CASE ' "$REF")
if diff -u <(grep '^CASE ' "$REF") "$OUT/linux-6.12.txt" >"$OUT/linux-6.12.diff"; then
	echo "check-kernel: transcript identical to ${REF#"$ROOT"/}"
	echo "conformance (kernel): $total passed, 0 failed"
	exit 0
fi
cat "$OUT/linux-6.12.diff"
bad=$(grep -c '^-CASE ' "$OUT/linux-6.12.diff" || true)
echo "check-kernel: the kernel's transcript differs from ${REF#"$ROOT"/} (diff above)" >&2
echo "conformance (kernel): $((total - bad)) passed, $bad failed"
exit 1
