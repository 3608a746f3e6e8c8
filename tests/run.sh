#!/usr/bin/env bash
# The test runner behind 'make test'.
#
# Host suites (tests/host/suite-*.sh) run here; VM suites (tests/vm/suite-*.sh)
# each run in one boot of the lab VM (scripts/vm.sh). A suite prints one line
# per test case:  PASS: name | FAIL: name [why] | SKIP: name [why]
# and may print NOTE: lines (shown, not counted).
# A suite that exits non-zero without printing a FAIL line, or a VM that
# panics, times out or logs a kernel warning, counts as one more failure.
# The last line is 'N passed, N failed' (', N skipped' when any were skipped);
# the exit status is non-zero when anything failed.
#
#   tests/run.sh [--host-only|--vm-only] [PATTERN]
# PATTERN selects suites whose name contains it.
set -uo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT" || exit 2
mode=all
case "${1:-}" in
--host-only) mode=host; shift ;;
--vm-only) mode=vm; shift ;;
esac
pattern=${1:-}

passed=0 failed=0 skipped=0
failures=()
LOGDIR=${TEST_LOG_DIR:-$ROOT/build/test-logs}
mkdir -p "$LOGDIR"

run_suite() {
	local kind=$1 suite=$2 name log rc p f s
	name=$(basename "$suite" .sh)
	name=${name#suite-}
	log=$LOGDIR/$kind-$name.log
	echo "== $kind suite: $name"
	local t0=$SECONDS
	if [ "$kind" = vm ]; then
		# a suite may ask for VM options in a "# vm-options: ..." line,
		# and for more time than VM_TIMEOUT in a "# vm-timeout: SECONDS" one
		local opts timeout=${VM_TIMEOUT:-900} want
		opts=$(sed -n 's/^# vm-options: *//p' "$suite" | head -n 1)
		want=$(sed -n 's/^# vm-timeout: *\([0-9][0-9]*\)$/\1/p' "$suite" | head -n 1)
		[ -n "$want" ] && [ "$want" -gt "$timeout" ] && timeout=$want
		# shellcheck disable=SC2086
		scripts/vm.sh --timeout "$timeout" $opts -- "$ROOT/$suite" >"$log" 2>&1
	else
		"$ROOT/$suite" >"$log" 2>&1
	fi
	rc=$?
	grep -E '^(PASS|FAIL|SKIP|NOTE): ' "$log" | sed 's/^/   /'
	p=$(grep -cE '^PASS: ' "$log")
	f=$(grep -cE '^FAIL: ' "$log")
	s=$(grep -cE '^SKIP: ' "$log")
	if [ "$rc" -ne 0 ]; then
		if [ "$f" -eq 0 ]; then
			echo "   FAIL: $kind:$name exited with status $rc (log: ${log#"$ROOT"/})"
			f=$((f + 1))
		fi
		# what the VM said: a timeout with the console's last lines, the
		# kernel's report of a problem
		grep -E '^(vm|kernel): |error' "$log" | head -n 100 | sed 's/^/     /'
	fi
	[ "$f" -gt 0 ] && failures+=("$kind:$name ($f)")
	passed=$((passed + p)); failed=$((failed + f)); skipped=$((skipped + s))
	echo "   ($p passed, $f failed, $s skipped in $((SECONDS - t0))s; log: ${log#"$ROOT"/})"
}

shopt -s nullglob
if [ "$mode" != vm ]; then
	for s in tests/host/suite-*.sh; do
		[[ "$s" == *"$pattern"* ]] || continue
		run_suite host "$s"
	done
fi
if [ "$mode" != host ]; then
	for s in tests/vm/suite-*.sh; do
		[[ "$s" == *"$pattern"* ]] || continue
		run_suite vm "$s"
	done
fi

if [ ${#failures[@]} -gt 0 ]; then
	echo "failed suites: ${failures[*]}"
fi
if [ "$skipped" -gt 0 ]; then
	echo "$passed passed, $failed failed, $skipped skipped"
else
	echo "$passed passed, $failed failed"
fi
[ "$failed" -eq 0 ]
