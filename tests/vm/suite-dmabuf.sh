#!/bin/sh
# VM suite: DMABUFs of BARs and their import into an IOAS (docs/uapi.md):
# every errno of VFIO_DEVICE_FEATURE_DMA_BUF and IOMMU_IOAS_MAP_FILE; edu's
# DMA engine reading and writing ivshmem's BAR through the IOAS mapping of
# a DMABUF, and no longer after unmap or revoke; revocation by memory
# decode off, low power, reset, TSM bind, unbind, TDI error and close, the
# importer's unmap first; EBUSY while bound; fail-nth sweeps of export and
# import.
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BIN=${TSM_TEST_BIN:-$ROOT/build/tests/vm}

if [ ! -x "$BIN/dmabuf" ]; then
	echo "FAIL: dmabuf (not built: $BIN/dmabuf)"
	exit 1
fi
exec "$BIN/dmabuf"
