#!/bin/sh
# SPDX-License-Identifier: MIT
# test_vmm_example.sh - examples/vmm_map_info and examples/buffer_source under dmabuf-run: the
# VMM's decision for each heap, queried and guessed, the data through each kind of guest
# mapping, the --listen socket, and (when dmabuf-run has it) the coherency checker's verdict.
#
# usage: test_vmm_example.sh DMABUF_RUN VMM_MAP_INFO BUFFER_SOURCE   (TAP on stdout)
# $DMABUFD names the dmabufd that dmabuf-run --private starts.

set -u
run=$1 vmm=$2 src=$3
tmp=$(mktemp -d "${TMPDIR:-/tmp}/vmm-example.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT INT TERM
n=0
failed=0

point() {	# point STATUS DESCRIPTION: ok when STATUS is 0
	n=$((n + 1))
	if [ "$1" -eq 0 ]; then
		echo "ok $n - $2"
	else
		echo "not ok $n - $2"
		failed=$((failed + 1))
	fi
}

has_line() {	# has_line FILE LINE: FILE holds exactly LINE
	grep -qxF -- "$2" "$1"
}

line() {	# line HEAP MAP_INFO SOURCE GUEST TO_GUEST TO_HOST: the VMM's line for a buffer
	echo "heap=$1 exporter=$1 map_info=$2 source=$3 guest=$4 frames=3 to_guest=$5 to_host=$6"
}

show() {	# show FILE...: as TAP comments, for the log of a failure
	for f in "$@"; do
		sed 's/^/# /' "$f"
	done
}

# 1. The kernel answers DMA_BUF_IOCTL_INFO: one decision per map_info, data intact both ways.
"$run" --private -- "$vmm" -- "$src" >"$tmp/q.out" 2>"$tmp/q.err"
rc=$?
point $rc "queried: vmm_map_info exits 0 (every frame reached guest and source)"
has_line "$tmp/q.out" "$(line system COHERENT_CACHED queried cached ok ok)"
point $? "queried: system heap -> COHERENT_CACHED, guest maps it cached"
has_line "$tmp/q.out" "$(line system-uncached COHERENT_WC queried wc ok ok)"
point $? "queried: system-uncached heap -> COHERENT_WC, guest maps it write-combined"
has_line "$tmp/q.out" "$(line incoherent INCOHERENT queried shadow ok ok)"
point $? "queried: incoherent heap -> INCOHERENT, a shadow, bracketed copies move the data"
[ "$(wc -l <"$tmp/q.out")" -eq 3 ] && [ ! -s "$tmp/q.err" ]
point $? "queried: three buffers, nothing on stderr"
[ $failed -eq 0 ] || show "$tmp/q.out" "$tmp/q.err"

# 2. No ioctl (a kernel that refused the proposal): the exporter's name decides.  Right for
# the two coherent heaps; the incoherent one is guessed write-combined and mapped straight
# into the guest, so the guest reads stale frames and its answers never reach the source.
f0=$failed
"$run" --private -- "$vmm" --guess -- "$src" >"$tmp/g.out" 2>"$tmp/g.err"
rc=$?
[ $rc -eq 1 ]
point $? "guessed: vmm_map_info exits 1 (stale data), got $rc"
has_line "$tmp/g.out" "$(line system COHERENT_CACHED 'guessed(table)' cached ok ok)"
point $? "guessed: exporter 'system' -> COHERENT_CACHED from the table"
has_line "$tmp/g.out" "$(line system-uncached COHERENT_WC 'guessed(table)' wc ok ok)"
point $? "guessed: exporter 'system-uncached' -> COHERENT_WC from the table"
has_line "$tmp/g.out" "$(line incoherent COHERENT_WC 'guessed(default)' wc stale stale)"
point $? "guessed: exporter 'incoherent' unknown -> write-combined by default: stale both ways"
[ $failed -eq $f0 ] || show "$tmp/g.out" "$tmp/g.err"

# 3. The same conversation through vmm_map_info --listen PATH and buffer_source --connect PATH.
# The VMM says "waiting on PATH" on stderr, a FIFO, once it listens (EOF if it dies first).
f0=$failed
mkfifo "$tmp/fifo" || exit 1
sock="$tmp/vmm.sock"
# shellcheck disable=SC2016
"$run" --private -- sh -c '
	"$2" --listen "$4" 2>"$1" >"$5" &
	exec 3<"$1"
	read -r line <&3
	"$3" --connect "$4" system
	s=$?
	wait $!
	v=$?
	cat <&3 >&2
	echo "vmm: $line" >&2
	exit $((s * 16 + v))' sh "$tmp/fifo" "$vmm" "$src" "$sock" "$tmp/l.out" 2>"$tmp/l.err"
rc=$?
point $rc "listen: source and VMM exit 0 over a socket path"
has_line "$tmp/l.out" "$(line system COHERENT_CACHED queried cached ok ok)"
point $? "listen: system heap decided and served"
[ ! -e "$sock" ]
point $? "listen: the socket path is removed"
[ $failed -eq $f0 ] || show "$tmp/l.out" "$tmp/l.err"

# 4. The coherency checker (dmabuf-run --check-report=FILE, or the variable it sets for the
# library).  The bracketed shadow path is clean; the guessing VMM's guest touches the
# incoherent buffer outside any bracket and is caught, the source (always bracketed) is not.
if "$run" --help 2>/dev/null | grep -q -- '--check-report'; then
	checked() { r=$1; shift; "$run" --private --check-report="$r" -- "$@"; }
else
	checked() { r=$1; shift; DMABUF_CHECK_REPORT="$r" "$run" --private -- "$@"; }
fi
f0=$failed
checked "$tmp/q.json" "$vmm" -- "$src" incoherent >"$tmp/cq.out" 2>"$tmp/cq.err"
point $? "checker: the queried VMM and the source run (exit 0)"
! grep -q '"type":"violation"' "$tmp/q.json" && ! grep -q 'dmabuf-check' "$tmp/cq.err"
point $? "checker: nothing reported for the shadow path"
[ "$(grep -c '"type":"summary".*"violations":0,' "$tmp/q.json")" -eq 2 ]
point $? "checker: two summaries (VMM, source), both with 0 violations"
[ $failed -eq $f0 ] || show "$tmp/cq.out" "$tmp/cq.err" "$tmp/q.json"

f0=$failed
checked "$tmp/g.json" "$vmm" --guess -- "$src" incoherent >"$tmp/cg.out" 2>"$tmp/cg.err"
rc=$?
[ $rc -eq 1 ]
point $? "checker: the guessing VMM goes on after the report (stale data, exit 1), got $rc"
grep '"type":"violation"' "$tmp/g.json" | grep '"kind":"access-outside-bracket"' |
	grep '"program":"[^"]*vmm_map_info"' | grep -q '"name":"frames-incoherent"'
point $? "checker: the guessing VMM's guest access to frames-incoherent is access-outside-bracket"
grep -q 'outside a SYNC bracket \[access-outside-bracket\]' "$tmp/cg.err"
point $? "checker: the text report is on stderr"
! grep '"type":"violation"' "$tmp/g.json" | grep -q '"program":"[^"]*buffer_source"'
point $? "checker: nothing reported against the source (it brackets every access)"
[ $failed -eq $f0 ] || show "$tmp/cg.out" "$tmp/cg.err" "$tmp/g.json"

echo "1..$n"
[ $failed -eq 0 ]
