#!/bin/sh
# vm-options: --append tsm_sw.devices=1234:11e8,1af4:1110
# VM suite: the series' requests attacked as the iommufd selftests do
# (tests/vm/uapi_abuse.c): size, flag, type and id sweeps, fds of every
# kind, fail-nth sweeps of export, import and KVM slot, and a seeded
# random-argument loop (TSM_ABUSE_ITERS iterations, default 20000; the seed
# is printed and TSM_ABUSE_SEED replays it).
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BIN=$ROOT/build/tests/vm/uapi_abuse
[ -x "$BIN" ] || { echo "FAIL: uapi_abuse (not built: $BIN; make vm-progs)"; exit 1; }
exec "$BIN"
