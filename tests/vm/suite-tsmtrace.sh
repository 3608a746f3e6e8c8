#!/bin/sh
# vm-options: --append tsm_sw.devices=1234:11e8,1af4:1110
# VM suite on the series' kernel: tsmtrace live on its events.
#
# The series' programs (tests/vm: the TSM operation with its races and fault
# sweeps, the host kept off private pages, shared and private DMABUFs with
# edu's DMA, memory decode off and on, KVM memslots over shared and private
# DMABUF slices) run under 'tsmtrace live --json --state-known -o FILE'.
# Each must PASS with every event observed (the verdict's coverage says so),
# vfio_dmabuf_restore among them; check of each file says
# what live said; the events of the series' kinds are all in the files. With
# vfio_pci_dmabuf_skip_notify armed (tsm_dmabuf broken-revoke), the IOAS
# mapping that survives a revoke at bind is a VIOLATION naming the device,
# the PFNs, the IOVA and the stack.
#
# tsm_flow, the VMM's scenario of the demo: the correct flow with its KVM
# slots under live and, at once, record (PASS, full coverage, a private
# slot among the events); a TDI error (PASS, the kernel's unbind with
# reason ERROR). Their verdicts must be those of the recordings in
# tests/traces (lab73-good-flow.tsm, lab73-tdi-error.tsm). A kernel without
# the KVM slot events is played by a BTF name list without them: live says
# so once and the verdict's coverage says TSM-I4 was not checked.
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BIN=${TSM_TEST_BIN:-$ROOT/build/tests/vm}
B=${TSMTRACE:-$ROOT/build/tsmtrace/tsmtrace}
TR=$ROOT/tests/traces
T=$(mktemp -d)
rc=0
pass() { echo "PASS: $1"; }
fail() { echo "FAIL: $1 ($2)"; rc=1; }

. "$ROOT/tests/vm/lib-tsmtrace.sh"

for p in "$B" "$BIN/tsm_op" "$BIN/tsm_private" "$BIN/tsm_dmabuf" "$BIN/kvm_dmabuf" \
	 "$BIN/tsm_flow"; do
	[ -x "$p" ] || { echo "FAIL: tsmtrace-setup (not built: $p)"; exit 1; }
done

for prog in tsm_op tsm_private tsm_dmabuf kvm_dmabuf; do
	under_live "$prog" "" "$BIN/$prog" || continue
	v=$(verdict_of "$T/$prog.out")
	cov=$(grep '"type":"verdict"' "$T/$prog.out" | sed -E 's/.*"unobserved":\[([^]]*)\].*/\1/')
	if [ "$v" = PASS ] && [ -z "$cov" ]; then
		pass "live-$prog-pass"
	else
		fail "live-$prog-pass" "$(verdict_lines "$T/$prog.out" | head -c 1500)"
	fi
	differential "$prog"
done

# the kernel that forgets to tell iommufd about a revoke: caught at the revoke
# (TSM-I5) and where the pages turn private under the IOAS mapping (TSM-I1),
# with the device, the PFNs, the IOVA and the kernel stack
if under_live broken-revoke "" "$BIN/tsm_dmabuf" broken-revoke; then
	dev=$(sed -n 's/^dev //p' "$T/broken-revoke.flow")
	v1=$(grep '"type":"violation"' "$T/broken-revoke.out" | grep '"invariant":"TSM-I1"')
	v5=$(grep '"type":"violation"' "$T/broken-revoke.out" | grep '"invariant":"TSM-I5"')
	if [ "$(verdict_of "$T/broken-revoke.out")" = VIOLATION ] &&
	   echo "$v5" | grep -q '"event":"vfio_dmabuf_revoke"' &&
	   echo "$v1" | grep -q '"event":"pci_tsm_range"' &&
	   echo "$v1" | grep -q "\"objects\":{\"dev\":\"$dev\"" &&
	   echo "$v1" | grep -q '"objects":{[^}]*"pfn":"0x[0-9a-f]*","npfns":"0x[0-9a-f]*"' &&
	   echo "$v1" | grep -q '"conflict":{[^}]*"ioas":[0-9]*,"iova":"0x1000000"' &&
	   echo "$v1" | grep -q '"stack":\["0xffffffff'; then
		pass live-broken-revoke-tsm-i5-and-i1-with-objects-and-stack
	else
		fail live-broken-revoke-tsm-i5-and-i1-with-objects-and-stack "dev $dev: $(verdict_lines "$T/broken-revoke.out" | head -c 2000)"
	fi
	differential broken-revoke
