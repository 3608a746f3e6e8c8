#!/bin/sh
# PID 1 of the lab VM (see scripts/vm.sh). The host's root is mounted read-only;
# this mounts the kernel file systems and tmpfs over the writable places, binds
# the lab devices to vfio-pci, runs the command in $tsmrun/cmd and powers off.
# Everything it says goes to the serial console; the command's output and exit
# status go to the run directory shared with the host.
PATH=/usr/sbin:/usr/bin:/sbin:/bin
export PATH HOME=/root TERM=dumb

say() { echo "tsm-lab: $*" >/dev/console; }

poweroff_now() {
	sync
	echo o >/proc/sysrq-trigger
	sleep 10
}

mount -t proc proc /proc
mount -t sysfs sys /sys
mountpoint -q /dev || mount -t devtmpfs dev /dev
# tmpfs over the writable places, except one that would hide the project or
# the run directory (a checkout under /tmp, say); TMPDIR is the first scratch
# tmpfs mounted
TMPDIR=
for m in /tmp /run /var/tmp /root; do
	case "$tsmroot/ $tsmrun/" in
	"$m"/*|*" $m"/*) say "not mounting tmpfs over $m: the project lives there"; continue ;;
	esac
	mount -t tmpfs -o mode=1777 "tmpfs$m" "$m"
	[ -z "$TMPDIR" ] && [ "$m" != /root ] && TMPDIR=$m
done
export TMPDIR
mount -t debugfs debugfs /sys/kernel/debug
mount -t tracefs tracefs /sys/kernel/tracing 2>/dev/null
mount -t bpf bpf /sys/fs/bpf 2>/dev/null
mkdir -p /dev/hugepages && mount -t hugetlbfs hugetlbfs /dev/hugepages
echo 1 >/proc/sys/kernel/sysrq
say "init on $(uname -r)"

if [ -z "$tsmrun" ] || ! mount -t 9p -o trans=virtio,version=9p2000.L,msize=512000 tsmrun "$tsmrun"; then
	say "cannot mount the run directory '$tsmrun'"
	poweroff_now
fi

# Bind the lab devices (edu 1234:11e8, ivshmem 1af4:1110, and with vm.sh's
# --pcie virtio-rng 1af4:1044 and e1000e 8086:10d3) to vfio-pci.
if [ "$tsmvfio" = 1 ]; then
	for d in /sys/bus/pci/devices/*; do
		id="$(cat "$d/vendor"):$(cat "$d/device")"
		case "$id" in
		0x1234:0x11e8|0x1af4:0x1110|0x1af4:0x1044|0x8086:0x10d3)
			bdf=${d##*/}
			echo vfio-pci >"$d/driver_override"
			[ -e "$d/driver" ] && echo "$bdf" >"$d/driver/unbind"
			echo "$bdf" >/sys/bus/pci/drivers_probe
			if [ "$(basename "$(readlink "$d/driver")")" != vfio-pci ]; then
				say "could not bind $bdf ($id) to vfio-pci"
			fi
			;;
		esac
	done
fi

# kmemleak (a debugging kernel): forget what boot left, report what the
# command leaves; an object must stay unreferenced over two scans
leaks=/sys/kernel/debug/kmemleak
[ -w $leaks ] && echo clear >$leaks

say "running command"
sh "$tsmrun/cmd" >"$tsmrun/out" 2>&1
rc=$?
if [ -w $leaks ]; then
	echo scan >$leaks; sleep 6; echo scan >$leaks
	cat $leaks >"$tsmrun/kmemleak"
fi
# a kernel built with gcov (make coverage): the counters of the files
# scripts/coverage.sh listed (paths in the object tree it named), as
# gcov/PATH.gcda
cov=$tsmroot/build/coverage
if [ -d /sys/kernel/debug/gcov ] && [ -r "$cov/files" ] && [ -r "$cov/objtree" ]; then
	obj=/sys/kernel/debug/gcov$(cat "$cov/objtree")
	while read -r rel; do
		[ -r "$obj/$rel" ] || continue
		mkdir -p "$tsmrun/gcov/${rel%/*}" && cat "$obj/$rel" >"$tsmrun/gcov/$rel"
	done <"$cov/files"
fi
dmesg >"$tsmrun/dmesg" 2>/dev/null
echo $rc >"$tsmrun/status"
say "command exited with $(cat "$tsmrun/status")"
poweroff_now
