#!/bin/sh
# vm-options: --next --append tsm_sw.devices=1234:11e8,1af4:1110
# VM suite on the series' 7.3 kernel: the host keeps off the private pages of
# a bound interface (tests/next/tsm_private.c).
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BIN=$ROOT/build/tests/next/tsm_private
[ -x "$BIN" ] || { echo "FAIL: tsm_private (not built: $BIN; make next-progs)"; exit 1; }
exec "$BIN"
