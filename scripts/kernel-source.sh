#!/usr/bin/env bash
# The kernel source the series is made for: one exact version of one Debian
# package, named in kernel/BASE (BASE_PACKAGE, BASE_VERSION, BASE_KERNEL and,
# for a package of another suite than the machine's, BASE_SUITE).
#
#   kernel-source.sh install   make exactly BASE_VERSION available (root):
#                              without BASE_SUITE it is installed with apt-get
#                              from the machine's own sources (replacing any
#                              other installed version, with a note saying so);
#                              with BASE_SUITE it is downloaded into
#                              $BUILD_DIR/kernel-source/ through a private apt
#                              state that leaves the machine's apt alone
#   kernel-source.sh tarball   print the path of the pinned source tarball
#   kernel-source.sh newest    print the newest version of BASE_PACKAGE the
#                              archive offers
#   kernel-source.sh fetch VERSION DIR
#                              download and unpack BASE_PACKAGE=VERSION into DIR
#                              and print its tarball (make kernel-check-newest)
#
# KERNEL_BASE_FILE overrides kernel/BASE; BASE_MIRROR the archive's URI for
# BASE_SUITE (default: the URI the machine's own sources use for Debian).
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD_DIR=${BUILD_DIR:-$ROOT/build}
BASE_FILE=${KERNEL_BASE_FILE:-$ROOT/kernel/BASE}
BASE_SUITE=
# shellcheck source=kernel/BASE
. "$BASE_FILE"

die() { echo "kernel-source: error: $*" >&2; exit 1; }
note() { echo "kernel-source: $*" >&2; }

for v in BASE_PACKAGE BASE_VERSION BASE_KERNEL; do
	[ -n "${!v:-}" ] || die "${BASE_FILE#"$ROOT"/} does not set $v"
done

# the tarball a linux-source-X.Y package ships
tarball_name() { echo "${BASE_PACKAGE}.tar.xz"; }

# --- a private apt state for BASE_SUITE, under build/
APT_DIR=$BUILD_DIR/apt/$BASE_SUITE
apt_private() {
	apt-get -q -o Dir::Etc::sourcelist="$APT_DIR/sources.list" \
		-o Dir::Etc::sourceparts=/nonexistent \
		-o Dir::State::Lists="$APT_DIR/lists" \
		-o Dir::State::status=/dev/null \
		-o Dir::Cache="$APT_DIR/cache" \
		-o Debug::NoLocking=1 "$@"
}
apt_cache_private() {
	apt-cache -o Dir::Etc::sourcelist="$APT_DIR/sources.list" \
		-o Dir::Etc::sourceparts=/nonexistent \
		-o Dir::State::Lists="$APT_DIR/lists" \
		-o Dir::State::status=/dev/null \
		-o Dir::Cache="$APT_DIR/cache" "$@"
}

private_update() {
	local mirror=${BASE_MIRROR:-}
	if [ -z "$mirror" ]; then
		# the URI the machine already uses for Debian's main archive
		mirror=$(apt-get indextargets --format '$(REPO_URI) $(RELEASE)' 2>/dev/null |
			awk '$2 !~ /-security$/ { print $1; exit }')
	fi
	[ -n "$mirror" ] || die "cannot tell which Debian archive this machine uses; set BASE_MIRROR"
	mkdir -p "$APT_DIR/lists/partial" "$APT_DIR/cache/archives/partial"
	echo "deb [arch=$(dpkg --print-architecture)] $mirror $BASE_SUITE main" >"$APT_DIR/sources.list"
	# a day-old list is good enough; the pinned version does not move
	if [ -z "$(find "$APT_DIR/lists" -name '*_Packages*' -mmin -1440 2>/dev/null)" ]; then
		apt_private update >"$APT_DIR/update.log" 2>&1 ||
			{ tail -n 5 "$APT_DIR/update.log" >&2; die "cannot read $BASE_SUITE from $mirror (log: $APT_DIR/update.log)"; }
	fi
}

# versions of BASE_PACKAGE the archive offers, one a line
offered() {
	if [ -n "$BASE_SUITE" ]; then
		apt_cache_private madison "$BASE_PACKAGE"
	else
		apt-cache madison "$BASE_PACKAGE"
	fi | awk -F'|' '{ gsub(/ /, "", $2); print $2 }' | sort -u
}

policy() {
	if [ -n "$BASE_SUITE" ]; then
		apt_cache_private policy "$BASE_PACKAGE"
	else
		apt-cache policy "$BASE_PACKAGE"
	fi
}

newest() {
	local v best=
	[ -z "$BASE_SUITE" ] || private_update
	for v in $(offered); do
		if [ -z "$best" ] || dpkg --compare-versions "$v" gt "$best"; then
			best=$v
		fi
	done
	echo "$best"
}

