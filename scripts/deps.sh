#!/usr/bin/env bash
# Install every Debian package the build and the tests need.
#
# Idempotent: when everything is present it only asks dpkg and returns.
# The kernel source is not in the list: it is one exact version, named in
# kernel/BASE and installed by scripts/kernel-source.sh at the end.
# Run as root (or with sudo available); CI runs it on a fresh Debian 12.
set -euo pipefail

PKGS=(
	# kernel build
	bc bison flex libssl-dev libelf-dev dwarves ccache
	xz-utils cpio kmod rsync git make gcc libc6-dev pkg-config patch
	# lab VM
	qemu-system-x86
	# BPF programs, skeletons and the frontend
	clang llvm libbpf-dev bpftool zlib1g-dev libcap-dev
	# the trace file's compressed blocks
	libzstd-dev
	# check and report of trace-cmd's trace.dat (tools/tsmtrace/tracedat.c);
	# libtracecmd-dev pulls in libtracefs-dev, named for pkg-config's sake
	libtracecmd-dev libtraceevent-dev libtracefs-dev
	# comparison figures in the benchmarks, and the lab's trace.dat recordings
	trace-cmd
	# the host tests of tsmtrace's output: its JSON against the schema, its
	# SVG timeline rendered
	python3-jsonschema librsvg2-bin
)

missing=()
for p in "${PKGS[@]}"; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q '^install ok installed$'; then
		missing+=("$p")
	fi
done

if [ ${#missing[@]} -eq 0 ]; then
	exec "$(dirname "$0")/kernel-source.sh" install
fi

echo "deps: installing ${missing[*]}"
SUDO=
if [ "$(id -u)" -ne 0 ]; then
	if command -v sudo >/dev/null; then
		SUDO=sudo
	else
		echo "deps: error: need root (or sudo) to install: ${missing[*]}" >&2
		exit 1
	fi
fi
export DEBIAN_FRONTEND=noninteractive
log=$(mktemp /tmp/tsmtrace-deps.XXXXXX)
if ! { $SUDO apt-get update -q && \
       $SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"; } >"$log" 2>&1; then
	tail -n 30 "$log" >&2
	echo "deps: error: apt-get failed installing: ${missing[*]} (full log: $log)" >&2
	echo "deps: check that Debian's package archive is reachable and the names exist (apt-cache policy NAME)" >&2
	exit 1
fi
rm -f "$log"
echo "deps: done"
exec "$(dirname "$0")/kernel-source.sh" install
