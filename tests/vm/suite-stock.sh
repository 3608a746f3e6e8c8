#!/bin/sh
# vm-options: --stock
# VM suite on the stock kernel (the 7.3 base as Debian ships it, without the
# series: make kernel-stock): a VMM's DMABUF flow with mainline's ABI alone
# (tests/stock/stock_dmabuf.c), first on its own, then under 'tsmtrace live'
# with the stock-kernel source (the kernel has none of the series'
# tracepoints: live falls back to its functions by itself). Under live the
# flow must PASS, the coverage must say TSM-I5 was checked (the IOMMU's and
# KVM's mappings both followed) and TSM-I7 over what was observed, nothing
# else; the file must hold the IOMMU's maps and unmaps (a revoke's among
# them), KVM's entries of the BAR and their zaps, the exports, revokes,
# restores and releases; check of the file must say what live said, and
# the verdict must be that of the recording
# tests/traces/stock73-dmabuf-flow.tsm. Prints PASS/FAIL/SKIP lines.
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BIN=${TSM_STOCK_BIN:-$ROOT/build/tests/stock}
B=${TSMTRACE:-$ROOT/build/tsmtrace/tsmtrace}
TR=$ROOT/tests/traces
T=$(mktemp -d)
rc=0
pass() { echo "PASS: $1"; }
fail() { echo "FAIL: $1 ($2)"; rc=1; }

. "$ROOT/tests/vm/lib-tsmtrace.sh"

case "$(uname -r)" in
7.3.*) pass stock-kernel-is-7.3 ;;
*) fail stock-kernel-is-7.3 "the guest runs $(uname -r)" ;;
esac
for p in "$BIN/stock_dmabuf" "$B"; do
	[ -x "$p" ] || { echo "FAIL: stock-setup (not built: $p; make test-progs)"; exit 1; }
done
"$BIN/stock_dmabuf" || rc=1
# the suite mainline-abi runs this on the series' kernel: its live cases are
# the stock kernel's (the tsmtrace suite runs the stock source there)
if grep -q btf_trace_pci_tsm_range /sys/kernel/btf/vmlinux 2>/dev/null; then
	echo "SKIP: live-stock-source (the series' kernel: suite tsmtrace runs --source=stock)"
	rm -rf "$T"
	exit $rc
fi

# ---- the same flow under live: the stock-kernel source
if under_live stock "" "$BIN/stock_dmabuf"; then
	js=$(grep '"type":"verdict"' "$T/stock.out")
	if [ "$(verdict_of "$T/stock.out")" = PASS ] &&
	   echo "$js" | grep -q '"checked":\["TSM-I5"\],"partial":\["TSM-I7"\]' &&
	   grep -q 'does not have the tsmtrace tracepoints: using its own functions' "$T/stock.err" &&
	   grep -q 'seen: the IOMMU' "$T/stock.err" &&
	   grep -q "seen: KVM's page-table entries of BAR pages" "$T/stock.err"; then
		pass live-stock-source-pass-i5-i7-over-what-was-observed
	else
		fail live-stock-source-pass-i5-i7-over-what-was-observed "$js $(head -c 1500 "$T/stock.err")"
	fi
	differential stock
	same_as_committed stock stock73-dmabuf-flow.tsm
	missing=
	for want in '"event":"vfio_dmabuf_export_range"' '"event":"vfio_dmabuf_export"' \
		    '"event":"vfio_dmabuf_revoke".*"reason":"UNSPECIFIED"' \
		    '"event":"vfio_dmabuf_restore"' '"event":"vfio_dmabuf_release"' \
		    '"event":"iommu_map_dmabuf"' '"event":"iommu_unmap_dmabuf".*"reason":"USER"' \
		    '"event":"iommu_unmap_dmabuf".*"reason":"REVOKE"' \
		    '"event":"vfio_dmabuf_release".*"dev":"0000:' \
		    '"event":"kvm_spte_map".*"gfn":"0x400' '"event":"kvm_spte_unmap"'; do
		grep -q "$want" "$T/stock.out" || missing="$missing $want"
	done
	if [ -z "$missing" ]; then
		pass live-stock-source-sees-every-kind
	else
		fail live-stock-source-sees-every-kind "not in live's output:$missing"
	fi
	# every IOMMU mapping of the flow's DMABUFs is undone, one unmap each
	maps=$(grep -c '"event":"iommu_map_dmabuf"' "$T/stock.out")
	unmaps=$(grep -c '"event":"iommu_unmap_dmabuf"' "$T/stock.out")
	if [ "$maps" -ge 4 ] && [ "$maps" = "$unmaps" ]; then
		pass live-stock-source-maps-and-unmaps-pair
	else
		fail live-stock-source-maps-and-unmaps-pair "$maps maps, $unmaps unmaps"
	fi
	# KVM's entries of the BAR: the guest's two reads, each undone (decode
	# off, the slot's deletion)
	maps=$(grep -c '"event":"kvm_spte_map"' "$T/stock.out")
	unmaps=$(grep -c '"event":"kvm_spte_unmap"' "$T/stock.out")
	if [ "$maps" -ge 4 ] && [ "$maps" = "$unmaps" ]; then
		pass live-stock-source-kvm-entries-pair
	else
		fail live-stock-source-kvm-entries-pair "$maps maps, $unmaps unmaps"
	fi
	# the 1 GiB slot over a 1 GiB-aligned mmap: a huge entry (1 GiB, or
	# 2 MiB without 1 GiB pages), mapped and zapped with its page size
	if grep -q '"event":"kvm_spte_map".*"level":[23]' "$T/stock.out" &&
	   grep -q '"event":"kvm_spte_unmap".*"level":[23]' "$T/stock.out"; then
		pass live-stock-source-kvm-huge-entries
	else
		fail live-stock-source-kvm-huge-entries "no kvm_spte_map/unmap of level 2 or 3: $(grep -m 4 '"event":"kvm_spte' "$T/stock.out" | tr '\n' ' ')"
	fi
	# dirty logging split the huge entry: its pages are followed through
	# the 512 entries of the level below (2 MiB ones, and 4 KiB ones of the
	# first of those; 4 KiB ones alone where the entry was 2 MiB), and
	# decode off zapped those too (the pairing above)
	l3=$(grep -c '"event":"kvm_spte_map".*"level":3,' "$T/stock.out")
	l2=$(grep -c '"event":"kvm_spte_map".*"level":2,' "$T/stock.out")
	l1=$(grep -c '"event":"kvm_spte_map".*"gfn":"0x40[01][0-9a-f][0-9a-f]".*"level":1,' "$T/stock.out")
	if [ "$l1" -ge 512 ] && { [ "$l3" = 0 ] || [ "$l2" -ge 512 ]; }; then
		pass live-stock-source-kvm-split-entries-followed
	else
		fail live-stock-source-kvm-split-entries-followed "maps of level 3: $l3, level 2: $l2, level 1 in the first 2 MiB: $l1"
	fi
