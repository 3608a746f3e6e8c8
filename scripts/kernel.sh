#!/usr/bin/env bash
# The kernel pipeline: Debian's linux-source-6.12 + the project's patch series
# + the lab config fragment -> bzImage, built out of tree with ccache.
#
#   kernel.sh prepare   unpack the base (once), apply kernel/patches/*.patch
#   kernel.sh config    tinyconfig + kernel/lab.config, checked
#   kernel.sh build     prepare + config + bzImage + uapi headers
#   kernel.sh export    write the tree's commits since the base to kernel/patches/
#   kernel.sh reset     drop the source tree's local commits and re-apply the series
#   kernel.sh status    what is applied, what is unexported
#
# Layout (BUILD_DIR defaults to <repo>/build, git-ignored):
#   $BUILD_DIR/linux    source tree, a git repository; tag "tsm-base" is the
#                       pristine Debian source, one commit per patch above it
#   $BUILD_DIR/kbuild   object tree (O=), bzImage in arch/x86/boot/
#   $BUILD_DIR/kbuild/usr/include   installed uapi headers for tools and tests
#
# KERNEL_TARBALL, KERNEL_PATCHES, KERNEL_FRAGMENT and KERNEL_BASE_FILE
# override the source tarball, the series directory, the config fragments (a
# space-separated list, merged in order) and the BASE file (the pipeline's own
# tests use them). KERNEL_OBJ builds another configuration of the same source
# tree in its own object tree (make kernel-kasan: build/kbuild-kasan), with
# its log beside it (KERNEL_OBJ.log).
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD_DIR=${BUILD_DIR:-$ROOT/build}
SRC=$BUILD_DIR/linux
KB=${KERNEL_OBJ:-$BUILD_DIR/kbuild}
PATCHES=${KERNEL_PATCHES:-$ROOT/kernel/patches}
FRAGMENT=${KERNEL_FRAGMENT:-$ROOT/kernel/lab.config}
BASE_FILE=${KERNEL_BASE_FILE:-$ROOT/kernel/BASE}
TARBALL=${KERNEL_TARBALL:-/usr/src/linux-source-6.12.tar.xz}
LOG=$BUILD_DIR/kernel-build.log
[ -n "${KERNEL_OBJ:-}" ] && LOG=$KB.log
JOBS=${JOBS:-$(nproc)}

# shellcheck source=kernel/BASE
. "$BASE_FILE"

die() { echo "kernel: error: $*" >&2; exit 1; }
info() { echo "kernel: $*"; }

git_src() {
	git -C "$SRC" -c user.name="tsmtrace build" -c user.email="build@tsmtrace.invalid" \
		-c advice.detachedHead=false "$@"
}

# the series, in application order
series_files() {
	local p
	for p in "$PATCHES"/*.patch; do
		[ -e "$p" ] && echo "$p"
	done
	return 0
}

series_hash() {
	series_files | xargs -r cat | sha256sum | cut -d' ' -f1
}

check_base_version() {
	local v
	v=$(make -s -C "$SRC" kernelversion 2>/dev/null) || die "cannot read the kernel version of $SRC"
	case "$v" in
	"$BASE_SERIES".*|"$BASE_SERIES")
		;;
	*)
		die "the source is Linux $v but the series in kernel/patches is made for $BASE_SERIES.y" \
		    "(tested on $BASE_TESTED); install Debian's linux-source-$BASE_SERIES"
		;;
	esac
	if [ "$v" != "$BASE_TESTED" ]; then
		echo "kernel: warning: base is $v, the series was last tested on $BASE_TESTED" >&2
	fi
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
	if [ ! -d "$SRC/.git" ]; then
		[ -r "$TARBALL" ] || die "$TARBALL not found: install Debian's linux-source-$BASE_SERIES (make deps)"
		info "unpacking $(basename "$TARBALL")"
		rm -rf "$SRC" "$SRC.tmp"
		mkdir -p "$SRC.tmp"
		tar -xf "$TARBALL" -C "$SRC.tmp" --strip-components=1 || die "cannot unpack $TARBALL"
		mv "$SRC.tmp" "$SRC"
		check_base_version
		git -C "$SRC" init -q
		git_src add -A -f .
		git_src commit -q -m "Linux $(make -s -C "$SRC" kernelversion) (Debian linux-source-$BASE_SERIES)"
		git_src tag debian-source
		# Debian's .gitignore ignores every top-level path (its packaging
		# repository holds only debian/); without this, new files in the
		# tree would be invisible to git. Not part of the series.
		sed -i '/^# Debian packaging: ignore everything/,$d' "$SRC/.gitignore"
		sed -i -e :a -e '/^\n*$/{$d;N;ba' -e '}' "$SRC/.gitignore"
		sed -i '$ {/^#$/d}' "$SRC/.gitignore"
		git_src commit -q -a -m "lab: track the whole tree (drop Debian's top-level ignore)"
		git_src tag tsm-base
		git_src rev-parse HEAD >"$SRC/.git/tsm-head"
		apply_series
		return
	fi
	check_base_version
	if [ "$(series_hash)" = "$(cat "$SRC/.git/tsm-series" 2>/dev/null)" ]; then
		return
	fi
	if tree_has_local_work; then
		die "kernel/patches changed, but $SRC has changes that are not in kernel/patches;" \
		    "run 'make kernel-export' to keep them or 'make kernel-reset' to drop them"
	fi
	info "series changed: re-applying kernel/patches"
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
	done < <(cat $FRAGMENT)
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
	git_src format-patch -q --no-signature --zero-commit -o "$tmp" tsm-base..HEAD ||
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
	info "exported $n patch(es) to kernel/patches/"
	if [ -x "$SRC/scripts/checkpatch.pl" ] && [ "$n" -gt 0 ]; then
		"$SRC/scripts/checkpatch.pl" --quiet --no-tree --terse $(series_files) || \
			echo "kernel: warning: checkpatch has remarks (above)" >&2
	fi
}

cmd_status() {
	[ -d "$SRC/.git" ] || { echo "no source tree (make kernel)"; return; }
	echo "base:    $(git_src log -1 --format=%s tsm-base)"
	echo "patches: $(git_src rev-list --count tsm-base..HEAD) commit(s) on the base"
	if tree_has_local_work; then
		echo "local:   changes not exported to kernel/patches (make kernel-export)"
	else
		echo "local:   in sync with kernel/patches"
	fi
	[ -f "$KB/arch/x86/boot/bzImage" ] && echo "image:   ${KB#"$ROOT"/}/arch/x86/boot/bzImage"
	return 0
}

case "${1:-}" in
prepare) cmd_prepare ;;
config) cmd_prepare; cmd_config ;;
build) cmd_build ;;
export) cmd_export ;;
reset) cmd_reset ;;
status) cmd_status ;;
*) echo "usage: $0 prepare|config|build|export|reset|status" >&2; exit 2 ;;
esac
