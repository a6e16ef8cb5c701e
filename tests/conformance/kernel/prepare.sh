#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# prepare.sh - fetch Debian's Linux 6.12 kernel and build the out-of-tree sw_sync module.
#
# usage: prepare.sh
#
# Everything lands in $KDIR (see env.sh): the kernel image, the headers and
# kbuild tree, the dma-buf sources of linux-source-6.12 and sw_sync.ko built from them.  Each
# step is skipped when its result is already there, so a warm run costs nothing.  Host tools
# (qemu-system-x86, busybox-static, cpio, a compiler, make) are installed with apt-get when
# missing; `apt-get update` runs only when an install or a download fails.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/env.sh"

log() { printf 'prepare: %s\n' "$*" >&2; }

# apt-get, refreshing the package lists once if they are empty or the first try fails
apt_updated=0
apt_refresh() {
	[ "$apt_updated" = 1 ] && return 1
	log "apt-get update"
	$SUDO apt-get update -q >&2 || true
	apt_updated=1
}
apt_install() {
	log "installing $*"
	export DEBIAN_FRONTEND=noninteractive
	$SUDO apt-get install -y -q --no-install-recommends "$@" >&2 && return 0
	apt_refresh && $SUDO apt-get install -y -q --no-install-recommends "$@" >&2
}
apt_download() { # pkg=ver, into the current directory
	apt-get download "$1" >&2 2>/dev/null && return 0
	apt_refresh && apt-get download "$1" >&2
}

# ---- host tools ----
need=()
command -v qemu-system-x86_64 >/dev/null || need+=(qemu-system-x86)
{ [ -x /bin/busybox ] && file -L /bin/busybox 2>/dev/null | grep -Eq 'statically linked|static-pie linked'; } ||
	need+=(busybox-static)