fi

# ---- the stock-kernel source on this kernel (--source=stock): mainline's
# flow of tests/stock/stock_dmabuf PASSes; with vfio_pci_dmabuf_skip_notify
# armed, the IOMMU mapping that survives the revoke at memory decode off is
# a TSM-I5 VIOLATION naming the device, the PFNs, the IOVA and the stack,
# from the kernel's functions alone; with vfio_pci_bar_skip_zap armed,
# KVM's entry of the BAR that survives the revoke is one too, naming the
# GFN. Their verdicts are those of the recordings tests/traces/stock73-*.tsm.
STOCK=${TSM_STOCK_BIN:-$ROOT/build/tests/stock}/stock_dmabuf
if [ ! -x "$STOCK" ]; then
	fail stock-source-setup "not built: $STOCK"
else
	LIVE_ARGS=--source=stock
	if under_live stock-flow "" "$STOCK"; then
		if [ "$(verdict_of "$T/stock-flow.out")" = PASS ] &&
		   grep -q '"checked":\["TSM-I5"\],"partial":\["TSM-I7"\]' "$T/stock-flow.out"; then
			pass live-stock-source-on-series-kernel-pass
		else
			fail live-stock-source-on-series-kernel-pass "$(verdict_lines "$T/stock-flow.out" | head -c 1500)"
		fi
		differential stock-flow
	fi
	if under_live stock-broken "" "$STOCK" broken-revoke; then
		dev=$(sed -n 's/^dev //p' "$T/stock-broken.flow")
		iova=$(sed -n 's/^iova //p' "$T/stock-broken.flow")
		pfn=$(sed -n 's/^pfn //p' "$T/stock-broken.flow")
		v5=$(grep '"type":"violation"' "$T/stock-broken.out" | grep '"invariant":"TSM-I5"')
		if [ "$(verdict_of "$T/stock-broken.out")" = VIOLATION ] &&
		   echo "$v5" | grep -q '"event":"vfio_dmabuf_revoke"' &&
		   echo "$v5" | grep -q "\"objects\":{\"dev\":\"$dev\"" &&
		   echo "$v5" | grep -q "\"conflict\":{[^}]*\"domain\":\"0x[0-9a-f]*\",\"iova\":\"$iova\",\"pfn\":\"$pfn\",\"npfns\":\"0x200\"" &&
		   echo "$v5" | grep -q '"stack":\["0xffffffff'; then
			pass live-stock-source-broken-revoke-tsm-i5-with-objects-and-stack
		else
			fail live-stock-source-broken-revoke-tsm-i5-with-objects-and-stack "dev $dev iova $iova pfn $pfn: $(verdict_lines "$T/stock-broken.out" | head -c 2000)"
		fi
		differential stock-broken
		same_as_committed stock-broken stock73-broken-revoke.tsm
	fi
	# the zap VFIO forgets (vfio_pci_bar_skip_zap): KVM's entry of the BAR
	# page a guest read through a slot over the VMM's mmap survives the
	# revoke of the DMABUF of the same pages
	if under_live stock-zap "" "$STOCK" broken-zap; then
		dev=$(sed -n 's/^dev //p' "$T/stock-zap.flow")
		pfn=$(sed -n 's/^pfn //p' "$T/stock-zap.flow")
		v5=$(grep '"type":"violation"' "$T/stock-zap.out" | grep '"invariant":"TSM-I5"')
		if [ "$(verdict_of "$T/stock-zap.out")" = VIOLATION ] &&
		   echo "$v5" | grep -q '"event":"vfio_dmabuf_revoke"' &&
		   echo "$v5" | grep -q "\"objects\":{\"dev\":\"$dev\"" &&
		   echo "$v5" | grep -q "\"conflict\":{\"dev\":\"$dev\",\"kvm\":\"spte\",\"gfn\":\"0x4000[01]\",\"level\":[12],\"pfn\":\"0x" &&
		   echo "$v5" | grep -q '"stack":\["0xffffffff'; then
			pass live-stock-source-broken-zap-kvm-entry-tsm-i5-with-objects-and-stack
		else
			fail live-stock-source-broken-zap-kvm-entry-tsm-i5-with-objects-and-stack "dev $dev pfn $pfn: $(verdict_lines "$T/stock-zap.out" | head -c 2000)"
		fi
		differential stock-zap
		same_as_committed stock-zap stock73-broken-zap.tsm
	fi
	# the same with KVM's 1 GiB entry of the BAR's first GiB: the conflict
	# names the huge entry, its first GFN and PFN
	if under_live stock-zap-huge "" "$STOCK" broken-zap huge; then
		dev=$(sed -n 's/^dev //p' "$T/stock-zap-huge.flow")
		pfn=$(sed -n 's/^pfn //p' "$T/stock-zap-huge.flow")
		v5=$(grep '"type":"violation"' "$T/stock-zap-huge.out" | grep '"invariant":"TSM-I5"')
		if [ "$(verdict_of "$T/stock-zap-huge.out")" = VIOLATION ] &&
		   echo "$v5" | grep -q '"event":"vfio_dmabuf_revoke"' &&
		   echo "$v5" | grep -q "\"conflict\":{\"dev\":\"$dev\",\"kvm\":\"spte\",\"gfn\":\"0x40000\",\"level\":3,\"pfn\":\"$pfn\""; then
			pass live-stock-source-broken-zap-huge-entry-tsm-i5
		else
			fail live-stock-source-broken-zap-huge-entry-tsm-i5 "dev $dev pfn $pfn: $(verdict_lines "$T/stock-zap-huge.out" | head -c 2000)"
		fi
		differential stock-zap-huge
	fi
	# the PCI TSM core's binds and unbinds (fentry/fexit pci_tsm_bind and
	# __pci_tsm_unbind): in a storm of DMABUF exports, maps, binds and
	# unbinds through iommufd, every bind and unbind is seen with its
	# device, TDI id, VM and result (pci_tsm_unbind()'s as USER); they decide
	# nothing without the series' layout, and the verdict stays PASS
	if under_live stock-binds "" "$BIN/tsm_flow" storm 2; then
		it=$(sed -n 's/^storm: \([0-9]*\) iterations.*/\1/p' "$T/stock-binds.flow")
		dev=$(grep -m 1 -o '"event":"vfio_dmabuf_export","buf":[0-9]*,"dev":"[^"]*"' "$T/stock-binds.out" | sed 's/.*"dev":"//; s/"$//')
		bb=$(grep -c "\"event\":\"pci_tsm_bind_begin\",\"dev\":\"$dev\",\"tdi_id\":[0-9]*,\"vm\":\"0x[0-9a-f]*\"" "$T/stock-binds.out")
		be=$(grep -c "\"event\":\"pci_tsm_bind_end\",\"dev\":\"$dev\",.*\"ret\":0" "$T/stock-binds.out")
		ub=$(grep -c "\"event\":\"pci_tsm_unbind_begin\",\"dev\":\"$dev\",.*\"reason\":\"USER\"" "$T/stock-binds.out")
		ue=$(grep -c "\"event\":\"pci_tsm_unbind_end\",\"dev\":\"$dev\",.*\"reason\":\"USER\"" "$T/stock-binds.out")
		if [ "$(verdict_of "$T/stock-binds.out")" = PASS ] && [ -n "$it" ] && [ "$it" -gt 0 ] &&
		   [ "$bb" = "$it" ] && [ "$be" = "$it" ] && [ "$ub" = "$it" ] && [ "$ue" = "$it" ] &&
		   grep -q 'seen: TDI binds and unbinds' "$T/stock-binds.err"; then
			pass live-stock-source-tsm-binds-and-unbinds
		else
			fail live-stock-source-tsm-binds-and-unbinds "dev $dev, $it iterations: binds $bb/$be, unbinds $ub/$ue; $(verdict_lines "$T/stock-binds.out" | head -c 1000)"
		fi
		differential stock-binds
	fi
	LIVE_ARGS=
