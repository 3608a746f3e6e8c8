#!/bin/sh
# vm-options: --next --append tsm_sw.devices=1234:11e8,1af4:1110
# VM suite on the series' 7.3 kernel: IOMMU_VDEVICE_TSM_OP through the
# software TSM (tests/next/tsm_op.c).
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BIN=$ROOT/build/tests/next/tsm_op
[ -x "$BIN" ] || { echo "FAIL: tsm_op (not built: $BIN; make next-progs)"; exit 1; }
exec "$BIN"
