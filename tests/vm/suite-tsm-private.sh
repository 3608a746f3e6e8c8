#!/bin/sh
# vm-options: --mem 5G --append tsm_sw.devices=1234:11e8,1af4:1110
# VM suite on the series' kernel: the host keeps off the private pages of
# a bound interface (tests/vm/tsm_private.c). 5 GiB of RAM, so that
# /dev/mem's read() and write() reach the BARs in the 32-bit hole
# (TSM_DEVMEM_RW=1: those cases must run, not SKIP).
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BIN=$ROOT/build/tests/vm/tsm_private
[ -x "$BIN" ] || { echo "FAIL: tsm_private (not built: $BIN; make vm-progs)"; exit 1; }
TSM_DEVMEM_RW=1 exec "$BIN"
