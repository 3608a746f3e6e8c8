#!/bin/sh
# vm-options: --next --append tsm_sw.devices=1234:11e8,1af4:1110
# VM suite on the series' 7.3 kernel: the vfio_pci events of host CPU
# mappings of BAR pages (tests/next/vfio_bar_events.c).
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BIN=$ROOT/build/tests/next/vfio_bar_events
[ -x "$BIN" ] || { echo "FAIL: vfio_bar_events (not built: $BIN; make next-progs)"; exit 1; }
exec "$BIN"
