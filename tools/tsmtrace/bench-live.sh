#!/bin/sh
# The live cost of tsmtrace, and check against trace-cmd (make bench).
#
# In the lab VM, 'tsm_flow storm' makes transitions as fast as it can
# (export, map, unmap, close a shared DMABUF; bind; unbind: 14 events an
# iteration). After warm-up storms (a fresh guest pays for the page cache
# and QEMU's translation cache over its first ones: until two in a row
# agree within 10%), ROUNDS rounds each run it
# with nothing attached and then under each reader, one after the other, so
# that each ratio compares neighbouring runs; the ratios reported are the
# medians over the rounds, with their range, and the range of the rate with
# nothing attached says how steady the guest was. The readers, like for
# like in pairs:
#   printing every event as it comes: 'tsmtrace live' (its lines to
#     /dev/null) and 'trace-cmd stream' of the same tracepoints (its lines
#     to /dev/null);
#   recording into a file: 'tsmtrace record' and 'trace-cmd record';
#   and 'tsmtrace live -o', which does both (and checks), with nothing of
#   trace-cmd's to compare it with; and 'tsmtrace live -q', which checks
#   and prints only violations (watching a host), against trace-cmd
#   record.
#
# Where the time goes, in the same rounds: the CPU time of the reader
# (tsmtrace's process; trace-cmd's processes, one a CPU) per event, from
# /proc; then, after the rounds, the kernel side alone: the run time of
# tsmtrace's BPF programs per event (kernel.bpf_stats_enabled, one more
# storm under 'tsmtrace record'; the statistics cost time of their own, so
# that storm is not among the ratios) and the storm with trace-cmd's events
# enabled and nobody reading them ('trace-cmd start': what the trace
# buffer costs the traced task), both against a storm with nothing attached
# run next to them.
#
# The guest runs once for each of BENCH_TCG_THREADS (default "multi
# icount"): "multi", a host thread for each of its two vCPUs (the reader
# works beside the storm, as on a host with a CPU to spare); "single", one
# host thread for both (the lab's default: every cycle the reader spends is
# taken from the storm, so the cost is the total CPU an event costs); and
# "icount", one vCPU whose clock counts instructions (scripts/vm.sh --smp 1
# --icount 0: a nanosecond an instruction), so that a rate is events per
# instruction executed whatever else the host runs: the total cost of an
# event in instructions, the storm's and the reader's alike, with none of
# the host's noise (a storm moves by 0.1% from run to run instead of
# 40-65%), and nothing of what an instruction costs beyond its count
# (caches, atomics). One vCPU: with two on one thread the reader's
# instructions showed in some runs and not in others (the same run's rate
# moved by 50%). The kernel side's per-program run times are then
# instructions too.
#
# Last in each guest run, and again on the host, what each part of live's
# reader costs an event on the last round's recording (tsmbench
# --reader-parts: ordering, the file writer uncompressed and with zstd,
# the engine, building a line, writing it).
#
# Then, on the host, 'tsmtrace check' of a trace with as many events as
# trace-cmd recorded against 'trace-cmd report' of that recording, and the
# bytes per event of the last round's files: live's (zstd-compressed
# blocks, its default) against the one trace-cmd record wrote with its own
# defaults (file version 7 for Debian 12's trace-cmd 3.1.6).
#
# In the same VM runs, the stock-kernel source against the series' one on
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
SEC=${1:-8}
ROUNDS=${2:-5}
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
	# stop PID [PIDS]: SIGINT to PID, and wait at most 60 s for it to
	# finish; $fin is the CPU time, in clock ticks, that PIDS (default:
	# PID) took from then to their end (a reader that writes its file at
	# the end, as trace-cmd record does, does that work here): what the
	# shell's children that ended used, less what PIDS had used before
	stop() {
		pid=$1
		[ $# -gt 1 ] && shift
		before=$(ticks "$@")
		k0=$(cticks)
		kill -INT "$pid"
		(
			trap 'kill $s 2>/dev/null; exit 0' TERM
			sleep 60 &
			s=$!
			wait $s
			echo "bench: pid $pid did not stop within 60 s of SIGINT:"
			cat "/proc/$pid/stack" 2>/dev/null
			kill -KILL "$pid"
		) &
		dog=$!
		wait "$pid"
		rc=$?
		kill "$dog" 2>/dev/null
		wait "$dog" 2>/dev/null
		[ $rc -eq 137 ] && exit 1
		fin=$(($(cticks) - k0 - before))
		return $rc
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
	events() { sed -n 's/^storm: [0-9]* iterations (\([0-9]*\) transitions).*/\1/p' "$1"; }
	# ticks PID...: the CPU time (user + system, in clock ticks) of these
	# processes' threads so far
	ticks() {
		for p in "$@"; do cat /proc/"$p"/task/*/stat 2>/dev/null; done |
			awk '{ t += $14 + $15 } END { print t + 0 }'
	}
	# cticks: the CPU time (clock ticks) of this shell's children that
	# ended and were waited for, and of their children that they waited for
	cticks() { awk '{ print $16 + $17 }' /proc/$$/stat; }
	hz=$(getconf CLK_TCK)
	# reader_us T0 T1 STORM-OUTPUT: the reader's CPU per event, in us
	reader_us() {
		echo "$1 $2 $(events "$3") $hz" | awk '{ printf "%.2f", $3 ? ($2 - $1) * 1e6 / $4 / $3 : 0 }'
	}
	# finish_us STORM-OUTPUT: the last stop's CPU per event, in us
	finish_us() {
		echo "$fin $(events "$1") $hz" | awk '{ printf "%.2f", $2 ? $1 * 1e6 / $3 / $2 : 0 }'
	}

	# under_tsmtrace ROUND NAME CMD [OPTIONS...]: the storm under
	# 'tsmtrace CMD OPTIONS...', its standard output to /dev/null
	under_tsmtrace() {
		round=$1 name=$2 cmd=$3
		shift 3
		"$B" "$cmd" --state-known "$@" >/dev/null 2>"$T/$name.err" &
		p=$!
		wait_for "$T/$name.err" tracing $p
		c0=$(ticks "$p")
		storm "$T/$name"
		c1=$(ticks "$p")
		stop $p
		echo "bench: round $round tsmtrace-$name $(rate "$T/$name") transitions/s reader-cpu $(reader_us "$c0" "$c1" "$T/$name") us/event finish $(finish_us "$T/$name") us/event"
	}
	# trace_cmd_start EVENT-DIR OUT CMD OPTIONS...: 'trace-cmd CMD' in the
	# background ($p), its output in OUT; its output is buffered: ready
	# when EVENT-DIR's event is on, and a moment more
	trace_cmd_start() {
		on=/sys/kernel/tracing/events/$1/enable
		tcout=$2
		shift 2
		trace-cmd "$@" >"$tcout" 2>&1 &
		p=$!
		n=0
		while [ "$(cat "$on")" != 1 ]; do
			kill -0 $p 2>/dev/null || { cat "$tcout"; exit 1; }
			n=$((n + 1))
			[ $n -gt 300 ] && { echo "bench: trace-cmd did not start in 60 s"; exit 1; }
			sleep 0.2
		done
		sleep 2
	}
	# under_trace_cmd ROUND NAME OUT CMD OPTIONS...
	under_trace_cmd() {
		round=$1 name=$2 tcout=$3
		shift 3
		trace_cmd_start pci_tsm/pci_tsm_range "$tcout" "$@"
		# trace-cmd and the reader it forks for each CPU
		pids=$(pgrep -x trace-cmd)
		# shellcheck disable=SC2086
		c0=$(ticks $pids)
		storm "$T/$name"
		# shellcheck disable=SC2086
		c1=$(ticks $pids)
		# shellcheck disable=SC2086
		stop $p $pids
		echo "bench: round $round trace-cmd-$name $(rate "$T/$name") transitions/s reader-cpu $(reader_us "$c0" "$c1" "$T/$name") us/event finish $(finish_us "$T/$name") us/event"
	}
	# the kernel side alone, next to a storm with nothing attached
	kernel_side() {
		storm "$T/knone"
		# shellcheck disable=SC2086
		trace-cmd start $EVENTS >/dev/null 2>&1 || { echo "bench: trace-cmd start failed"; exit 1; }
		storm "$T/kftrace"
		trace-cmd reset >/dev/null 2>&1
		sysctl -qw kernel.bpf_stats_enabled=1
		"$B" record --state-known -o "$T/stats.tsm" >/dev/null 2>"$T/stats.err" &
		p=$!
		wait_for "$T/stats.err" tracing $p
		storm "$T/kbpf"
		# run_cnt and run_time_ns of each program the reader holds
		bs=$(cat /proc/$p/fdinfo/* 2>/dev/null |
			awk '/^run_time_ns:/ { t += $2 } /^run_cnt:/ { c += $2 } END { printf "%d %.0f", c, c ? t / c : 0 }')
		# and each program's, by name, when there is a bpftool
		if command -v bpftool >/dev/null; then
			# a program's fd and its link's both name it
			sed -n 's/^prog_id:[[:space:]]*//p' /proc/$p/fdinfo/* 2>/dev/null | sort -un |
			while read -r id; do
				bpftool prog show id "$id" 2>/dev/null
			done | awk '/^[0-9]+:/ {
				name = ""; t = 0; c = 0
				for (i = 1; i < NF; i++) {
					if ($i == "name") name = $(i + 1)
					if ($i == "run_time_ns") t = $(i + 1)
					if ($i == "run_cnt") c = $(i + 1)
				}
				if (c)
					printf "bench: kernel-side-bpf-prog %s %.0f ns a run (%d runs)\n", name, t / c, c }'
		fi
		stop $p
		sysctl -qw kernel.bpf_stats_enabled=0
		echo "$(rate "$T/knone") $(rate "$T/kftrace")" | awk '{
			printf "bench: kernel-side nothing-attached %d transitions/s\n", $1
			printf "bench: kernel-side trace-cmd-start %d transitions/s (%.2f us an event more, nobody reading)\n", $2, 1e6 / $2 - 1e6 / $1 }'
		echo "bench: kernel-side tsmtrace-bpf ${bs#* } ns a run (${bs% *} runs; kernel.bpf_stats_enabled, $(rate "$T/kbpf") transitions/s under its cost)"
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
		trace_cmd_start iommu/map "$T/sstorm.out" record -e dma_buf -e iommu:map \
			-e iommu:unmap -o "$T/sstorm.dat"
		sstorm "$T/stc"
		stop $p
		echo "bench: round $1 stock-trace-cmd-record $(rate "$T/stc") transitions/s"
	}

	# warm up until two storms in a row agree within 10% (at most 6):
	# a fresh guest speeds up over its first storms, a guest on one TCG
	# thread over more of them
	w=0 prev=0
	while [ $w -lt 6 ]; do
		w=$((w + 1))
		storm "$T/warm"
		cur=$(rate "$T/warm")
		[ "$prev" -gt 0 ] && [ $((cur * 10)) -le $((prev * 11)) ] &&
			[ $((cur * 11)) -ge $((prev * 10)) ] && break
		prev=$cur
	done
	echo "bench: warm-up $w storms, the last at $cur transitions/s"
	r=1
	while [ $r -le "$ROUNDS" ]; do
		storm "$T/none"
		echo "bench: round $r nothing-attached $(rate "$T/none") transitions/s"
		under_tsmtrace "$r" live live
		# shellcheck disable=SC2086
		under_trace_cmd "$r" stream /dev/null stream $EVENTS
		under_tsmtrace "$r" record record -o "$T/storm-rec.tsm"
		# shellcheck disable=SC2086
		under_trace_cmd "$r" record "$T/storm.out" record $EVENTS -o "$T/storm.dat"
		under_tsmtrace "$r" live-o live -o "$T/storm.tsm"
		under_tsmtrace "$r" live-q live -q
		r=$((r + 1))
	done
	kernel_side
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
	# each part of live's reader, an event, on the last round's recording
	if [ -x "$OUT/tsmbench" ]; then
		"$OUT/tsmbench" --reader-parts "$T/storm.tsm" --dir "$T/parts" |
			sed 's/^bench: reader-part-/bench: reader-part-guest-/'
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
# summary MODE VM-OUTPUT: medians over the rounds, with their range
summary() {
	awk -v mode="$1" '
     $1 == "bench:" && $2 == "round" {
	rate[$3, $4] = $5; if ($3 > n) n = $3
	if ($7 == "reader-cpu") cpu[$3, $4] = $8
	if ($10 == "finish") fin[$3, $4] = $11
     }
     function sort(a, k,   i, j, t) {
	for (i = 1; i <= k; i++)
		for (j = i + 1; j <= k; j++)
			if (a[j] < a[i]) { t = a[i]; a[i] = a[j]; a[j] = t }
     }
     function median(a, k) {
	sort(a, k)
	return k % 2 ? a[(k + 1) / 2] : (a[k / 2] + a[k / 2 + 1]) / 2
     }
     # pairline WHAT A B D K: the K round-by-round differences D, the cost
     # of A less that of B: their median, range and in how many rounds A
     # cost less
     function pairline(what, a, b, d, k,   i, list, less, m) {
	if (!k)
		return
	list = ""; less = 0
	for (i = 1; i <= k; i++) {
		list = list sprintf("%s%+.2f", i > 1 ? " " : "", d[i])
		less += d[i] < 0
	}
	m = median(d, k)	# sorts d: the range after it
	printf "bench: %s-%s-minus-%s-tcg-%s %+.2f us a transition (median of %d rounds, range %+.2f to %+.2f: %s; %s cost less in %d of %d)\n", what, a, b, mode, m, k, d[1], d[k], list, a, less, k
     }
     END {
	split("nothing-attached stock-nothing-attached", bases, " ")
	for (b = 1; b <= 2; b++) {
		k = 0
		for (r = 1; r <= n; r++)
			if (rate[r, bases[b]])
				v[++k] = rate[r, bases[b]]
		if (!k)
			continue
		m = median(v, k)
		printf "bench: %s-rate-tcg-%s median %d, range %d-%d transitions/s over %d rounds (spread %.0f%% of the median)\n", bases[b], mode, m, v[1], v[k], k, 100 * (v[k] - v[1]) / m
	}
	nc = split("tsmtrace-live trace-cmd-stream tsmtrace-record trace-cmd-record tsmtrace-live-o tsmtrace-live-q stock-live-source-series stock-live-source-stock stock-trace-cmd-record", cfg, " ")
	for (c = 1; c <= nc; c++) {
		base = cfg[c] ~ /^stock-/ ? "stock-nothing-attached" : "nothing-attached"
		k = 0; kc = 0; kf = 0; list = ""
		for (r = 1; r <= n; r++) {
			if (!rate[r, base] || !rate[r, cfg[c]])
				continue
			q[++k] = rate[r, cfg[c]] / rate[r, base]
			list = list sprintf("%s%.2f", k > 1 ? " " : "", q[k])
			us[k] = 1e6 / rate[r, cfg[c]] - 1e6 / rate[r, base]
			if ((r, cfg[c]) in cpu)
				rc[++kc] = cpu[r, cfg[c]]
			if ((r, cfg[c]) in fin)
				rf[++kf] = fin[r, cfg[c]]
		}
		if (!k)
			continue
		med[cfg[c]] = median(us, k)
		printf "bench: live-cost-ratio-%s-tcg-%s %.2f (median of %d rounds, range %.2f-%.2f: %s; rate with it / rate with nothing)\n", cfg[c], mode, median(q, k), k, q[1], q[k], list
		printf "bench: live-cost-per-transition-%s-tcg-%s %.2f us (median; range %.2f to %.2f)\n", cfg[c], mode, med[cfg[c]], us[1], us[k]
		if (kc)
			printf "bench: reader-cpu-per-event-%s-tcg-%s %.2f us (median of %d rounds)\n", cfg[c], mode, median(rc, kc), kc
		if (kf)
			printf "bench: finish-per-event-%s-tcg-%s %.2f us (median of %d rounds; from SIGINT to exit)\n", cfg[c], mode, median(rf, kf), kf
	}
	# like for like, round by round: the difference between the costs of
	# the two readers in the same round (the rate with nothing attached cancels
	# out), its median and range, and in how many rounds the first cost
	# less; live -o against trace-cmd record as well, though live -o
	# prints and checks besides, and live -q (the violations alone, no
	# file) against it: watching a host for what recording it costs
	np = split("tsmtrace-live trace-cmd-stream tsmtrace-record trace-cmd-record tsmtrace-live-o trace-cmd-record tsmtrace-live-q trace-cmd-record", pair, " ")
	for (c = 1; c < np; c += 2) {
		a = pair[c]; b = pair[c + 1]
		k = 0; kf = 0
		for (r = 1; r <= n; r++) {
			if (!rate[r, a] || !rate[r, b])
				continue
			d[++k] = 1e6 / rate[r, a] - 1e6 / rate[r, b]
			# and with what each took to finish after the storm
			# (trace-cmd record compresses its file then): the
			# whole work, the same file
			if (((r, a) in fin) && ((r, b) in fin))
				df[++kf] = d[k] + fin[r, a] - fin[r, b]
		}
		pairline("like-for-like", a, b, d, k)
		pairline("like-for-like-finished", a, b, df, kf)
	}
	if (("stock-live-source-stock" in med) && ("stock-live-source-series" in med))
		printf "bench: fentry-over-tracepoint-per-event-tcg-%s %.1f us (stock source - series source, same storm)\n", mode, med["stock-live-source-stock"] - med["stock-live-source-series"]
     }' "$2"
}
run=
for mode in ${BENCH_TCG_THREADS:-multi icount}; do
	case $mode in
	multi|single) vmopt="--tcg-threads $mode" ;;
	icount) vmopt="--tcg-threads single --smp 1 --icount 0" ;;
	*) echo "bench: BENCH_TCG_THREADS takes multi, single and icount, not '$mode'"; exit 1 ;;
	esac
	echo "bench: lab run with TCG threads $mode"
	# shellcheck disable=SC2086
	"$ROOT/scripts/vm.sh" $vmopt --kernel "$K" \
		--append tsm_sw.devices=1234:11e8,1af4:1110 --keep --timeout 1800 -- \
		"$ROOT/tools/tsmtrace/bench-live.sh" --guest "$SEC" "$ROUNDS" >"$T/vm.out" 2>&1
	rc=$?
	grep '^bench:' "$T/vm.out"
	[ -n "$run" ] && rm -rf "$run"
	run=$(sed -n 's/^vm: run directory kept: //p' "$T/vm.out")
	if [ $rc -ne 0 ] || [ ! -f "$run/storm.dat" ]; then
		echo "bench: the lab run failed (exit $rc):"
		tail -n 20 "$T/vm.out"
		exit 1
	fi
	summary "$mode" "$T/vm.out"