fi

# ---- tsm_flow good under live and, at the same time, record
if start_tracer "$T/rec" "$B" record --state-known -o "$T/rec.tsm"; then
	rec=$tracer
	if under_live good "" "$BIN/tsm_flow" good; then
		if [ "$(verdict_of "$T/good.out")" = PASS ] &&
		   grep -q '"coverage":{"full":true' "$T/good.out" &&
		   grep -q '"event":"kvm_dmabuf_slot_bind".*"private":true' "$T/good.out"; then
			pass live-good-flow-pass-full-coverage-private-slot
		else
			fail live-good-flow-pass-full-coverage-private-slot "$(verdict_lines "$T/good.out" | head -c 1500)"
		fi
		differential good
		same_as_committed good lab73-good-flow.tsm
	fi
	stop_tracer $rec
	out=$("$B" check "$T/rec.tsm"); r=$?
	if [ $r = 0 ] && echo "$out" | grep -q 'PASS' && grep -q 'record: PASS' "$T/rec.out"; then
		pass record-good-flow-pass
	else
		fail record-good-flow-pass "exit $r: $out $(cat "$T/rec.out" "$T/rec.err")"
	fi
else
	fail record-good-flow-pass "record did not start"
fi

# ---- a TDI error: the kernel unbinds and revokes, nothing is left behind
if under_live tdi-error "" "$BIN/tsm_flow" tdi-error; then
	if [ "$(verdict_of "$T/tdi-error.out")" = PASS ] &&
	   grep -q '"event":"pci_tsm_unbind_end".*"reason":"ERROR"' "$T/tdi-error.out" &&
	   grep -q '"event":"vfio_dmabuf_revoke".*"reason":"TDI_ERROR"' "$T/tdi-error.out"; then
		pass live-tdi-error-pass
	else
		fail live-tdi-error-pass "$(grep -E '"type":"(violation|verdict)"|unbind|revoke' "$T/tdi-error.out" | head -c 2000)"
	fi
	differential tdi-error
	same_as_committed tdi-error lab73-tdi-error.tsm
