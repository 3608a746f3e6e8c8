#!/bin/sh
# VM suite: tsmtrace live and record on the lab kernel's events.
#
# Runs tsm_flow's scenarios under 'tsmtrace live --json' (recording with -o)
# and checks the verdicts: the correct flow and a TDI error PASS; the
# broken revoke is a VIOLATION of TSM-I1 naming the device, the PFN range,
# the IOAS mapping and a kernel stack. The differential test: 'check' of
# each recorded file gives exactly the violations and verdict that live
# gave (the JSON lines, without the fields only a file has). The traces of
# tests/traces/lab-*.tsm were recorded here; their verdicts must be what
# the same flows give now. A kernel without the KVM slot events is played
# by a BTF name list without them: live says so once and the verdict's
# coverage says TSM-I4 was not checked. tests/vm/kvm_dmabuf (KVM memslots
# backed by DMABUFs) under live gives the KVM slot events: PASS, fully.
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BIN=${TSM_TEST_BIN:-$ROOT/build/tests/vm}
B=${TSMTRACE:-$ROOT/build/tsmtrace/tsmtrace}
TR=$ROOT/tests/traces
T=$(mktemp -d)
rc=0
pass() { echo "PASS: $1"; }
fail() { echo "FAIL: $1 ($2)"; rc=1; }

. "$ROOT/tests/vm/lib-tsmtrace.sh"

for p in "$B" "$BIN/tsm_flow"; do
	[ -x "$p" ] || { echo "FAIL: tsmtrace-vm-setup (not built: $p)"; exit 1; }
done

# run_flow NAME [ENV...]: tsm_flow NAME under live --json -o $T/NAME.tsm
run_flow() {
	name=$1; shift
	under_live "$name" "$*" "$BIN/tsm_flow" "${name%-no-kvm}"
}

# the verdict and invariants of tests/traces/expected for a committed trace
expected_of() { sed -n "s/^$1 *[0-9] *//p" "$TR/expected"; }
found_of() {	# VERDICT INV... of a check -j output
	printf '%s' "$(verdict_of "$1")"
	grep '"type":"violation"' "$1" | sed -E 's/.*"invariant":"(TSM-I[0-9]+)".*/ \1/' | tr -d '\n'
	echo
}
same_as_committed() {
	name=$1 trace=$2
	want=$(expected_of "$trace" | sed 's/ *$//')
	got=$(found_of "$T/$name.check")
	if [ -f "$TR/$trace" ] && [ "$want" = "$got" ] &&
	   [ "$("$B" -j check "$TR/$trace" | verdict_of -)" = "${want%% *}" ]; then
		pass "rerecorded-$name-same-verdict-as-$trace"
	else
		fail "rerecorded-$name-same-verdict-as-$trace" "now '$got', expected '$want'"
	fi
}

# ---- the correct flow, under live and, at the same time, record
if start_tracer "$T/rec" "$B" record --state-known -o "$T/rec.tsm"; then
	rec=$tracer
	if run_flow good; then
		if [ "$(verdict_of "$T/good.out")" = PASS ] && grep -q '"coverage":{"full":true' "$T/good.out"; then
			pass live-good-flow-pass
		else
			fail live-good-flow-pass "$(grep -E '"type":"(violation|verdict)"' "$T/good.out")"
		fi
		differential good
		same_as_committed good lab-good-flow.tsm
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

# ---- the kernel that forgets to notify the importers: caught at the range
if run_flow broken-revoke; then
	v=$(grep '"type":"violation"' "$T/broken-revoke.out" | grep '"invariant":"TSM-I1"')
	dev=$(grep -m1 'BAR2 state' "$T/broken-revoke.flow" | cut -d' ' -f2)
	if [ "$(verdict_of "$T/broken-revoke.out")" = VIOLATION ] &&
	   echo "$v" | grep -q '"event":"pci_tsm_range"' &&
	   echo "$v" | grep -q "\"objects\":{\"dev\":\"$dev\"" &&
	   echo "$v" | grep -q '"objects":{[^}]*"pfn":"0x[0-9a-f]*","npfns":"0x[0-9a-f]*"' &&
	   echo "$v" | grep -q '"conflict":{[^}]*"ctx":"0x[0-9a-f]*","ioas":[0-9]*,"iova":"0x100000000"' &&
	   echo "$v" | grep -q '"stack":\["0xffffffff'; then
		pass live-broken-revoke-violation-tsm-i1-with-objects-and-stack
	else
		fail live-broken-revoke-violation-tsm-i1-with-objects-and-stack "dev $dev: $(grep -E '"type":"(violation|verdict)"' "$T/broken-revoke.out")"
	fi
	differential broken-revoke
	same_as_committed broken-revoke lab-broken-revoke.tsm
