#!/bin/sh
# vm-options: --append tsm_sw.devices=1234:11e8,1af4:1110
# VM suite on the series' kernel: the vfio_pci events of host CPU
# mappings of BAR pages (tests/vm/vfio_bar_events.c).
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BIN=$ROOT/build/tests/vm/vfio_bar_events
[ -x "$BIN" ] || { echo "FAIL: vfio_bar_events (not built: $BIN; make vm-progs)"; exit 1; }
exec "$BIN"
