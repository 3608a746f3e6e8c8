#!/bin/sh
# vm-options: --next --append tsm_sw.devices=1234:11e8,1af4:1110
# VM suite on the series' 7.3 kernel: tsmtrace live on its events.
#
# The 7.3 programs (tests/next: the TSM operation with its races and fault
# sweeps, the host kept off private pages, shared and private DMABUFs with
# edu's DMA, memory decode off and on, KVM memslots over shared and private
# DMABUF slices) run under 'tsmtrace live --json --state-known -o FILE'.
# Each must PASS with every event observed (the verdict's coverage says so),
# vfio_dmabuf_restore among them; check of each file says
# what live said; the events of the series' kinds are all in the files. With
# vfio_pci_dmabuf_skip_notify armed (tsm_dmabuf broken-revoke), the IOAS
# mapping that survives a revoke at bind is a VIOLATION naming the device,
# the PFNs, the IOVA and the stack.
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BIN=${TSM_TEST_BIN:-$ROOT/build/tests/next}
B=${TSMTRACE:-$ROOT/build/tsmtrace/tsmtrace}
T=$(mktemp -d)
rc=0
pass() { echo "PASS: $1"; }
fail() { echo "FAIL: $1 ($2)"; rc=1; }

. "$ROOT/tests/vm/lib-tsmtrace.sh"

for p in "$B" "$BIN/tsm_op" "$BIN/tsm_private" "$BIN/tsm_dmabuf" "$BIN/kvm_dmabuf"; do
	[ -x "$p" ] || { echo "FAIL: next-tsmtrace-setup (not built: $p)"; exit 1; }
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

# what the files hold: every kind of event the flows cause, restore included
kinds=$(for prog in tsm_op tsm_private tsm_dmabuf kvm_dmabuf; do "$B" report "$T/$prog.tsm"; done 2>/dev/null |
	grep -oE ' pid [0-9]+ +[a-z_]+' | awk '{ print $3 }' | sort -u | tr '\n' ' ')
missing=
for ev in pci_tsm_bind_begin pci_tsm_bind_end pci_tsm_unbind_begin pci_tsm_unbind_end \
	  pci_tsm_tdi_state pci_tsm_range vfio_dmabuf_export_range vfio_dmabuf_export \
	  vfio_dmabuf_revoke vfio_dmabuf_restore vfio_dmabuf_release \
	  iommufd_ioas_map_dmabuf iommufd_ioas_unmap_dmabuf \
	  kvm_dmabuf_slot_bind kvm_dmabuf_slot_unbind; do
	case " $kinds" in *" $ev "*) ;; *) missing="$missing $ev" ;; esac
done
if [ -z "$missing" ]; then
	pass next-tsmtrace-every-event-kind-recorded
else
	fail next-tsmtrace-every-event-kind-recorded "not in the files:$missing (seen: $kinds)"
fi

rm -rf "$T"
exit $rc
