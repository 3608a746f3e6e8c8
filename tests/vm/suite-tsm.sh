#!/bin/sh
# VM suite: the TSM bind uAPI (docs/uapi.md) on the edu device. tsm_bind
# acts as the VMM: a KVM VM, the VFIO cdev bound to iommufd and attached to
# a paging HWPT, a vIOMMU with the VM, a vDEVICE, BIND with two shared
# holes, the layout through VFIO and sysfs, SIGBUS on private pages of the
# BAR mapping, UNBIND; every errno of IOMMU_VIOMMU_ALLOC,
# IOMMU_VDEVICE_ALLOC, IOMMU_VDEVICE_TSM_OP, VFIO_DEVICE_FEATURE_TSM_LAYOUT
# and tsm_sw/shared; a second VM; destroy and close while bound; the
# pci_tsm events field by field; the fault attributes, a fail-nth sweep of
# BIND and a TDI error.
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BIN=${TSM_TEST_BIN:-$ROOT/build/tests/vm}

if [ ! -x "$BIN/tsm_bind" ]; then
	echo "FAIL: tsm_bind (not built: $BIN/tsm_bind)"
	exit 1
fi
exec "$BIN/tsm_bind"
