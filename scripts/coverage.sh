#!/usr/bin/env bash
# Line coverage of the series (make coverage): every VM suite on the kernel
# of make kernel-gcov (the lab configuration with gcov, build/kbuild-gcov),
# then, for each C file the series adds or changes, how many of the lines
# the series wrote that can run did run, and which did not.
#
#   scripts/coverage.sh [PATTERN]      run the suites (those whose name
#                                      contains PATTERN), then report
#   scripts/coverage.sh --report-only  report on the counters already there
#
# Each boot of the lab VM leaves the counters of the series' files
# (tests/vm/guest-init.sh copies them out of /sys/kernel/debug/gcov, a run
# directory each: build/coverage/runs/); a line counts as run when it ran in
# any of them. The series' lines are those 'git diff tsm-base' adds to each
# file in build/linux; a line gcov does not count (a declaration, a brace)
# is not a line that can run. The report (build/coverage/report.txt) gives
# per file the series' lines that can run, how many ran, the percentage and
# the line numbers of those that did not, and the total. The suites' own
# verdicts are printed as tests/run.sh prints them; a failed suite makes the
# exit status non-zero, after the report.
set -uo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD_DIR=${BUILD_DIR:-$ROOT/build}
SRC=$BUILD_DIR/linux
KB=$BUILD_DIR/kbuild-gcov
COV=$ROOT/build/coverage
die() { echo "coverage: error: $*" >&2; exit 2; }

report_only=0
if [ "${1:-}" = --report-only ]; then
	report_only=1
	shift
fi
[ -d "$SRC/.git" ] || die "no kernel source at $SRC: run make kernel-gcov first"
[ -f "$KB/arch/x86/boot/bzImage" ] || die "no kernel at $KB: run make kernel-gcov first"
grep -q '^CONFIG_GCOV_KERNEL=y' "$KB/.config" ||
	die "$KB was not built with gcov (CONFIG_GCOV_KERNEL): run make kernel-gcov"
command -v gcov >/dev/null || die "gcov not found (make deps)"

# the series' C files, as the .gcda names the guest looks for
mapfile -t files < <(git -C "$SRC" diff --name-only tsm-base HEAD -- '*.c')
[ ${#files[@]} -gt 0 ] || die "the source tree at $SRC has no commit over tsm-base"
mkdir -p "$COV"
printf '%s\n' "${files[@]}" | sed 's/\.c$/.gcda/' >"$COV/files"
realpath "$KB" >"$COV/objtree"

rc=0
if [ $report_only = 0 ]; then
	rm -rf "$COV/runs"
	# gcov's counters make the guest slower: more time a suite
	LAB_KERNEL=$KB/arch/x86/boot/bzImage VM_GCOV_OUT=$COV/runs \
		VM_TIMEOUT=${VM_TIMEOUT:-1800} TEST_LOG_DIR=${TEST_LOG_DIR:-$BUILD_DIR/test-logs-gcov} \
		"$ROOT/tests/run.sh" --vm-only "${1:-}"
	rc=$?
fi
[ -d "$COV/runs" ] && [ -n "$(ls -A "$COV/runs")" ] ||
	die "no counters in $COV/runs: no suite ran on the gcov kernel"
python3 "$ROOT/scripts/coverage-report.py" "$SRC" "$KB" "$COV/runs" "${files[@]}" \
	| tee "$COV/report.txt"
[ "${PIPESTATUS[0]}" -eq 0 ] || exit 2
exit $rc
