#!/bin/sh
# vm-options: --append tsm_sw.devices=1234:11e8,1af4:1110
# VM suite on the series' kernel: KVM memslots backed by slices of
# shared and private DMABUFs, run by real-mode vCPUs (tests/vm/kvm_dmabuf.c).
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BIN=$ROOT/build/tests/vm/kvm_dmabuf
[ -x "$BIN" ] || { echo "FAIL: kvm_dmabuf (not built: $BIN; make vm-progs)"; exit 1; }
exec "$BIN"
