#!/usr/bin/env bash
# Build mainline's iommufd selftests (tools/testing/selftests/iommu of a
# kernel tree) against that kernel's uapi headers: SELFTEST_SRC and
# SELFTEST_KHDR name them (default build/linux and build/kbuild/usr/include;
# make stock-progs builds them from the stock tree, which the series' suites
# run too).
#
# The selftests include their neighbours by relative path, so they are built
# in a shadow tree: symlinks to the source tree, with only selftests/iommu
# copied, and the harness's test timeout raised (below). The source tree
# stays as it was.
#
#   scripts/selftests.sh OUTPUT_DIR
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD_DIR=${BUILD_DIR:-$ROOT/build}
SRC=${SELFTEST_SRC:-$BUILD_DIR/linux}
KHDR=${SELFTEST_KHDR:-$BUILD_DIR/kbuild/usr/include}
OUT=${1:?usage: selftests.sh OUTPUT_DIR}
SHADOW=$OUT.tree
LOG=$OUT.log

die() { echo "selftests: error: $*" >&2; exit 1; }
[ -f "$KHDR/linux/iommufd.h" ] || die "no uapi headers in $KHDR: run 'make kernel' first"

# link every entry of $1 into $2, except the one named $3
shadow_dir() {
	local from=$1 to=$2 except=$3 e
	mkdir -p "$to"
	for e in "$from"/* "$from"/.[!.]*; do
		[ -e "$e" ] || continue
		[ "$(basename "$e")" = "$except" ] && continue
		ln -sfn "$e" "$to/$(basename "$e")"
	done
}

rm -rf "$SHADOW"
shadow_dir "$SRC" "$SHADOW" tools
shadow_dir "$SRC/tools" "$SHADOW/tools" testing
shadow_dir "$SRC/tools/testing" "$SHADOW/tools/testing" selftests
shadow_dir "$SRC/tools/testing/selftests" "$SHADOW/tools/testing/selftests" iommu
cp -r "$SRC/tools/testing/selftests/iommu" "$SHADOW/tools/testing/selftests/iommu"
# The harness kills a test after 30 s, chosen for hardware: the lab's TCG
# guest, with KASAN on top, runs the longest fail-nth sweeps for minutes.
# A copy of the harness with 300 s (a hung test is still caught, and the
# VM runner's own limit stays above it). lib.mk is copied too: it finds the
# harness through its own real path, which must be the shadow's.
cp --remove-destination "$SRC/tools/testing/selftests/lib.mk" \
	"$SHADOW/tools/testing/selftests/lib.mk"
h=tools/testing/selftests/kselftest_harness.h
rm "$SHADOW/$h"
sed 's/^#define TEST_TIMEOUT_DEFAULT 30$/#define TEST_TIMEOUT_DEFAULT 300/' "$SRC/$h" >"$SHADOW/$h"
grep -q '^#define TEST_TIMEOUT_DEFAULT 300$' "$SHADOW/$h" ||
	die "$h: no TEST_TIMEOUT_DEFAULT 30 to raise"
mkdir -p "$OUT"
make -s -C "$SHADOW/tools/testing/selftests/iommu" OUTPUT="$OUT" \
	KHDR_INCLUDES="-isystem $KHDR" >"$LOG" 2>&1 ||
	{ grep -E 'error' "$LOG" | head -n 20 >&2; die "build failed (log: $LOG)"; }
echo "  SELFTEST iommufd iommufd_fail_nth -> ${OUT#"$ROOT"/}"