fi

# ---- host CPU mappings of the BAR (TSM-I9): the VMM's mmap of BAR2 is
# zapped at bind and the shared page maps again: PASS, the maps and the zap
# among the events. With vfio_pci_bar_skip_zap armed the mapping of a page
# that turns private survives: a VIOLATION of TSM-I9 naming the device, the
# PFN and the stack, flagged by the in-kernel check as well.
if under_live cpu-map "" "$BIN/tsm_flow" cpu-map; then
	if [ "$(verdict_of "$T/cpu-map.out")" = PASS ] &&
	   [ "$(grep -c '"event":"vfio_pci_bar_map"' "$T/cpu-map.out")" -ge 2 ] &&
	   grep -q '"event":"vfio_pci_bar_zap".*"bar":2' "$T/cpu-map.out" &&
	   grep -q '"coverage":{"full":true' "$T/cpu-map.out"; then
		pass live-cpu-map-zapped-at-bind-pass
	else
		fail live-cpu-map-zapped-at-bind-pass "$(grep -E '"type":"(violation|verdict)"|vfio_pci_bar' "$T/cpu-map.out" | head -c 1500)"
	fi
	differential cpu-map
	same_as_committed cpu-map lab73-cpu-map.tsm
fi
if under_live broken-zap "" "$BIN/tsm_flow" broken-zap; then
	v=$(grep '"type":"violation"' "$T/broken-zap.out")
	if [ "$(verdict_of "$T/broken-zap.out")" = VIOLATION ] &&
	   grep -q 'the host still read the private page: 0x5a' "$T/broken-zap.flow" &&
	   echo "$v" | grep -q '"invariant":"TSM-I9".*"state":"pfn_cpu_mapped"' &&
	   echo "$v" | grep -q '"conflict":{[^}]*"host":"cpu"' &&
	   echo "$v" | grep -q '"stack":\["0xffffffff' &&
	   grep '"type":"verdict"' "$T/broken-zap.out" | grep -q '"kernel_flagged":1,"kernel_disagree":0' &&
	   [ "$(echo "$v" | grep -c .)" = 1 ]; then
		pass live-broken-zap-cpu-mapping-violation
	else
		fail live-broken-zap-cpu-mapping-violation "$(tail -c 300 "$T/broken-zap.flow") $(verdict_lines "$T/broken-zap.out" | head -c 2000)"
	fi
	differential broken-zap
	same_as_committed broken-zap lab73-broken-zap.tsm
