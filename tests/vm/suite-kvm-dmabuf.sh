#!/bin/sh
# VM suite: KVM memslots backed by VFIO DMABUFs (KVM_MEM_VFIO_DMABUF): a
# nested guest reads and writes the ivshmem BAR through shared and private
# DMABUF slots, loses them when the DMABUF is revoked, every refusal of the
# uAPI, and the kvm_dmabuf_slot_* tracepoints.
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BIN=${TSM_TEST_BIN:-$ROOT/build/tests/vm}

if [ ! -x "$BIN/kvm_dmabuf" ]; then
	echo "FAIL: kvm_dmabuf (not built: $BIN/kvm_dmabuf)"
	exit 1
fi
exec "$BIN/kvm_dmabuf"
