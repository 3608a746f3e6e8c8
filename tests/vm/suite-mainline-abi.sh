#!/bin/sh
# VM suite: the stock suite's VMM flow with mainline's ABI alone
# (tests/stock/stock_dmabuf.c), on the series' kernel: what runs on a
# stock kernel must run unchanged on the series.
# vm-options: --append tsm_sw.devices=1234:11e8,1af4:1110
exec "$(cd "$(dirname "$0")" && pwd)/suite-stock.sh"
