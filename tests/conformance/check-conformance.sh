#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# check-conformance.sh - run the conformance suite under dmabuf-run (libdmabuf, no kernel
# driver) and compare its transcript with the real kernel's reference.
#
# usage: check-conformance.sh
#
# Exit status: 0 the transcripts agree (apart from listed deviations), 1 they differ (or the
# suite broke), 2 usage or build error, 77 SKIPPED: dmabuf-run was not found.
#
# dmabuf-run is looked for in $DMABUF_RUN, then in PATH, then under the meson build directory
# ($BUILD, default build).  The suite is built dynamically linked (the preload library must see
# its libc calls).  A case may differ from the reference only when expectations.txt lists it,
# with the result libdmabuf prints instead and a reason id that docs/deviations.md explains.
#
# With CONFORMANCE_CHECK_COHERENCY=1 the suite runs under the coherency checker
# (dmabuf-run --check-coherency, docs/coherency.md) as well: the transcript must still agree,
# and the checker must report nothing (every mapping access of the suite is bracketed).
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
REF=$HERE/reference/linux-6.12.txt
EXPECT=$HERE/expectations.txt
DEVDOC=$ROOT/docs/deviations.md
OUT=${CONFORMANCE_BUILD:-$ROOT/build-conformance}
BUILD=${BUILD:-build}

run=${DMABUF_RUN:-}
[ -n "$run" ] || run=$(command -v dmabuf-run 2>/dev/null || true)
[ -n "$run" ] || run=$(find "$ROOT/$BUILD" -name dmabuf-run -type f -perm -u+x 2>/dev/null |
	head -1 || true)
if [ -z "$run" ] || [ ! -x "$run" ]; then
	echo "check-conformance: SKIPPED: dmabuf-run not found (not built yet: issue B2)." >&2
	echo "check-conformance: set DMABUF_RUN=/path/to/dmabuf-run to point at one." >&2
	exit 77
fi

"$HERE/build.sh" "$OUT/dynamic/dmabuf-conform" || exit 2
log=$OUT/libdmabuf.log
checked=()
report=$OUT/coherency-report.jsonl
if [ "${CONFORMANCE_CHECK_COHERENCY:-}" = 1 ]; then
	checked=(--check-coherency --check-report="$report")
fi
set +e
# a private broker: nothing of a user's own broker is touched or reused
"$run" --private "${checked[@]}" -- "$OUT/dynamic/dmabuf-conform" >"$log" 2>&1
rc=$?
set -e
grep '^CASE ' "$log" >"$OUT/libdmabuf.txt" || true
echo "check-conformance: $run: exit $rc, $(wc -l <"$OUT/libdmabuf.txt") cases ($log)"

# expectations: NAME-GLOB | RESULT (or *) | REASON-ID: text
declare -a pat res why
while IFS= read -r line; do
	case $line in '#'* | '') continue ;; esac
	IFS='|' read -r p r w <<<"$line"
	p=$(echo "$p" | xargs) r=$(echo "$r" | sed 's/^ *//; s/ *$//') w=$(echo "$w" | sed 's/^ *//')
	id=${w%%:*}
	if ! grep -qF -- "$id" "$DEVDOC"; then
		echo "check-conformance: expectations.txt: reason '$id' is not in docs/deviations.md" >&2
		exit 2
	fi
	pat+=("$p") res+=("$r") why+=("$w")
done <"$EXPECT"

declare -A kernel ours
declare -a order
while IFS= read -r l; do
	n=${l#CASE }; n=${n%%: *}; kernel[$n]=${l#"CASE $n: "}; order+=("$n")
done < <(grep '^CASE ' "$REF")
while IFS= read -r l; do
	n=${l#CASE }; n=${n%%: *}; ours[$n]=${l#"CASE $n: "}
done <"$OUT/libdmabuf.txt"

allowed() { # name result -> prints the reason when an expectation covers it
	local i
	for i in "${!pat[@]}"; do
		# shellcheck disable=SC2053
		if [[ $1 == ${pat[$i]} ]] && { [ "${res[$i]}" = '*' ] || [ "${res[$i]}" = "$2" ]; }; then
			echo "${why[$i]}"
			return 0
		fi
	done
	return 1
}

nd=0 ndev=0 nextra=0
: >"$OUT/conformance.diff"
for n in "${order[@]}"; do
	k=${kernel[$n]}
	o=${ours[$n]-<missing>}
	if [ "$k" = "$o" ]; then
		continue
	elif reason=$(allowed "$n" "$o"); then
		ndev=$((ndev + 1))
		echo "deviation: $n: $reason" >>"$OUT/conformance.diff"
	else
		nd=$((nd + 1))
		printf 'DIFF %s\n  kernel:    %s\n  libdmabuf: %s\n' "$n" "$k" "$o" >>"$OUT/conformance.diff"
	fi
done
while IFS= read -r l; do
	n=${l#CASE }; n=${n%%: *}
	[ -z "${kernel[$n]+x}" ] || continue
	nextra=$((nextra + 1))
	printf 'DIFF %s\n  kernel:    <no such case>\n  libdmabuf: %s\n' "$n" "${ours[$n]}" \
		>>"$OUT/conformance.diff"
done <"$OUT/libdmabuf.txt"
cat "$OUT/conformance.diff"
total=${#order[@]}
echo "check-conformance: $total cases, $ndev allowed deviations, $nd differ, $nextra unknown"
echo "conformance (libdmabuf): $((total - nd)) passed, $((nd + nextra)) failed"
nd=$((nd + nextra))
if [ ${#checked[@]} -gt 0 ]; then
	nv=$(grep -c '"type":"violation"' "$report" || true)
	echo "check-conformance: coherency checker: $nv violations ($report)"
	grep -A12 '^dmabuf-check:' "$log" | head -60 || true
	[ "$nv" = 0 ] || exit 1
fi
[ "$nd" = 0 ] && [ "$rc" -le 1 ] || exit 1
