#!/bin/sh
# VM suite: the lab is real — vIOMMU, VFIO cdevs, iommufd DMA, KVM, BPF.
# Runs in the lab guest (scripts/vm.sh); prints PASS/FAIL/SKIP lines.
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BIN=${TSM_TEST_BIN:-$ROOT/build/tests/vm}
rc=0

check() {	# check NAME CONDITION-COMMAND... ; message on failure from stderr
	name=$1; shift
	if out=$("$@" 2>&1); then
		echo "PASS: $name"
	else
		echo "FAIL: $name ($out)"
		rc=1
	fi
}

check lab-dev-iommu test -c /dev/iommu
check lab-dmar-active sh -c 'ls /sys/class/iommu | grep -q dmar || { echo "no dmar in /sys/class/iommu"; exit 1; }'
for id in 0x1234:0x11e8 0x1af4:0x1110; do
	dev=
	for d in /sys/bus/pci/devices/*; do
		[ "$(cat "$d/vendor"):$(cat "$d/device")" = "$id" ] && dev=$d
	done
	check "lab-vfio-pci-bound-$id" sh -c "[ -n '$dev' ] && [ \"\$(basename \"\$(readlink '$dev/driver')\")\" = vfio-pci ] && ls '$dev/vfio-dev' | grep -q vfio || { echo 'device $id missing or not on vfio-pci'; exit 1; }"
done
check lab-ivshmem-bar-4g sh -c '
	for d in /sys/bus/pci/devices/*; do
		[ "$(cat $d/vendor):$(cat $d/device)" = 0x1af4:0x1110 ] || continue
		set -- $(sed -n 3p $d/resource)
		size=$(( $2 - $1 + 1 ))
		[ $size -ge 4294967296 ] && exit 0
		echo "BAR2 is $size bytes"; exit 1
	done; echo "no ivshmem"; exit 1'
check lab-kvm-dev test -c /dev/kvm
check lab-btf test -r /sys/kernel/btf/vmlinux

for t in vfio_edu_dma kvm_smoke bpf_smoke; do
	if [ ! -x "$BIN/$t" ]; then
		echo "FAIL: $t (not built: $BIN/$t)"
		rc=1
		continue
	fi
	"$BIN/$t" || rc=1
done
exit $rc
