#!/bin/sh
# The live cost of tsmtrace, and check against trace-cmd (make bench).
#
# In the lab VM, 'tsm_flow storm' makes transitions as fast as it can
# (export, map, unmap, close a shared DMABUF; bind; unbind: 14 events an
# iteration) three times: with nothing attached, under 'tsmtrace live', and
# under 'trace-cmd record' of the same tracepoints. Then, on the host,
# 'tsmtrace check' of a trace with as many events as trace-cmd recorded
# against 'trace-cmd report' of that recording. Figures, not a test: one
# "bench: name value unit" line each.
#
#   tools/tsmtrace/bench-live.sh [SECONDS]     on the host
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
OUT=${OUT:-$ROOT/build/tsmtrace}
B=$OUT/tsmtrace
FLOW=$ROOT/build/tests/vm/tsm_flow
SEC=${1:-10}
EVENTS="-e pci_tsm -e vfio_dmabuf -e iommufd:iommufd_ioas_map_dmabuf -e iommufd:iommufd_ioas_unmap_dmabuf"

if [ "${1:-}" = --guest ]; then
	SEC=$2
	T=${TMPDIR:-/tmp}
	[ -d /sys/kernel/tracing/events/kvm/kvm_dmabuf_slot_bind ] &&
		EVENTS="$EVENTS -e kvm:kvm_dmabuf_slot_bind -e kvm:kvm_dmabuf_slot_unbind"
	wait_for() {	# wait_for FILE PATTERN PID
		while ! grep -q "$2" "$1" 2>/dev/null; do
			kill -0 "$3" 2>/dev/null || { cat "$1"; exit 1; }
			sleep 0.2
		done
	}
	rate() { sed -n 's/^storm: .*: \([0-9]*\) transitions\/s$/\1/p' "$1"; }

	"$FLOW" storm "$SEC" >"$T/none" || exit 1
	echo "bench: live-storm-nothing-attached $(rate "$T/none") transitions/s"

	# under_tsmtrace CMD FILE: the storm under 'tsmtrace CMD -o FILE'
	under_tsmtrace() {
		"$B" "$1" --state-known -o "$2" >/dev/null 2>"$T/$1.err" &
		p=$!
		wait_for "$T/$1.err" tracing $p
		"$FLOW" storm "$SEC" >"$T/$1" || exit 1
		kill -INT $p; wait $p
		echo "bench: live-storm-tsmtrace-$1 $(rate "$T/$1") transitions/s"
	}
	under_tsmtrace live "$T/storm.tsm"
	under_tsmtrace record "$T/storm-rec.tsm"

	# shellcheck disable=SC2086
	trace-cmd record $EVENTS -o "$T/storm.dat" >"$T/tc.out" 2>&1 &
	p=$!
	# its stdout is buffered: ready when the events are on, and a moment more
	while [ "$(cat /sys/kernel/tracing/events/pci_tsm/pci_tsm_range/enable)" != 1 ]; do
		kill -0 $p 2>/dev/null || { cat "$T/tc.out"; exit 1; }
		sleep 0.2
	done
	sleep 2
	"$FLOW" storm "$SEC" >"$T/tc" || exit 1
	kill -INT $p; wait $p
	echo "bench: live-storm-trace-cmd-record $(rate "$T/tc") transitions/s"
	cp "$T/storm.dat" "$T/storm.tsm" "$tsmrun/"
	exit 0
fi

for f in "$B" "$FLOW" "$ROOT/build/kbuild/arch/x86/boot/bzImage"; do
	[ -e "$f" ] || { echo "bench: live figures skipped: $f is not built"; exit 0; }
done
command -v trace-cmd >/dev/null || { echo "bench: live figures skipped: no trace-cmd (scripts/deps.sh)"; exit 0; }
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
"$ROOT/scripts/vm.sh" --keep --timeout 900 -- "$ROOT/tools/tsmtrace/bench-live.sh" --guest "$SEC" \
	>"$T/vm.out" 2>&1
rc=$?
grep '^bench:' "$T/vm.out"
run=$(sed -n 's/^vm: run directory kept: //p' "$T/vm.out")
if [ $rc -ne 0 ] || [ ! -f "$run/storm.dat" ]; then
	echo "bench: the lab run failed (exit $rc):"
	tail -n 20 "$T/vm.out"
	exit 1
fi
awk '/^bench: live-storm-nothing/ {n = $3} /^bench: live-storm-tsmtrace-live/ {l = $3}
     /^bench: live-storm-tsmtrace-record/ {r = $3}
     /^bench: live-storm-trace-cmd/ {t = $3}
     END {
	if (n && l && t) {
		printf "bench: live-cost-ratio-tsmtrace-live %.2f (rate with live / rate with nothing)\n", l / n
		printf "bench: live-cost-ratio-tsmtrace-record %.2f (rate with record / rate with nothing)\n", r / n
		printf "bench: live-cost-ratio-trace-cmd-record %.2f (rate with trace-cmd / rate with nothing)\n", t / n
		printf "bench: live-cost-per-transition-tsmtrace %.1f us\n", (1e6 / l - 1e6 / n)
		printf "bench: live-cost-per-transition-trace-cmd %.1f us\n", (1e6 / t - 1e6 / n)
	}
     }' "$T/vm.out"

# check against trace-cmd report, on the host, on the same number of events
n=$(trace-cmd report "$run/storm.dat" 2>/dev/null | grep -cE ' (pci_tsm|vfio_dmabuf|iommufd|kvm_dmabuf)_[a-z_]*:')
"$OUT/tsmgen" --big "$n" "$T/big.tsm" >/dev/null
secs() {	# secs CMD...: best of three wall-clock runs, in seconds
	best=
	for i in 1 2 3; do
		s=$(date +%s.%N)
		"$@" >/dev/null 2>&1
		e=$(date +%s.%N)
		best=$(echo "$s $e $best" | awk '{d = $2 - $1; if ($3 == "" || d < $3) print d; else print $3}')
	done
	echo "$best"
}
tc=$(secs trace-cmd report "$run/storm.dat")
ck=$(secs "$B" check "$T/big.tsm")
ckl=$(secs "$B" check "$run/storm.tsm")
js=$("$B" -j check "$run/storm.tsm" | grep '"type":"verdict"')
nl=$(echo "$js" | sed -n 's/.*"records":[0-9]*,"events":\([0-9]*\),"lost":\([0-9]*\).*/\1/p')
lost=$(echo "$js" | sed -n 's/.*"records":[0-9]*,"events":[0-9]*,"lost":\([0-9]*\).*/\1/p')
echo "bench: live-storm-verdict $(echo "$js" | sed -n 's/.*"verdict":"\([A-Z]*\)".*/\1/p') ($nl events, $lost lost)"
echo "$n $tc $ck $nl $ckl" | awk '{
	printf "bench: check-vs-trace-cmd-events %d\n", $1
	printf "bench: trace-cmd-report-throughput %.0f events/s\n", $1 / $2
	printf "bench: check-throughput %.0f events/s (tsmgen trace of the same size)\n", $1 / $3
	printf "bench: check-throughput-lab-storm %.0f events/s (%d events recorded by live)\n", $4 / $5, $4
	printf "bench: check-vs-trace-cmd-report-ratio %.1f\n", $2 / $3
}'
rm -rf "$run"
