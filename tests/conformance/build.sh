#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# build.sh - compile the conformance suite with a plain C compiler (libc + pthreads only).
#
# usage: build.sh [--static] OUTPUT
#
# --static links it statically, as the kernel guest needs (it has no libc); without it the
# binary is dynamically linked, as dmabuf-run needs (its preload library must see the calls).
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
static=
if [ "${1:-}" = --static ]; then
	static=-static
	shift
fi
[ $# -eq 1 ] || { sed -n '3,7p' "$0" >&2; exit 2; }
mkdir -p "$(dirname "$1")"
${CC:-cc} -std=gnu11 -D_GNU_SOURCE -O2 -g -Wall -Wextra -Wshadow -Wstrict-prototypes \
	-Wmissing-prototypes -Wno-unused-parameter -Wno-missing-field-initializers \
	$static -pthread -I"$HERE/src" -o "$1" "$HERE"/src/*.c
