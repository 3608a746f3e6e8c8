#!/usr/bin/env bash
# The kernel pipeline: the Debian kernel source named in kernel/BASE (one
# exact package version) + the project's patch series + the lab config
# fragment -> bzImage, built out of tree with ccache.
#
#   kernel.sh prepare   unpack the base (once), apply kernel/patches/*.patch
#   kernel.sh config    tinyconfig + kernel/lab.config, checked
#   kernel.sh build     prepare + config + bzImage + uapi headers
#   kernel.sh export    write the tree's commits since the base to kernel/patches/
#   kernel.sh reset     drop the source tree's local commits and re-apply the series
#   kernel.sh status    what is applied, what is unexported
#   kernel.sh check-newest
#                       apply the series to the newest version of the base
#                       package the archive offers (in $BUILD_DIR/check-newest)
#                       and say which patches no longer apply
#
# Layout (BUILD_DIR defaults to <repo>/build, git-ignored):
#   $BUILD_DIR/linux    source tree, a git repository; tag "tsm-base" is the
#                       pristine Debian source, one commit per patch above it
#   $BUILD_DIR/kbuild   object tree (O=), bzImage in arch/x86/boot/
#   $BUILD_DIR/kbuild/usr/include   installed uapi headers for tools and tests
#
# KERNEL_STOCK=1 builds the base as shipped, without the series and without
# kernel/series.config (the options of the series' own code, merged after
# lab.config otherwise), in $BUILD_DIR/linux-stock and kbuild-stock (the
# stock kernel of make kernel-stock).
# KERNEL_TARBALL, KERNEL_PATCHES, KERNEL_FRAGMENT and KERNEL_BASE_FILE
# override the source tarball, the series directory, the config fragments (a
# space-separated list, merged in order) and the BASE file (the pipeline's own
# tests use them). A source of another version than kernel/BASE names is
# refused unless KERNEL_ALLOW_OTHER_BASE=1, which warns and tries. KERNEL_OBJ
# builds another configuration of the same source tree in its own object tree
# (make kernel-kasan: build/kbuild-kasan), with its log beside it
# (KERNEL_OBJ.log). KERNEL_CHECK_LAST=1 checks only the options of the last
# fragment after olddefconfig (scripts/kernel-configs.sh switches an option
# off, and with it the options of the others that depend on it).
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD_DIR=${BUILD_DIR:-$ROOT/build}
SERIES=$ROOT/kernel
SFX=
if [ "${KERNEL_STOCK:-0}" = 1 ]; then
	# the base as shipped, in trees of its own
	SFX=-stock
	KERNEL_PATCHES=$BUILD_DIR/.no-patches
fi
SRC=$BUILD_DIR/linux$SFX
KB=${KERNEL_OBJ:-$BUILD_DIR/kbuild$SFX}
PATCHES=${KERNEL_PATCHES:-$SERIES/patches}
FRAGMENT=${KERNEL_FRAGMENT:-$SERIES/lab.config}
# options only the series' own code has (its Kconfig symbols) come after
# the lab fragment, and not into the stock kernel
if [ -z "${KERNEL_FRAGMENT:-}" ] && [ "${KERNEL_STOCK:-0}" != 1 ] && [ -f "$SERIES/series.config" ]; then
	FRAGMENT="$FRAGMENT $SERIES/series.config"
