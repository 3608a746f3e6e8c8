#!/bin/sh
# vm-options: --append tsm_sw.devices=1234:11e8,1af4:1110
# vm-timeout: 2400
# VM suite on the series' kernel: two threads at once in every pairing of
# the operations that share the device, the IOAS and the VM
# (tests/vm/stress.c), under 'tsmtrace live' throughout: every answer an
# errno the race explains, the kernel's state clean after each pairing, and
# tsmtrace's verdict PASS with no event lost.
#
# STRESS_ITERS (default 1000) and STRESS_MIN (default 50): a pairing runs
# until its threads have made STRESS_ITERS steps together and each at least
# STRESS_MIN; STRESS_SECONDS (default 120) bounds it. make test runs the
# defaults; make test-stress runs 10,000 and 500 (tests/run.sh passes the
# variables through the VM's command line).
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BIN=$ROOT/build/tests/vm/stress
B=${TSMTRACE:-$ROOT/build/tsmtrace/tsmtrace}
T=$(mktemp -d)
rc=0
pass() { echo "PASS: $1"; }
fail() { echo "FAIL: $1 ($2)"; rc=1; }

. "$ROOT/tests/vm/lib-tsmtrace.sh"

for p in "$B" "$BIN"; do
	[ -x "$p" ] || { echo "FAIL: stress-setup (not built: $p; make vm-progs tools)"; exit 1; }
done

under_live stress "" "$BIN" -n "${STRESS_ITERS:-1000}" -m "${STRESS_MIN:-50}" \
	-t "${STRESS_SECONDS:-120}"
# the program's own lines: one per pairing and per check of the kernel's state
cat "$T/stress.flow"
verdict=$(grep '"type":"verdict"' "$T/stress.out")
if [ "$(verdict_of "$T/stress.out")" = PASS ] && echo "$verdict" | grep -q '"lost":0,' &&
   echo "$verdict" | grep -q '"unobserved":\[\]'; then
	pass stress-live-pass-nothing-lost
else
	fail stress-live-pass-nothing-lost "$(verdict_lines "$T/stress.out" | head -c 2000)"
fi
# the mmap pairings race the host CPU's mappings against binds: TSM-I9 was
# judged on them (the faults and the zaps are among the events)
if grep -q '"event":"vfio_pci_bar_map"' "$T/stress.out" &&
   grep -q '"event":"vfio_pci_bar_zap"' "$T/stress.out"; then
	pass stress-live-saw-host-cpu-mappings
else
	fail stress-live-saw-host-cpu-mappings "no vfio_pci_bar_map or vfio_pci_bar_zap among the events"
fi
rm -rf "$T"
exit $rc
