#!/usr/bin/env bash
# The configuration matrix (make kernel-configs): the series built with each
# optional dependency of its code switched off in turn, on top of the lab
# configuration. A row fails on a build error, on any compiler or linker
# warning (the lab configuration builds without one) or when the option
# could not be switched off. Each row has its own object tree under
# build/kbuild-cfg/ (incremental, ccache); the source tree is build/linux.
#
#   scripts/kernel-configs.sh [--config-only] [OPTION...]
#
# OPTION names rows (default: all, in the order below). --config-only stops
# after olddefconfig (seconds a row): it shows that every row's option can
# be switched off and what goes with it. Prints one line per row and exits
# non-zero when a row failed.
set -uo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD_DIR=${BUILD_DIR:-$ROOT/build}
export BUILD_DIR

# the options the series' code uses when they are there
ALL_ROWS="FAULT_INJECTION PCI_TSM DMA_SHARED_BUFFER KVM FTRACE DEBUG_FS VFIO_DEVICE_CDEV DEVMEM"
read -ra ROWS <<<"$ALL_ROWS"

config_only=0
if [ "${1:-}" = --config-only ]; then
	config_only=1
	shift
fi
[ $# -gt 0 ] && ROWS=("$@")

failed=0
for opt in "${ROWS[@]}"; do
	case " $ALL_ROWS " in
	*" $opt "*) ;;
	*) echo "kernel-configs: error: no row $opt (rows: $ALL_ROWS)" >&2; exit 2 ;;
	esac
	obj=$BUILD_DIR/kbuild-cfg/$opt
	# A new row starts from a copy of the lab kernel's objects: kbuild
	# then compiles again only what the changed options reach (fixdep
	# tracks each object's CONFIG_ symbols), where a tree of its own would
	# compile everything (ccache cannot help: the object tree's path is in
	# every preprocessed file). The warnings counted are those of what was
	# compiled; an object not compiled again is the lab's, which builds
	# without one.
	if [ ! -f "$obj/.config" ] && [ -f "$BUILD_DIR/kbuild/vmlinux" ] && [ $config_only = 0 ]; then
		rm -rf "$obj" && mkdir -p "$obj" && cp -a "$BUILD_DIR/kbuild/." "$obj/"
		# the host tools (objtool, resolve_btfids) name their objects by
		# absolute path: left as they are, the tools are built again
		# and every object that objtool checked with them
		grep -rlZF -e "$BUILD_DIR/kbuild/" -e "$(realpath "$BUILD_DIR")/kbuild/" \
			--include='.*.cmd' --include='*.d' "$obj/tools" 2>/dev/null |
			xargs -0r sed -i -e "s|$BUILD_DIR/kbuild/|$obj/|g" \
				-e "s|$(realpath "$BUILD_DIR")/kbuild/|$obj/|g"
	fi
	mkdir -p "$obj"
	frag=$obj.config
	echo "# CONFIG_$opt is not set" >"$frag"
	# what selects the option must go with it
	case $opt in
	DMA_SHARED_BUFFER) printf "# CONFIG_%s is not set\n" IOMMUFD_TEST SYNC_FILE >>"$frag" ;;
	esac
	t0=$SECONDS
	if [ $config_only = 1 ]; then
		action=config
	else
		action=build
	fi
	out=$(KERNEL_OBJ=$obj KERNEL_CHECK_LAST=1 \
	      KERNEL_FRAGMENT="$ROOT/kernel/lab.config $ROOT/kernel/series.config $frag" \
	      "$ROOT/scripts/kernel.sh" "$action" 2>&1)
	rc=$?
	if [ $rc -ne 0 ]; then
		echo "FAIL: $opt=n ($(grep -m1 -E 'error|asked for' <<<"$out" || tail -n 1 <<<"$out"); log: ${obj#"$ROOT"/}.log)"
		grep -E 'error' <<<"$out" | head -n 10 | sed 's/^/  | /'
		failed=$((failed + 1))
		continue
	fi
	# what went with the option: the lab's options that are off now
	gone=$(grep -E '^CONFIG_[A-Z0-9_]+=[ym]$' "$ROOT/kernel/lab.config" "$ROOT/kernel/series.config" |
		cut -d: -f2 | cut -d= -f1 | while read -r sym; do
			grep -qE "^$sym=[ym]" "$obj/.config" || printf ' %s' "${sym#CONFIG_}"
		done)
	if [ $config_only = 1 ]; then
		echo "PASS: $opt=n configures (off with it:${gone:- nothing})"
		continue
	fi
	warnings=$(grep -cE '(^|: )warning:' "$obj.log")
	if [ "$warnings" -gt 0 ]; then
		echo "FAIL: $opt=n builds with $warnings warning(s) (log: ${obj#"$ROOT"/}.log)"
		grep -E '(^|: )warning:' "$obj.log" | head -n 10 | sed 's/^/  | /'
		failed=$((failed + 1))
		continue
	fi
	echo "PASS: $opt=n builds without a warning in $((SECONDS - t0))s (off with it:${gone:- nothing})"
done
if [ $failed -gt 0 ]; then
	echo "kernel-configs: $failed of ${#ROWS[@]} configurations failed"
	exit 1
fi
echo "kernel-configs: all ${#ROWS[@]} configurations pass"
