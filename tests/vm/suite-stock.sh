#!/bin/sh
# vm-options: --stock
# VM suite on the stock kernel (the 7.3 base as Debian ships it, without the
# series: make kernel-stock): a VMM's DMABUF flow with mainline's ABI alone
# (tests/stock/stock_dmabuf.c). Prints PASS/FAIL/SKIP lines.
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BIN=${TSM_STOCK_BIN:-$ROOT/build/tests/stock}
rc=0
case "$(uname -r)" in
7.3.*) echo "PASS: stock-kernel-is-7.3" ;;
*) echo "FAIL: stock-kernel-is-7.3 (the guest runs $(uname -r))"; rc=1 ;;
esac
if [ ! -x "$BIN/stock_dmabuf" ]; then
	echo "FAIL: stock_dmabuf (not built: $BIN/stock_dmabuf; make stock-progs)"
	exit 1
fi
"$BIN/stock_dmabuf" || rc=1
exit $rc