done

# the parts of live's reader on the host's CPU, on the same recording
if [ -x "$OUT/tsmbench" ]; then
	"$OUT/tsmbench" --reader-parts "$run/storm.tsm" --dir "$T/parts" |
		sed 's/^bench: reader-part-/bench: reader-part-host-/'
fi

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
# like for like: the same trace.dat, every event printed, or a verdict
tdrep=$(secs "$B" report --state-known "$run/storm.dat")
tdck=$(secs "$B" check --state-known "$run/storm.dat")
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
echo "$n $tc $tdrep $tdck" | awk '{
	printf "bench: report-of-trace-dat-throughput %.0f events/s (tsmtrace report of trace-cmd'"'"'s file, every event printed)\n", $1 / $3
	printf "bench: report-vs-trace-cmd-report-same-file-ratio %.1f (both print every event of the same trace.dat)\n", $2 / $3
	printf "bench: check-of-trace-dat-throughput %.0f events/s (a verdict of the same trace.dat)\n", $1 / $4
	printf "bench: check-vs-trace-cmd-report-same-file-ratio %.1f\n", $2 / $4
}'
# file sizes: the same storm, each recorder with its default compression
echo "$n $(stat -c %s "$run/storm.dat") $nl $(stat -c %s "$run/storm.tsm")" | awk '{
	printf "bench: file-bytes-per-event-trace-cmd-record %.2f (%d bytes, %d events)\n", $2 / $1, $2, $1
	printf "bench: file-bytes-per-event-tsmtrace-zstd %.2f (%d bytes, %d events; live -o, zstd)\n", $4 / $3, $4, $3
	printf "bench: file-size-per-event-ratio-tsmtrace-to-trace-cmd %.2f\n", ($4 / $3) / ($2 / $1)
}'
rm -rf "$run"
