#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# boot.sh - run a static program as /init's child inside Debian's 6.12 kernel under QEMU (TCG).
#
# usage: boot.sh [-t SECONDS] PROGRAM [ARGS...]
#
# The guest has the system dma-heap and udmabuf (built into Debian's kernel), debugfs mounted at
# /sys/kernel/debug and the out-of-tree sw_sync.ko loaded (run prepare.sh first).  The program
# runs as /PROGRAM-NAME with its stdout and stderr on the guest's second serial port, which is
# copied to this script's stdout.  Exit status: the program's, or 125 when the guest did not
# report one (boot failure, panic, timeout).
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/env.sh"

TIMEOUT=900
while getopts "t:" o; do
	case $o in
	t) TIMEOUT=$OPTARG ;;
	*) sed -n '3,11p' "$0" >&2; exit 2 ;;
	esac
done
shift $((OPTIND - 1))
[ $# -ge 1 ] || { sed -n '3,11p' "$0" >&2; exit 2; }
PROG=$(readlink -f "$1")
shift
[ -x "$PROG" ] || { echo "boot.sh: not an executable: $PROG" >&2; exit 2; }
VMLINUZ=$KDIR/image/boot/vmlinuz-$KVER
KO=$KDIR/sw_sync/sw_sync.ko
[ -f "$VMLINUZ" ] && [ -f "$KO" ] || { echo "boot.sh: run prepare.sh first" >&2; exit 2; }

WORK=$(mktemp -d "${TMPDIR:-/tmp}/conform-boot.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
R=$WORK/root
mkdir -p "$R/bin" "$R/dev" "$R/proc" "$R/sys" "$R/tmp"
cp /bin/busybox "$R/bin/busybox"
cp "$KO" "$R/sw_sync.ko"
NAME=$(basename "$PROG")
cp "$PROG" "$R/$NAME"
: >"$R/args"
for a in "$@"; do printf '%s\n' "$a" >>"$R/args"; done
cat >"$R/init" <<INIT
#!/bin/busybox sh
/bin/busybox --install -s /bin
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mount -t debugfs debugfs /sys/kernel/debug
mount -t tmpfs tmpfs /tmp
dmesg -n 1
out=/dev/ttyS1
stty -F \$out raw -echo 2>/dev/null
insmod /sw_sync.ko || echo "boot.sh: insmod sw_sync.ko failed" >\$out
set --
while IFS= read -r a; do set -- "\$@" "\$a"; done </args
cd /tmp
/$NAME "\$@" >\$out 2>&1
echo "CONFORM_EXIT=\$?" >\$out
poweroff -f
INIT
chmod 755 "$R/init"
(cd "$R" && find . | cpio -o -H newc --quiet | gzip -1) >"$WORK/initrd.gz"

# One vCPU by default: under multi-threaded TCG, a 2-vCPU guest sometimes
# oopses on an int3 while the kernel patches its own text during boot
# (seen in sched_clock_cpu), before our program runs.  The transcript is the
# same with 1 or 2 vCPUs.  A guest that still dies before reporting is
# booted once more: that is the emulator's flake, not a result.
boot_once() {
	: >"$WORK/out.txt"
	timeout "$TIMEOUT" qemu-system-x86_64 -accel tcg -cpu max -smp "${CONFORMANCE_SMP:-1}" -m 1024 \
		-kernel "$VMLINUZ" -initrd "$WORK/initrd.gz" \
		-append "console=ttyS0 quiet panic=-1 oops=panic" \
		-display none -nodefaults -no-reboot \
		-serial "file:$WORK/console.txt" -serial "file:$WORK/out.txt" \
		</dev/null >"$WORK/qemu.txt" 2>&1
}

set +e
for attempt in 1 2; do
	boot_once
	qrc=$?
	grep -q '^CONFORM_EXIT=' "$WORK/out.txt" && break
	# only a guest that never started the program is booted again
	[ -s "$WORK/out.txt" ] && break
	echo "boot.sh: the guest died before running the suite (attempt $attempt)" >&2
done
set -e
tr -d '\r' <"$WORK/out.txt" | grep -v '^CONFORM_EXIT=' || true
rc=$(tr -d '\r' <"$WORK/out.txt" | sed -n 's/^CONFORM_EXIT=\([0-9]*\)$/\1/p' | tail -1)
if [ -z "$rc" ]; then
	echo "boot.sh: the guest reported no exit status (qemu status $qrc); console:" >&2
	tail -n 40 "$WORK/console.txt" "$WORK/qemu.txt" >&2
	exit 125
fi
exit "$rc"