fi
BASE_FILE=${KERNEL_BASE_FILE:-$SERIES/BASE}
REL_PATCHES=${PATCHES#"$ROOT"/}
LOG=$BUILD_DIR/kernel-build$SFX.log
[ -n "${KERNEL_OBJ:-}" ] && LOG=$KB.log
JOBS=${JOBS:-$(nproc)}

# shellcheck source=kernel/BASE
. "$BASE_FILE"
export KERNEL_BASE_FILE=$BASE_FILE BUILD_DIR
TARBALL=${KERNEL_TARBALL:-$("$ROOT/scripts/kernel-source.sh" tarball)}

die() { echo "kernel: error: $*" >&2; exit 1; }
info() { echo "kernel: $*"; }

# git in directory $1, with an identity for the commits the pipeline makes
git_in() {
	local dir=$1
	shift
	git -C "$dir" -c user.name="tsmtrace build" -c user.email="build@tsmtrace.invalid" -c gc.auto=0 \
		-c advice.detachedHead=false "$@"
}
git_src() { git_in "$SRC" "$@"; }

# the series, in application order
series_files() {
	local p
	for p in "$PATCHES"/*.patch; do
		[ -e "$p" ] && echo "$p"
	done
	return 0
}

# what the source tree was made from: the tarball's path, size and date
tarball_id() {
	stat -L -c '%n %s %Y' "$TARBALL" 2>/dev/null || echo "$TARBALL"
}

series_hash() {
	series_files | xargs -r cat | sha256sum | cut -d' ' -f1
}

# the source in $1 must be Linux $BASE_KERNEL
check_base_version() {
	local v
	v=$(make -s -C "$1" kernelversion 2>/dev/null) || die "cannot read the kernel version of $1"
	[ "$v" = "$BASE_KERNEL" ] && return 0
	if [ "${KERNEL_ALLOW_OTHER_BASE:-0}" = 1 ]; then
		echo "kernel: warning: the source is Linux $v, the series is made for $BASE_KERNEL" \
		     "($BASE_PACKAGE $BASE_VERSION); trying anyway (KERNEL_ALLOW_OTHER_BASE=1)" >&2
		return 0
	fi
	die "the source is Linux $v but the series in $REL_PATCHES is made for $BASE_KERNEL" \
	    "($BASE_PACKAGE $BASE_VERSION, kernel/BASE): run make deps to install that version," \
	    "or set KERNEL_ALLOW_OTHER_BASE=1 to try this one"
}

# unpack tarball $1 into a new git repository $2: tag debian-source is the
# source as shipped, tag tsm-base the same without Debian's top-level ignore
unpack_base() {
	local tarball=$1 dest=$2 v
	[ -r "$tarball" ] || die "$tarball not found: install $BASE_PACKAGE $BASE_VERSION (make deps)"
	info "unpacking $(basename "$tarball")"
	rm -rf "$dest" "$dest.tmp"
	mkdir -p "$dest.tmp"
	tar -xf "$tarball" -C "$dest.tmp" --strip-components=1 || die "cannot unpack $tarball"
	mv "$dest.tmp" "$dest"
	v=$(make -s -C "$dest" kernelversion 2>/dev/null) || die "cannot read the kernel version of $dest"
	git -C "$dest" init -q
	git_in "$dest" add -A -f .
	git_in "$dest" commit -q -m "Linux $v (Debian $BASE_PACKAGE)"
	git_in "$dest" tag debian-source
	# Debian's .gitignore ignores every top-level path (its packaging
	# repository holds only debian/); without this, new files in the
	# tree would be invisible to git. Not part of the series.
	sed -i '/^# Debian packaging: ignore everything/,$d' "$dest/.gitignore"
	sed -i -e :a -e '/^\n*$/{$d;N;ba' -e '}' "$dest/.gitignore"
	sed -i '$ {/^#$/d}' "$dest/.gitignore"
	git_in "$dest" commit -q -a -m "lab: track the whole tree (drop Debian's top-level ignore)"
	git_in "$dest" tag tsm-base
}

apply_series() {
	local p n=0
	for p in $(series_files); do
		if ! git_src am --quiet --keep-cr "$p" >/dev/null 2>"$BUILD_DIR/am.err"; then
			git_src am --abort >/dev/null 2>&1 || true
			cat "$BUILD_DIR/am.err" >&2
			die "patch ${p#"$ROOT"/} does not apply to the base; the source tree was left at the" \
			    "base plus the $n patches before it ($SRC)"
		fi
		n=$((n + 1))
	done
	series_hash >"$SRC/.git/tsm-series"
	git_src rev-parse HEAD >"$SRC/.git/tsm-head"
	info "applied $n patch(es) on $(make -s -C "$SRC" kernelversion)"
}

tree_has_local_work() {
	[ -n "$(git_src status --porcelain --untracked-files=no)" ] && return 0
	[ "$(git_src rev-parse HEAD)" != "$(cat "$SRC/.git/tsm-head" 2>/dev/null)" ] && return 0
	return 1
}

cmd_prepare() {
	mkdir -p "$BUILD_DIR"
	if [ -d "$SRC/.git" ] && [ ! -f "$SRC/.git/tsm-tarball" ] &&
	   [ "$(make -s -C "$SRC" kernelversion 2>/dev/null)" = "$BASE_KERNEL" ]; then
		# a tree made before the pipeline recorded its tarball
		tarball_id >"$SRC/.git/tsm-tarball"
	fi
	if [ -d "$SRC/.git" ] && [ "$(cat "$SRC/.git/tsm-tarball" 2>/dev/null)" != "$(tarball_id)" ]; then
		# kernel/BASE (or KERNEL_TARBALL) names another source than the
		# tree was made from: start anew, unless that loses work
		if tree_has_local_work; then
			die "kernel/BASE names another source than $SRC was made from, and $SRC has" \
			    "changes that are not in $REL_PATCHES; export them (make kernel-export)" \
			    "or drop them (make kernel-reset) first"
		fi
		info "the base changed: unpacking it anew"
		rm -rf "$SRC"
	fi
	if [ ! -d "$SRC/.git" ]; then
		if [ ! -r "$TARBALL" ] && [ -z "${KERNEL_TARBALL:-}" ] && [ -n "${BASE_SUITE:-}" ]; then
			# a base from another suite is fetched into build/, not installed
			"$ROOT/scripts/kernel-source.sh" install
		fi
		[ -r "$TARBALL" ] || die "$TARBALL not found: install $BASE_PACKAGE $BASE_VERSION (make deps)"
		unpack_base "$TARBALL" "$SRC.new"
		check_base_version "$SRC.new"
		mv "$SRC.new" "$SRC"
		tarball_id >"$SRC/.git/tsm-tarball"
		git_src rev-parse HEAD >"$SRC/.git/tsm-head"
		apply_series
		return
	fi
	check_base_version "$SRC"
	if [ "$(series_hash)" = "$(cat "$SRC/.git/tsm-series" 2>/dev/null)" ]; then
		return
	fi
	if tree_has_local_work; then
		die "$REL_PATCHES changed, but $SRC has changes that are not in $REL_PATCHES;" \
		    "run 'make kernel-export' to keep them or 'make kernel-reset' to drop them"
	fi
	info "series changed: re-applying $REL_PATCHES"
	git_src reset -q --hard tsm-base
	apply_series
}

cmd_reset() {
	[ -d "$SRC/.git" ] || { cmd_prepare; return; }
	git_src am --abort >/dev/null 2>&1 || true
	git_src reset -q --hard tsm-base
	apply_series
}

cmd_config() {
	local stamp want
	# shellcheck disable=SC2086 # a list of fragments
	want=$({ cat $FRAGMENT; series_files | xargs -r cat; } | sha256sum | cut -d' ' -f1)
	stamp=$KB/.tsm-config
	if [ -f "$KB/.config" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$want" ]; then
		return
	fi
	mkdir -p "$KB"
	info "configuring (tinyconfig + ${FRAGMENT//"$ROOT"\//})"
	make -s -C "$SRC" O="$KB" ARCH=x86_64 tinyconfig >"$LOG" 2>&1 || { tail -20 "$LOG" >&2; die "tinyconfig failed"; }
	# shellcheck disable=SC2086
	(cd "$KB" && "$SRC/scripts/kconfig/merge_config.sh" -m -O "$KB" "$KB/.config" $FRAGMENT) \
		>>"$LOG" 2>&1 || { tail -20 "$LOG" >&2; die "merging $FRAGMENT failed"; }
	make -s -C "$SRC" O="$KB" ARCH=x86_64 olddefconfig >>"$LOG" 2>&1 || { tail -20 "$LOG" >&2; die "olddefconfig failed"; }
	# every option the fragments ask for (the last word on each) must have
	# survived olddefconfig
	local bad=0 line sym val got
	local -A asked=()
	# shellcheck disable=SC2086
	while IFS= read -r line; do
		case "$line" in
		CONFIG_*=*) asked[${line%%=*}]=${line#*=} ;;
		"# CONFIG_"*" is not set") sym=${line#\# }; asked[${sym%% *}]=n ;;
		esac
	done < <(if [ "${KERNEL_CHECK_LAST:-0}" = 1 ]; then cat "${FRAGMENT##* }"; else cat $FRAGMENT; fi)
	for sym in "${!asked[@]}"; do
		val=${asked[$sym]}
		got=$(grep -E "^$sym=" "$KB/.config" | cut -d= -f2- || true)
		[ -z "$got" ] && [ "$val" = n ] && got=n
		if [ "$got" != "$val" ]; then
			echo "kernel: $sym: asked for $val, got ${got:-unset} (a dependency is missing)" >&2
			bad=1
		fi
	done
	[ $bad -eq 0 ] || die "the config fragment does not resolve; fix ${FRAGMENT//"$ROOT"\//}"
	echo "$want" >"$stamp"
}

cmd_build() {
	command -v ccache >/dev/null || die "ccache not found (make deps)"
	command -v pahole >/dev/null || die "pahole not found, needed for BTF (make deps)"
	cmd_prepare
	cmd_config
	info "building bzImage (log: ${LOG#"$ROOT"/})"
	local t0=$SECONDS
	# Cache hits across clones: paths below the repo are rewritten relative,
	# the working directory is not hashed.
	export CCACHE_BASEDIR=$BUILD_DIR CCACHE_NOHASHDIR=1 CCACHE_COMPRESS=1
	export KBUILD_BUILD_USER=tsmtrace KBUILD_BUILD_HOST=lab
	if ! make -C "$SRC" O="$KB" ARCH=x86_64 CC="ccache gcc" -j"$JOBS" ${V:+V=$V} \
		bzImage >>"$LOG" 2>&1; then
		grep -E 'error|Error' "$LOG" | tail -n 20 >&2 || tail -n 20 "$LOG" >&2
		die "kernel build failed (full log: $LOG)"
	fi
	make -s -C "$SRC" O="$KB" ARCH=x86_64 headers_install INSTALL_HDR_PATH="$KB/usr" \
		>>"$LOG" 2>&1 || die "headers_install failed (log: $LOG)"
	info "bzImage ready in $((SECONDS - t0))s: ${KB#"$ROOT"/}/arch/x86/boot/bzImage"
}

cmd_export() {
	[ -d "$SRC/.git" ] || die "no source tree at $SRC (make kernel first)"
	[ -z "$(git_src status --porcelain --untracked-files=no)" ] ||
		die "$SRC has uncommitted changes; commit them there (one logical change per commit) first"
	if git_src log --format=%s tsm-base..HEAD | grep -qE '^(fixup|squash|amend)! '; then
		die "$SRC has fixup!/squash! commits; fold them first: git -C $SRC rebase -i --autosquash tsm-base"
	fi
	local tmp n
	tmp=$(mktemp -d "$(dirname "$PATCHES")/.export.XXXXXX")
	git_src format-patch -q -N --abbrev=9 --no-signature --zero-commit -o "$tmp" tsm-base..HEAD ||
		{ rm -rf "$tmp"; die "git format-patch failed"; }
	n=$(find "$tmp" -name '*.patch' | wc -l)
	rm -f "$PATCHES"/*.patch
	mkdir -p "$PATCHES"
	if [ "$n" -gt 0 ]; then
		mv "$tmp"/*.patch "$PATCHES"/
	fi
	rmdir "$tmp"
	series_hash >"$SRC/.git/tsm-series"
	git_src rev-parse HEAD >"$SRC/.git/tsm-head"
	info "exported $n patch(es) to $REL_PATCHES/"
	if [ -x "$SRC/scripts/checkpatch.pl" ] && [ "$n" -gt 0 ]; then
		"$SRC/scripts/checkpatch.pl" --strict --quiet --no-tree --terse $(series_files) || \
			echo "kernel: warning: checkpatch has remarks (above)" >&2
	fi
}

cmd_status() {
	[ -d "$SRC/.git" ] || { echo "no source tree (make kernel)"; return; }
	echo "base:    $(git_src log -1 --format=%s tsm-base)"
	echo "patches: $(git_src rev-list --count tsm-base..HEAD) commit(s) on the base"
	if tree_has_local_work; then
		echo "local:   changes not exported to $REL_PATCHES (make kernel-export)"
	else
		echo "local:   in sync with $REL_PATCHES"
	fi
	[ -f "$KB/arch/x86/boot/bzImage" ] && echo "image:   ${KB#"$ROOT"/}/arch/x86/boot/bzImage"
	return 0
}

# apply the series to the newest version of BASE_PACKAGE the archive offers
cmd_check_newest() {
	local ver dir tarball p n=0 bad=0 src
	ver=$("$ROOT/scripts/kernel-source.sh" newest)
	[ -n "$ver" ] || die "the archive offers no $BASE_PACKAGE at all (apt-cache policy $BASE_PACKAGE)"
	if [ "$ver" = "$BASE_VERSION" ]; then
		info "$BASE_PACKAGE $BASE_VERSION, the base, is the newest version the archive offers"
		return 0
	fi
	info "the archive offers $BASE_PACKAGE $ver; the base is $BASE_VERSION"
	dir=$BUILD_DIR/check-newest
	mkdir -p "$dir"
	tarball=$dir/pkg/usr/src/$BASE_PACKAGE.tar.xz
	if [ "$(cat "$dir/version" 2>/dev/null)" != "$ver" ] || [ ! -r "$tarball" ]; then
		info "downloading $BASE_PACKAGE $ver"
		"$ROOT/scripts/kernel-source.sh" fetch "$ver" "$dir/pkg" >/dev/null
		echo "$ver" >"$dir/version"
	fi
	src=$dir/linux
	unpack_base "$tarball" "$src"
	info "Linux $(make -s -C "$src" kernelversion), $BASE_PACKAGE $ver:"
	for p in $(series_files); do
		n=$((n + 1))
		if git_in "$src" am --quiet --keep-cr "$p" >/dev/null 2>"$dir/am.err"; then
			echo "  applies:       ${p##*/}"
		else
			bad=$((bad + 1))
			echo "  DOES NOT APPLY: ${p##*/}"
			sed -n 's/^error: /      /p' "$dir/am.err" | head -n 5
			git_in "$src" am --skip >/dev/null 2>&1 || git_in "$src" am --abort >/dev/null 2>&1 || true
		fi
	done
	if [ $bad -eq 0 ]; then
		info "all $n patches apply to $ver; build and test on it (KERNEL_TARBALL=$tarball" \
		     "KERNEL_ALLOW_OTHER_BASE=1 make test), then bump kernel/BASE"
		return 0
	fi
	info "$bad of $n patches do not apply to $ver (a patch after a failed one may fail only" \
	     "because of it); the tree is in ${src#"$ROOT"/}, see docs/development.md, \"Moving the base\""
	return 1
}

case "${1:-}" in
prepare) cmd_prepare ;;
config) cmd_prepare; cmd_config ;;
build) cmd_build ;;
export) cmd_export ;;
reset) cmd_reset ;;
status) cmd_status ;;
check-newest) cmd_check_newest ;;
*) echo "usage: $0 prepare|config|build|export|reset|status|check-newest" >&2; exit 2 ;;
esac
