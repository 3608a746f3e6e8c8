#!/bin/sh
# Runs in the lab guest (make lab): what the lab offers to the tests.
echo "kernel:  $(uname -r) ($(nproc) vCPUs, $(awk '/MemTotal/ {print int($2/1024) " MiB"}' /proc/meminfo))"
echo "iommu:   $(ls /sys/class/iommu 2>/dev/null | tr '\n' ' ')$( [ -c /dev/iommu ] && echo '/dev/iommu ready')"
echo "devices:"
for d in /sys/bus/pci/devices/*; do
	id="$(cat "$d/vendor"):$(cat "$d/device")"
	case "$id" in
	0x1234:0x11e8) what="edu (DMA engine)" ;;
	0x1af4:0x1110) what="ivshmem-plain" ;;
	*) continue ;;
	esac
	drv=$(basename "$(readlink "$d/driver" 2>/dev/null)" 2>/dev/null)
	cdev=$(ls "$d/vfio-dev" 2>/dev/null | head -n1)
	grp=$(basename "$(readlink "$d/iommu_group")")
	echo "  ${d##*/} $id $what  driver=$drv  iommu_group=$grp  cdev=/dev/vfio/devices/$cdev"
	n=0
	while read -r start end flags; do
		if [ $n -lt 6 ] && [ "$start" != 0x0000000000000000 ]; then
			echo "    BAR$n $start ($(( (end - start + 1) / 1048576 )) MiB)"
		fi
		n=$((n + 1))
	done <"$d/resource"
done
if [ -c /dev/kvm ]; then
	echo "kvm:     /dev/kvm ready ($(grep -o -w -m1 -e svm -e npt /proc/cpuinfo | sort -u | tr '\n' ' ')in the vCPU flags)"
else
	echo "kvm:     /dev/kvm missing"
fi
[ -r /sys/kernel/btf/vmlinux ] && echo "bpf:     BTF at /sys/kernel/btf/vmlinux ($(wc -c </sys/kernel/btf/vmlinux) bytes)"
ls /sys/kernel/tracing/events 2>/dev/null | grep -E '^(pci_tsm|vfio_dmabuf|vfio_pci|iommufd|kvm)$' | sed 's/^/tracing: events\//'
exit 0
