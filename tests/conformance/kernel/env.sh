# SPDX-License-Identifier: MIT
# env.sh - settings shared by the conformance kernel scripts (sourced, not run).
#
#   LIBDMABUF_CACHE    cache root (default ~/.cache/libdmabuf)
#   CONFORMANCE_KABI   Debian kernel ABI name (default 6.12.117+deb12)
CACHE=${LIBDMABUF_CACHE:-${XDG_CACHE_HOME:-${HOME:-/tmp}/.cache}/libdmabuf}
KABI=${CONFORMANCE_KABI:-6.12.117+deb12}
KVER=$KABI-amd64
KDIR=$CACHE/linux-$KABI
SUDO=
[ "$(id -u)" = 0 ] || SUDO=sudo
