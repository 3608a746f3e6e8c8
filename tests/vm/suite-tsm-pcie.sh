#!/bin/sh
# vm-options: --pcie --append tsm_sw.devices=1af4:1044,8086:10d3,zz:1
# VM suite on the series' kernel: the software TSM and vfio-pci on two PCI
# Express endpoints with MSI-X, power management and resets
# (tests/vm/tsm_pcie.c). The device list on the command line carries a
# malformed entry, which the software TSM must name and skip.
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BIN=$ROOT/build/tests/vm/tsm_pcie
rc=0
if dmesg | grep -q "tsm-sw: ignoring 'zz:1' in tsm_sw.devices"; then
	echo "PASS: tsm-pcie-devices-param-names-a-bad-entry"
else
	echo "FAIL: tsm-pcie-devices-param-names-a-bad-entry (no warning about 'zz:1' in the kernel log)"
	rc=1
fi
[ -x "$BIN" ] || { echo "FAIL: tsm_pcie (not built: $BIN; make vm-progs)"; exit 1; }
"$BIN" || rc=1
exit $rc
