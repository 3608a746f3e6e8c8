#!/bin/sh
# The live cost of tsmtrace, and check against trace-cmd (make bench).
#
# In the lab VM, 'tsm_flow storm' makes transitions as fast as it can
# (export, map, unmap, close a shared DMABUF; bind; unbind: 14 events an
# iteration). After a warm-up storm (the first one in a fresh guest pays for
# the page cache and QEMU's translation cache), ROUNDS rounds each run it
# with nothing attached, under 'tsmtrace live', under 'tsmtrace record' and
# under 'trace-cmd record' of the same tracepoints, one after the other, so
# that each ratio compares neighbouring runs; the ratios reported are the
# medians over the rounds. Then, on the host, 'tsmtrace check' of a trace
# with as many events as trace-cmd recorded against 'trace-cmd report' of
# that recording, and the bytes per event of the last round's files: live's
# (zstd-compressed blocks, its default) against the one trace-cmd record
# wrote with its own defaults (file version 7 for Debian 12's trace-cmd
# 3.1.6).
#
# In the same VM run, the stock-kernel source against the series' one on
# the same work: 'stock_dmabuf storm' (export, map into an IOAS that edu's
# IOMMU domain backs, unmap, close: 5 events an iteration either way) with
# nothing attached, under 'tsmtrace live --source=series' (tracepoints),
# under 'tsmtrace live --source=stock' (fentry/fexit on the kernel's
# functions) and under 'trace-cmd record' of mainline's dma_buf and
# iommu:map/unmap tracepoints (what a stock host has), ROUNDS rounds; the
# per-event cost of each, and fentry's over the tracepoints'.
#
# Figures, not a test: one "bench: name value unit" line each.
#
#   tools/tsmtrace/bench-live.sh [SECONDS [ROUNDS]]     on the host
#
# The guest runs the series: $LAB_KERNEL when set, which make bench sets to
# the kernel of make kernel-bench (no lockdep:
# lockdep on every lock the BPF programs and the trace buffer take would be
# measured along with them).
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
OUT=${OUT:-$ROOT/build/tsmtrace}
B=$OUT/tsmtrace
FLOW=$ROOT/build/tests/vm/tsm_flow
STOCKFLOW=$ROOT/build/tests/stock/stock_dmabuf
SEC=${1:-10}
ROUNDS=${2:-3}
EVENTS="-e pci_tsm -e vfio_dmabuf -e iommufd:iommufd_ioas_map_dmabuf -e iommufd:iommufd_ioas_unmap_dmabuf"

if [ "${1:-}" = --guest ]; then
	SEC=$2
	ROUNDS=$3
	T=${TMPDIR:-/tmp}
	[ -d /sys/kernel/tracing/events/kvm/kvm_dmabuf_slot_bind ] &&
		EVENTS="$EVENTS -e kvm:kvm_dmabuf_slot_bind -e kvm:kvm_dmabuf_slot_unbind"
	# every step has a deadline: a stuck step is named, not waited for
	wait_for() {	# wait_for FILE PATTERN PID
		n=0
		while ! grep -q "$2" "$1" 2>/dev/null; do
			kill -0 "$3" 2>/dev/null || { cat "$1"; exit 1; }
			n=$((n + 1))
			[ $n -gt 300 ] && { echo "bench: no '$2' from pid $3 in 60 s"; exit 1; }
			sleep 0.2
		done
	}
	stop() {	# stop PID: SIGINT, and wait at most 60 s for it to finish
		kill -INT "$1"
		n=0
		while kill -0 "$1" 2>/dev/null; do
			n=$((n + 1))
			if [ $n -gt 300 ]; then
				echo "bench: pid $1 did not stop within 60 s of SIGINT:"
				cat "/proc/$1/stack" 2>/dev/null
				exit 1
			fi
			sleep 0.2
		done
		wait "$1"
	}
	storm_of() {	# storm_of PROGRAM OUTPUT
		if ! timeout $((SEC + 60)) "$1" storm "$SEC" >"$2"; then
			echo "bench: $1 storm failed or did not end within $((SEC + 60)) s"
			exit 1
		fi
	}
	storm() { storm_of "$FLOW" "$1"; }
	sstorm() { storm_of "$STOCKFLOW" "$1"; }
	rate() { sed -n 's/^storm: .*: \([0-9]*\) transitions\/s$/\1/p' "$1"; }

	# under_tsmtrace ROUND CMD FILE: the storm under 'tsmtrace CMD -o FILE'
	under_tsmtrace() {
		"$B" "$2" --state-known -o "$3" >/dev/null 2>"$T/$2.err" &
		p=$!
		wait_for "$T/$2.err" tracing $p
		storm "$T/$2"
		stop $p
		echo "bench: round $1 tsmtrace-$2 $(rate "$T/$2") transitions/s"
	}
	# trace_cmd_start EVENT-DIR FILE OPTIONS...: trace-cmd record in the
	# background ($p); its stdout is buffered: ready when EVENT-DIR's event
	# is on, and a moment more
	trace_cmd_start() {
		on=/sys/kernel/tracing/events/$1/enable
		dat=$2
		shift 2
		trace-cmd record "$@" -o "$dat" >"$dat.out" 2>&1 &
		p=$!
		n=0
		while [ "$(cat "$on")" != 1 ]; do
			kill -0 $p 2>/dev/null || { cat "$dat.out"; exit 1; }
			n=$((n + 1))
			[ $n -gt 300 ] && { echo "bench: trace-cmd did not start in 60 s"; exit 1; }
			sleep 0.2
		done
		sleep 2
	}
	under_trace_cmd() {
		# shellcheck disable=SC2086
		trace_cmd_start pci_tsm/pci_tsm_range "$T/storm.dat" $EVENTS
		storm "$T/tc"
		stop $p
		echo "bench: round $1 trace-cmd-record $(rate "$T/tc") transitions/s"
	}

	# the stock-kernel source and the series' on the same storm
	stock_round() {	# stock_round ROUND
		sstorm "$T/snone"
		echo "bench: round $1 stock-nothing-attached $(rate "$T/snone") transitions/s"
		for src in series stock; do
			"$B" live --source=$src --state-known >/dev/null 2>"$T/s$src.err" &
			p=$!
			wait_for "$T/s$src.err" tracing $p
			sstorm "$T/s$src"
			stop $p
			echo "bench: round $1 stock-live-source-$src $(rate "$T/s$src") transitions/s"
		done
		trace_cmd_start iommu/map "$T/sstorm.dat" -e dma_buf -e iommu:map -e iommu:unmap
		sstorm "$T/stc"
		stop $p
		echo "bench: round $1 stock-trace-cmd-record $(rate "$T/stc") transitions/s"
	}

	"$FLOW" storm 3 >/dev/null || exit 1
	r=1
	while [ $r -le "$ROUNDS" ]; do
		storm "$T/none"
		echo "bench: round $r nothing-attached $(rate "$T/none") transitions/s"
		under_tsmtrace $r live "$T/storm.tsm"
		under_tsmtrace $r record "$T/storm-rec.tsm"
		under_trace_cmd $r
		r=$((r + 1))
	done
	if [ -x "$STOCKFLOW" ]; then
		"$STOCKFLOW" storm 3 >/dev/null || exit 1
		r=1
		while [ $r -le "$ROUNDS" ]; do
			stock_round $r
			r=$((r + 1))
		done
	else
		echo "bench: stock-source figures skipped: $STOCKFLOW is not built"
	fi
	cp "$T/storm.dat" "$T/storm.tsm" "$tsmrun/"
	exit 0
