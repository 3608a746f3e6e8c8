#!/bin/sh
# vm-options: --append tsm_sw.devices=1234:11e8,1af4:1110
# VM suite on the series' kernel: IOMMU_VDEVICE_TSM_OP through the
# software TSM (tests/vm/tsm_op.c).
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BIN=$ROOT/build/tests/vm/tsm_op
[ -x "$BIN" ] || { echo "FAIL: tsm_op (not built: $BIN; make vm-progs)"; exit 1; }
exec "$BIN"