command -v cpio >/dev/null || need+=(cpio)
command -v xz >/dev/null || need+=(xz-utils)
command -v zstd >/dev/null || need+=(zstd)
command -v make >/dev/null || need+=(make)
command -v gcc >/dev/null || need+=(gcc)
command -v file >/dev/null || need+=(file)
[ ${#need[@]} -eq 0 ] || apt_install "${need[@]}"
if ! file -L /bin/busybox | grep -Eq 'statically linked|static-pie linked'; then
	# busybox (dynamic) and busybox-static conflict: ask for the static one explicitly
	apt_install busybox-static
fi

mkdir -p "$KDIR" "$KDIR/debs"

# ---- which Debian package version (cached: a warm run asks apt nothing) ----
if [ ! -s "$KDIR/debversion" ]; then
	v=$(apt-cache show --no-all-versions "linux-image-$KABI-amd64" 2>/dev/null |
		sed -n 's/^Version: //p' | head -1)
	if [ -z "$v" ]; then
		apt_refresh || true
		v=$(apt-cache show --no-all-versions "linux-image-$KABI-amd64" 2>/dev/null |
			sed -n 's/^Version: //p' | head -1)
	fi
	[ -n "$v" ] || { log "apt knows no linux-image-$KABI-amd64 (set CONFORMANCE_KABI)"; exit 1; }
	echo "$v" >"$KDIR/debversion"
fi
DEBVER=$(cat "$KDIR/debversion")

fetch() { # package name; version is DEBVER
	ls "$KDIR/debs/$1"_*.deb >/dev/null 2>&1 && return 0
	log "downloading $1=$DEBVER"
	(cd "$KDIR/debs" && apt_download "$1=$DEBVER")
}

# ---- kernel image (dma-heap, udmabuf and sync_file are built in: no modules needed) ----
if [ ! -f "$KDIR/image/.done" ]; then
	fetch "linux-image-$KABI-amd64"
	rm -rf "$KDIR/image" && mkdir -p "$KDIR/image"
	dpkg-deb --fsys-tarfile "$KDIR/debs/linux-image-$KABI-amd64"_*.deb |
		tar -x -C "$KDIR/image" ./boot
	touch "$KDIR/image/.done"
	rm -f "$KDIR/debs/linux-image-$KABI-amd64"_*.deb
fi

# headers + kbuild, to build a module against this exact kernel (removed again after use)
unpack_headers() {
	if [ ! -f "$KDIR/hdr/.done" ]; then
		for p in "linux-headers-$KABI-amd64" "linux-headers-$KABI-common" "linux-kbuild-$KABI"; do
			fetch "$p"
		done
		rm -rf "$KDIR/hdr"
		for p in "linux-headers-$KABI-amd64" "linux-headers-$KABI-common" "linux-kbuild-$KABI"; do
			dpkg-deb -x "$KDIR/debs/$p"_*.deb "$KDIR/hdr"
		done
		# the flavour's Makefile includes the common tree by an absolute /usr/src path
		sed -i "s#^include /usr/src/#include $KDIR/hdr/usr/src/#" \
			"$KDIR/hdr/usr/src/linux-headers-$KABI-amd64/Makefile"
		touch "$KDIR/hdr/.done"
	fi
}

# ---- drivers/dma-buf of linux-source-6.12 ----
if [ ! -f "$KDIR/src/.done" ]; then
	fetch "linux-source-6.12"
	rm -rf "$KDIR/src" "$KDIR/src.tmp"
	mkdir -p "$KDIR/src.tmp"
	dpkg-deb --fsys-tarfile "$KDIR/debs/linux-source-6.12"_*.deb |
		tar -x -C "$KDIR/src.tmp" --wildcards './usr/src/linux-source-6.12.tar.*'
	log "unpacking drivers/dma-buf from linux-source-6.12"
	tar -x -C "$KDIR/src.tmp" -f "$KDIR/src.tmp"/usr/src/linux-source-6.12.tar.* \
		linux-source-6.12/drivers/dma-buf
	mv "$KDIR/src.tmp/linux-source-6.12/drivers/dma-buf" "$KDIR/src"
	rm -rf "$KDIR/src.tmp"
	touch "$KDIR/src/.done"
	rm -f "$KDIR/debs/linux-source-6.12"_*.deb # 150 MB, of which we keep 300 KB
fi

# ---- sw_sync.ko (CONFIG_SW_SYNC is not set in Debian's build) ----
glue_sum=$(cat "$HERE/sw_sync_glue.c" "$HERE/Kbuild.sw_sync" | md5sum | cut -d' ' -f1)
M=$KDIR/sw_sync
if [ ! -f "$M/sw_sync.ko" ] || [ "$(cat "$M/.sum" 2>/dev/null)" != "$glue_sum" ]; then
	log "building sw_sync.ko"
	unpack_headers
	rm -rf "$M" && mkdir -p "$M"
	# sw_sync.o is the module's own name, so the driver file is renamed
	cp "$KDIR/src/sw_sync.c" "$M/sw_sync_drv.c"
	cp "$KDIR/src/sync_debug.c" "$KDIR/src/sync_debug.h" "$KDIR/src/sync_trace.h" "$M/"
	# trace header: look for itself next to the sources, not in the kernel tree
	sed -i 's|^#define TRACE_INCLUDE_PATH .*|#define TRACE_INCLUDE_PATH .|' "$M/sync_trace.h"
	cp "$HERE/sw_sync_glue.c" "$M/"
	cp "$HERE/Kbuild.sw_sync" "$M/Kbuild"
	# no pahole on the host: skip BTF for the module
	make -s -C "$KDIR/hdr/usr/src/linux-headers-$KABI-amd64" M="$M" \
		CONFIG_DEBUG_INFO_BTF_MODULES= modules >&2
	echo "$glue_sum" >"$M/.sum"
	rm -rf "$KDIR/hdr" # 95 MB; the .debs stay for the next rebuild
fi
log "ready: $KDIR (kernel $KVER, Debian $DEBVER)"