fi

# ---- a TDI error: the kernel unbinds and revokes, nothing is left behind
if run_flow tdi-error; then
	if [ "$(verdict_of "$T/tdi-error.out")" = PASS ] &&
	   grep -q '"event":"pci_tsm_unbind_end".*"reason":"ERROR"' "$T/tdi-error.out"; then
		pass live-tdi-error-pass
	else
		fail live-tdi-error-pass "$(grep -E '"type":"(violation|verdict)"|unbind' "$T/tdi-error.out")"
	fi
	differential tdi-error
	same_as_committed tdi-error lab-tdi-error.tsm
fi

# ---- KVM memslots backed by DMABUFs (tests/vm/kvm_dmabuf): every event seen
if [ ! -x "$BIN/kvm_dmabuf" ]; then
	echo "SKIP: live-kvm-dmabuf-slots-pass-full-coverage (no $BIN/kvm_dmabuf)"
elif under_live kvm-dmabuf "" "$BIN/kvm_dmabuf"; then
	if [ "$(verdict_of "$T/kvm-dmabuf.out")" = PASS ] &&
	   grep -q '"coverage":{"full":true' "$T/kvm-dmabuf.out" &&
	   grep -q '"event":"kvm_dmabuf_slot_bind".*"private":"1"' "$T/kvm-dmabuf.out"; then
		pass live-kvm-dmabuf-slots-pass-full-coverage
	else
		fail live-kvm-dmabuf-slots-pass-full-coverage "$(grep -E '"type":"(violation|verdict)"' "$T/kvm-dmabuf.out")"
	fi
	differential kvm-dmabuf
fi

# ---- a kernel without the KVM slot events, as its BTF would list them
for e in pci_tsm_bind_begin pci_tsm_bind_end pci_tsm_unbind_begin pci_tsm_unbind_end \
	 pci_tsm_tdi_state pci_tsm_range vfio_dmabuf_export_range vfio_dmabuf_export \
	 vfio_dmabuf_revoke vfio_dmabuf_release iommufd_ioas_map_dmabuf iommufd_ioas_unmap_dmabuf; do
	printf 'btf_trace_%s\0' "$e"
done >"$T/nokvm.btf"
if run_flow good-no-kvm TSMTRACE_BTF="$T/nokvm.btf"; then
	js=$(grep '"type":"verdict"' "$T/good-no-kvm.out")
	if [ "$(verdict_of "$T/good-no-kvm.out")" = PASS ] &&
	   echo "$js" | grep -q '"coverage":{"full":false,"observed":12,"events":14,"unobserved":\["kvm_dmabuf_slot_bind","kvm_dmabuf_slot_unbind"\],.*"unchecked":\["TSM-I4"\]' &&
	   [ "$(grep -c 'lacks 2 of 14 events' "$T/good-no-kvm.err")" = 1 ]; then
		pass live-without-kvm-events-pass-with-coverage
	else
		fail live-without-kvm-events-pass-with-coverage "$js $(cat "$T/good-no-kvm.err")"
	fi
	differential good-no-kvm
	if "$B" check "$T/good-no-kvm.tsm" | grep -q 'coverage: 12 of 14 events observed'; then
		pass record-without-kvm-events-header-says-so
	else
		fail record-without-kvm-events-header-says-so "$("$B" check "$T/good-no-kvm.tsm")"
	fi
fi

rm -rf "$T"
exit $rc