fi
# live --quiet: the violation and the verdict, not one transition; its file
# holds every event all the same
if LIVE_ARGS=--quiet under_live broken-zap-quiet "" "$BIN/tsm_flow" broken-zap; then
	nev=$(grep -c '"type":"event"' "$T/broken-zap-quiet.out")
	nv=$(grep -c '"type":"violation"' "$T/broken-zap-quiet.out")
	if [ "$(verdict_of "$T/broken-zap-quiet.out")" = VIOLATION ] && [ "$nev" = 0 ] && [ "$nv" = 1 ] &&
	   grep '"type":"violation"' "$T/broken-zap-quiet.out" | grep -q '"invariant":"TSM-I9"' &&
	   [ "$("$B" report "$T/broken-zap-quiet.tsm" | grep -c ' vfio_pci_bar_')" -gt 0 ]; then
		pass live-quiet-prints-violations-not-transitions
	else
		fail live-quiet-prints-violations-not-transitions "$nev events, $nv violations: $(verdict_lines "$T/broken-zap-quiet.out" | head -c 1500)"
	fi
	differential broken-zap-quiet
fi

# ---- attaching late: what predates the trace (a TDI bound in sysfs, DMABUFs
# of VFIO found by the DMABUF iterator, a VFIO device's file open or only
# mapped, a KVM VM) is named, and the verdict is INCOMPLETE, never PASS; a
# mapping of a BAR alone is enough. With nothing there, live knows the state
# at start without --state-known and PASSes; --state-known against what is
# there is warned about.
# hold MODE OUT: tsm_flow MODE in the background ($holder) until it holds
hold() {
	"$BIN/tsm_flow" "$1" >"$2" 2>&1 &
	holder=$!
	i=0
	while ! grep -q 'tsm_flow: held' "$2" && [ $i -lt 600 ] && kill -0 $holder 2>/dev/null; do
		i=$((i + 1)); sleep 0.2
	done
}
# late NAME MODE PATTERN...: live started while tsm_flow MODE holds; it
# must say each PATTERN (and nothing of DMABUFs or VMs unless asked)
late() {
	name=$1 mode=$2; shift 2
	hold "$mode" "$T/$name.hold"
	if ! start_tracer "$T/$name" "$B" live --json -o "$T/$name.tsm"; then
		kill -USR1 $holder 2>/dev/null
		wait $holder
		fail "live-$name-incomplete" "live did not start"
		return
	fi
	kill -USR1 $holder
	bounded $holder 600; hrc=$?
	stop_tracer $tracer
	miss=
	for pat in "$@" 'the state at start is unknown: the verdict is INCOMPLETE'; do
		grep -q "$pat" "$T/$name.err" || miss="$miss, no '$pat'"
	done
	for pat in 'DMABUF(s) of VFIO' 'KVM VM(s)'; do
		case "$*" in *"$pat"*) ;; *) ! grep -q "$pat" "$T/$name.err" || miss="$miss, '$pat' said" ;; esac
	done
	if [ $hrc = 0 ] && [ -z "$miss" ] && [ "$(verdict_of "$T/$name.out")" = INCOMPLETE ] &&
	   grep -q '"type":"verdict".*"incomplete":\[[^]]*"start_unknown"' "$T/$name.out" &&
	   [ "$("$B" -j check "$T/$name.tsm" | verdict_of -)" = INCOMPLETE ]; then
		pass "live-$name-incomplete"
	else
		fail "live-$name-incomplete" "tsm_flow $hrc$miss: $(tail -c 300 "$T/$name.hold") $(verdict_lines "$T/$name.out" | head -c 800) $(head -c 1500 "$T/$name.err")"
	fi
}
late late-bound hold '0000:[0-9a-f:.]* is bound (tsm/bound: tsm0)' \
	'2 DMABUF(s) of VFIO were already open' '1 file(s) of VFIO devices were already open or mapped' \
	'1 KVM VM(s) were already running'
late late-bar-mapping hold-mmap '1 file(s) of VFIO devices were already open or mapped'
if start_tracer "$T/clean" "$B" live --json -o "$T/clean.tsm"; then
	"$BIN/tsm_flow" good >"$T/clean.flow" 2>&1 &
	bounded $! 600; frc=$?
	stop_tracer $tracer
	if [ $frc = 0 ] && [ "$(verdict_of "$T/clean.out")" = PASS ] &&
	   grep -q 'no TDI is bound, no DMABUF or file of a VFIO device is open and no KVM VM runs: the state at start is known' "$T/clean.err" &&
	   [ "$("$B" -j check "$T/clean.tsm" | verdict_of -)" = PASS ]; then
		pass live-nothing-there-state-known-pass
	else
		fail live-nothing-there-state-known-pass "tsm_flow $frc: $(verdict_lines "$T/clean.out" | head -c 800) $(head -c 800 "$T/clean.err")"
	fi