fi

# ---- attaching late: a DMABUF open and mapped before live starts is found
# by the DMABUF iterator and followed (its revoke and unmap are seen), but its
# past is unknown: INCOMPLETE, never PASS. With nothing open, live knows the
# state at start without --state-known: PASS.
# hold OUT: stock_dmabuf hold in the background ($holder) until it holds
hold() {
	"$BIN/stock_dmabuf" hold >"$1" 2>&1 &
	holder=$!
	i=0
	while ! grep -q held "$1" && [ $i -lt 300 ] && kill -0 $holder 2>/dev/null; do
		i=$((i + 1)); sleep 0.2
	done
}
hold "$T/hold.out"
if start_tracer "$T/late" "$B" live --json -o "$T/late.tsm"; then
	kill -USR1 $holder
	wait $holder; hrc=$?
	stop_tracer $tracer
	if [ $hrc = 0 ] && [ "$(verdict_of "$T/late.out")" = INCOMPLETE ] &&
	   grep -q '1 DMABUF(s) of VFIO were already open: followed from now on' "$T/late.err" &&
	   grep -q '"event":"vfio_dmabuf_revoke"' "$T/late.out" &&
	   grep -q '"type":"verdict".*"incomplete":\[[^]]*"start_unknown"' "$T/late.out" &&
	   [ "$("$B" -j check "$T/late.tsm" | verdict_of -)" = INCOMPLETE ]; then
		pass live-stock-late-start-open-dmabuf-incomplete
	else
		fail live-stock-late-start-open-dmabuf-incomplete "holder $hrc: $(cat "$T/hold.out") $(verdict_lines "$T/late.out" | head -c 1200) $(head -c 600 "$T/late.err")"
	fi
else
	kill -USR1 $holder 2>/dev/null
	fail live-stock-late-start-open-dmabuf-incomplete "live did not start"
fi
if start_tracer "$T/clean" "$B" live --json -o "$T/clean.tsm"; then
	hold "$T/hold2.out"
	kill -USR1 $holder
	wait $holder; hrc=$?
	stop_tracer $tracer
	if [ $hrc = 0 ] && [ "$(verdict_of "$T/clean.out")" = PASS ] &&
	   grep -q 'no DMABUF of VFIO is open and no KVM VM runs: the state at start is known' "$T/clean.err"; then
		pass live-stock-nothing-open-state-known-pass
	else
		fail live-stock-nothing-open-state-known-pass "holder $hrc: $(verdict_lines "$T/clean.out" | head -c 1200)"
	fi
else
	fail live-stock-nothing-open-state-known-pass "live did not start"
fi

# ---- asked for the series' tracepoints, the stock kernel is refused, clearly
out=$("$B" live --source=series --duration 1 2>&1); r=$?
if [ $r = 3 ] && echo "$out" | grep -q 'does not have the tsmtrace tracepoints.*--source=stock'; then
	pass live-source-series-refused-on-stock-kernel
else
	fail live-source-series-refused-on-stock-kernel "exit $r: $out"
fi

rm -rf "$T"
exit $rc