# stop when the archive does not offer the pinned version, saying what it
# offers and what to do
require_offered() {
	[ -z "$BASE_SUITE" ] || private_update
	if [ -z "$BASE_SUITE" ] && ! offered | grep -qxF "$BASE_VERSION"; then
		# the machine's lists may be missing or old: read them once anew
		apt_update_machine
	fi
	if ! offered | grep -qxF "$BASE_VERSION"; then
		{
			echo "kernel-source: error: the archive does not offer $BASE_PACKAGE $BASE_VERSION," \
			     "the version the series in kernel/patches is made for (kernel/BASE)."
			echo "It offers:"
			policy | sed 's/^/  /'
			echo "To move the series to one of those versions: make kernel-check-newest shows" \
			     "which patches no longer apply; rebase them in build/linux, re-export" \
			     "and bump kernel/BASE (docs/development.md, \"Moving the base\")."
		} >&2
		exit 1
	fi
}

SUDO=
apt_update_machine() {
	if [ "$(id -u)" -ne 0 ]; then
		command -v sudo >/dev/null || die "need root (or sudo) to install $BASE_PACKAGE $BASE_VERSION"
		SUDO=sudo
	fi
	# lists read within the day are as good as new
	[ -n "$(find /var/lib/apt/lists -maxdepth 1 -name '*_Packages*' -mmin -1440 2>/dev/null)" ] && return 0
	$SUDO apt-get update -q >/dev/null 2>&1 || note "warning: apt-get update failed; using the lists as they are"
}

# the installed version, or nothing (dpkg-query fails for a package it never saw)
installed_version() {
	{ dpkg-query -W -f='${Status} ${Version}\n' "$BASE_PACKAGE" 2>/dev/null || true; } |
		awk '$1 == "install" && $3 == "installed" { print $4 }'
}

cmd_tarball() {
	if [ -n "$BASE_SUITE" ]; then
		echo "$BUILD_DIR/kernel-source/${BASE_PACKAGE}_$BASE_VERSION/usr/src/$(tarball_name)"
	else
		echo "/usr/src/$(tarball_name)"
	fi
}

# download BASE_PACKAGE=$1 and unpack it into $2
fetch() {
	local ver=$1 dir=$2 deb
	mkdir -p "$dir.dl"
	if [ -n "$BASE_SUITE" ]; then
		private_update
		(cd "$dir.dl" && apt_private download "$BASE_PACKAGE=$ver") >"$dir.dl/log" 2>&1
	else
		(cd "$dir.dl" && apt-get -q download "$BASE_PACKAGE=$ver") >"$dir.dl/log" 2>&1
	fi || { tail -n 5 "$dir.dl/log" >&2; die "cannot download $BASE_PACKAGE $ver"; }
	deb=$(find "$dir.dl" -name "${BASE_PACKAGE}_*.deb" | head -n 1)
	[ -n "$deb" ] || die "apt-get download left no ${BASE_PACKAGE} package in $dir.dl"
	rm -rf "$dir"
	dpkg-deb -x "$deb" "$dir.tmp" || die "cannot unpack $deb"
	mv "$dir.tmp" "$dir"
	rm -rf "$dir.dl"
}

cmd_install() {
	local have
	if [ -n "$BASE_SUITE" ]; then
		[ -r "$(cmd_tarball)" ] && return 0
		require_offered
		note "fetching $BASE_PACKAGE $BASE_VERSION from $BASE_SUITE into" \
		     "${BUILD_DIR#"$ROOT"/}/kernel-source/ (the machine's apt configuration is not touched)"
		fetch "$BASE_VERSION" "$BUILD_DIR/kernel-source/${BASE_PACKAGE}_$BASE_VERSION"
		[ -r "$(cmd_tarball)" ] || die "$BASE_PACKAGE $BASE_VERSION has no $(cmd_tarball)"
		return 0
	fi
	have=$(installed_version)
	[ "$have" = "$BASE_VERSION" ] && return 0
	require_offered
	if [ -n "$have" ]; then
		note "installing $BASE_PACKAGE $BASE_VERSION in place of $have: the series is made for" \
		     "that exact version (kernel/BASE)"
	else
		note "installing $BASE_PACKAGE $BASE_VERSION, the version the series is made for (kernel/BASE)"
	fi
	local log
	if [ "$(id -u)" -ne 0 ]; then
		command -v sudo >/dev/null || die "need root (or sudo) to install $BASE_PACKAGE $BASE_VERSION"
		SUDO=sudo
	fi
	log=$(mktemp /tmp/tsmtrace-kernel-source.XXXXXX)
	if ! DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends \
		--allow-downgrades "$BASE_PACKAGE=$BASE_VERSION" >"$log" 2>&1; then
		tail -n 20 "$log" >&2
		die "apt-get could not install $BASE_PACKAGE=$BASE_VERSION (full log: $log)"
	fi
	rm -f "$log"
}

case "${1:-}" in
install) cmd_install ;;
tarball) cmd_tarball ;;
newest) newest ;;
offered) [ -z "$BASE_SUITE" ] || private_update; offered ;;
fetch) [ $# -eq 3 ] || die "usage: $0 fetch VERSION DIR"; fetch "$2" "$3"; echo "$3/usr/src/$(tarball_name)" ;;
*) echo "usage: $0 install|tarball|newest|offered|fetch VERSION DIR" >&2; exit 2 ;;
esac