else
	fail live-nothing-there-state-known-pass "live did not start"
fi
hold hold "$T/sk.hold"
if start_tracer "$T/sk" "$B" live --json --state-known; then
	kill -USR1 $holder
	bounded $holder 600; hrc=$?
	stop_tracer $tracer
	if [ $hrc = 0 ] && grep -q 'warning: --state-known says that nothing predates the trace' "$T/sk.err"; then
		pass live-state-known-against-a-bound-tdi-warns
	else
		fail live-state-known-against-a-bound-tdi-warns "tsm_flow $hrc: $(head -c 800 "$T/sk.err")"
	fi
else
	kill -USR1 $holder 2>/dev/null
	wait $holder
	fail live-state-known-against-a-bound-tdi-warns "live did not start"
fi

# ---- a kernel without the KVM slot events, as its BTF would list them
without_kvm_events pci_tsm_bind_begin pci_tsm_bind_end pci_tsm_unbind_begin pci_tsm_unbind_end \
	pci_tsm_tdi_state pci_tsm_range vfio_dmabuf_export_range vfio_dmabuf_export \
	vfio_dmabuf_revoke vfio_dmabuf_restore vfio_dmabuf_release iommufd_ioas_map_dmabuf iommufd_ioas_unmap_dmabuf \
	vfio_pci_bar_map vfio_pci_bar_zap -- "$BIN/tsm_flow" good

# ---- loading: with -v live says what the verifier did for each program;
# each stays far below the kernel's limit of a million instructions (a
# program's walk of its ranges, unrolled, once took 614,389 of them)
for src in series stock; do
	out=$("$B" live --source=$src -v --duration 1 2>&1 >/dev/null)
	n=$(echo "$out" | grep -c ': program [a-z_0-9]*: the verifier processed [0-9]* instructions$')
	max=$(echo "$out" | sed -n 's/.*: program [a-z_0-9]*: the verifier processed \([0-9]*\) instructions$/\1/p' |
	      sort -n | tail -n 1)
	if [ "$n" -ge 10 ] && [ "${max:-1000000}" -le 100000 ] &&
	   echo "$out" | grep -q "^live: $n programs loaded in [0-9.]* s; the verifier processed [0-9]* instructions$"; then
		pass "live-$src-programs-verify-cheaply"
		echo "NOTE: $src source: $(echo "$out" | grep 'programs loaded in')"
	else
		fail "live-$src-programs-verify-cheaply" "$n programs, at most ${max:-?} instructions: $(echo "$out" | grep -E 'program|loaded|error' | head -c 1500)"
	fi
done

# what the files hold: every kind of event the flows cause, restore included
kinds=$(for prog in tsm_op tsm_private tsm_dmabuf kvm_dmabuf cpu-map; do "$B" report "$T/$prog.tsm"; done 2>/dev/null |
	grep -oE ' pid [0-9]+ +[a-z_]+' | awk '{ print $3 }' | sort -u | tr '\n' ' ')
missing=
for ev in pci_tsm_bind_begin pci_tsm_bind_end pci_tsm_unbind_begin pci_tsm_unbind_end \
	  pci_tsm_tdi_state pci_tsm_range vfio_dmabuf_export_range vfio_dmabuf_export \
	  vfio_dmabuf_revoke vfio_dmabuf_restore vfio_dmabuf_release \
	  iommufd_ioas_map_dmabuf iommufd_ioas_unmap_dmabuf \
	  kvm_dmabuf_slot_bind kvm_dmabuf_slot_unbind vfio_pci_bar_map vfio_pci_bar_zap; do
	case " $kinds" in *" $ev "*) ;; *) missing="$missing $ev" ;; esac
done
if [ -z "$missing" ]; then
	pass tsmtrace-every-event-kind-recorded
else
	fail tsmtrace-every-event-kind-recorded "not in the files:$missing (seen: $kinds)"
fi

rm -rf "$T"
exit $rc