fi

# the kernel scripts/vm.sh boots: $LAB_KERNEL (make bench: the one without
# lockdep, kernel/bench.config), else the lab's kernel
K=${LAB_KERNEL:-$ROOT/build/kbuild/arch/x86/boot/bzImage}
for f in "$B" "$FLOW" "$K"; do
	[ -e "$f" ] || { echo "bench: live figures skipped: $f is not built"; exit 0; }
done
command -v trace-cmd >/dev/null || { echo "bench: live figures skipped: no trace-cmd (scripts/deps.sh)"; exit 0; }
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
echo "bench: lab kernel ${K#"$ROOT"/}"
"$ROOT/scripts/vm.sh" --kernel "$K" --append tsm_sw.devices=1234:11e8,1af4:1110 --keep \
	--timeout 1800 -- "$ROOT/tools/tsmtrace/bench-live.sh" --guest "$SEC" "$ROUNDS" \
	>"$T/vm.out" 2>&1
rc=$?
grep '^bench:' "$T/vm.out"
run=$(sed -n 's/^vm: run directory kept: //p' "$T/vm.out")
if [ $rc -ne 0 ] || [ ! -f "$run/storm.dat" ]; then
	echo "bench: the lab run failed (exit $rc):"
	tail -n 20 "$T/vm.out"
	exit 1
fi
# per round: each configuration's rate over the rate with nothing attached
awk '$1 == "bench:" && $2 == "round" { rate[$3, $4] = $5; if ($3 > n) n = $3 }
     function median(a, k,   i, j, t) {
	for (i = 1; i <= k; i++)
		for (j = i + 1; j <= k; j++)
			if (a[j] < a[i]) { t = a[i]; a[i] = a[j]; a[j] = t }
	return k % 2 ? a[(k + 1) / 2] : (a[k / 2] + a[k / 2 + 1]) / 2
     }
     END {
	split("tsmtrace-live tsmtrace-record trace-cmd-record stock-live-source-series stock-live-source-stock stock-trace-cmd-record", cfg, " ")
	for (c = 1; c <= 6; c++) {
		base = cfg[c] ~ /^stock-/ ? "stock-nothing-attached" : "nothing-attached"
		k = 0; list = ""
		for (r = 1; r <= n; r++) {
			if (!rate[r, base] || !rate[r, cfg[c]])
				continue
			q[++k] = rate[r, cfg[c]] / rate[r, base]
			list = list sprintf("%s%.2f", k > 1 ? " " : "", q[k])
			us[k] = 1e6 / rate[r, cfg[c]] - 1e6 / rate[r, base]
		}
		if (!k)
			continue
		med[cfg[c]] = median(us, k)
		printf "bench: live-cost-ratio-%s %.2f (median of %d rounds: %s; rate with it / rate with nothing)\n", cfg[c], median(q, k), k, list
		printf "bench: live-cost-per-transition-%s %.1f us (median)\n", cfg[c], med[cfg[c]]
	}
	if (("stock-live-source-stock" in med) && ("stock-live-source-series" in med))
		printf "bench: fentry-over-tracepoint-per-event %.1f us (stock source - series source, same storm)\n", med["stock-live-source-stock"] - med["stock-live-source-series"]
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
# file sizes: the same storm, each recorder with its default compression
echo "$n $(stat -c %s "$run/storm.dat") $nl $(stat -c %s "$run/storm.tsm")" | awk '{
	printf "bench: file-bytes-per-event-trace-cmd-record %.2f (%d bytes, %d events)\n", $2 / $1, $2, $1
	printf "bench: file-bytes-per-event-tsmtrace-zstd %.2f (%d bytes, %d events; live -o, zstd:3)\n", $4 / $3, $4, $3
	printf "bench: file-size-per-event-ratio-tsmtrace-to-trace-cmd %.2f\n", ($4 / $3) / ($2 / $1)
}'
rm -rf "$run"
