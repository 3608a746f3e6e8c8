#!/bin/sh
# vm-options: --no-iommu
# VM suite on the series' kernel: the series' vIOMMU and TSM requests on
# iommufd's mock device, which is not a PCI device (tests/vm/tsm_mock.c).
# The mock IOMMU is probed only when no hardware IOMMU claims the bus first.
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BIN=$ROOT/build/tests/vm/tsm_mock
[ -x "$BIN" ] || { echo "FAIL: tsm_mock (not built: $BIN; make vm-progs)"; exit 1; }
exec "$BIN"
