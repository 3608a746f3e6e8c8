#!/bin/sh
# vm-options: --append tsm_sw.devices=1234:11e8,1af4:1110
# VM suite on the series' kernel: shared and private DMABUFs of a bound
# interface, with edu's DMA through the IOAS (tests/vm/tsm_dmabuf.c).
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BIN=$ROOT/build/tests/vm/tsm_dmabuf
[ -x "$BIN" ] || { echo "FAIL: tsm_dmabuf (not built: $BIN; make vm-progs)"; exit 1; }
exec "$BIN"
