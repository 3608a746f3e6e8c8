#!/bin/sh
# vm-options: --append tsm_sw.devices=1234:11e8,1af4:1110
# VM suite on the series' kernel (make kernel): the
# software TSM on mainline's PCI TSM core. It registers as a link TSM and
# claims the devices tsm_sw.devices names (edu, ivshmem) though they have no
# TDISP: mainline's tsm/ sysfs appears on them and nowhere else; connect and
# disconnect through it; its tsm_sw/ attributes (state, layout, the shared
# holes of the next bind) while connected, with every refusal of shared.
# Prints PASS/FAIL lines.
rc=0
pass() { echo "PASS: $1"; }
fail() { echo "FAIL: $1 ($2)"; rc=1; }

# check NAME WANT GOT
check() {
	if [ "$2" = "$3" ]; then pass "$1"; else fail "$1" "want '$2', got '$3'"; fi
}

# the error a write of $2 to the file $1 gets ("ok" when it succeeds)
write_err() {
	# coreutils' printf names the errno; dash's builtin says only "I/O error"
	out=$( { /usr/bin/printf '%s' "$2" >"$1"; } 2>&1) && { echo ok; return; }
	case "$out" in
	*"Invalid argument"*) echo EINVAL ;;
	*"Device or resource busy"*) echo EBUSY ;;
	*"No such device or address"*) echo ENXIO ;;
	*"No such file"*) echo ENOENT ;;
	*) echo "other: $out" ;;
	esac
}

dev_of() {
	for d in /sys/bus/pci/devices/*; do
		[ "$(cat "$d/vendor"):$(cat "$d/device")" = "$1" ] && { echo "$d"; return; }
	done
}

EDU=$(dev_of 0x1234:0x11e8)
IV=$(dev_of 0x1af4:0x1110)
[ -n "$EDU" ] && [ -n "$IV" ] || { echo "FAIL: tsm-sw-lab-devices (edu or ivshmem missing)"; exit 1; }

check tsm-sw-registered tsm_sw "$(basename "$(readlink -f /sys/class/tsm/tsm0/device 2>/dev/null)")"
check tsm-sw-claims-edu yes "$([ -e "$EDU/tsm/connect" ] && echo yes || echo no)"
check tsm-sw-claims-ivshmem yes "$([ -e "$IV/tsm/connect" ] && echo yes || echo no)"
others=0
for d in /sys/bus/pci/devices/*; do
	[ "$d" = "$EDU" ] || [ "$d" = "$IV" ] && continue
	[ -e "$d/tsm/connect" ] && others=$((others + 1))
done
check tsm-sw-claims-nothing-else 0 $others

check tsm-sw-not-connected "" "$(cat "$IV/tsm/connect")"
check tsm-sw-no-attrs-before-connect no "$([ -d "$IV/tsm_sw" ] && echo yes || echo no)"
check tsm-sw-connect-bad-name EINVAL "$(write_err "$IV/tsm/connect" foo)"
check tsm-sw-connect-unknown-tsm ENXIO "$(write_err "$IV/tsm/connect" tsm7)"

for d in "$IV" "$EDU"; do
	n=$( [ "$d" = "$IV" ] && echo ivshmem || echo edu)
	check "tsm-sw-connect-$n" ok "$(write_err "$d/tsm/connect" tsm0)"
	check "tsm-sw-connected-$n" tsm0 "$(cat "$d/tsm/connect")"
	check "tsm-sw-state-$n" CONFIG_UNLOCKED "$(cat "$d/tsm_sw/state" 2>&1)"
	check "tsm-sw-layout-unbound-$n" "" "$(cat "$d/tsm_sw/layout" 2>&1)"
	check "tsm-sw-shared-default-$n" default "$(cat "$d/tsm_sw/shared" 2>&1)"
	check "tsm-sw-not-bound-$n" "" "$(cat "$d/tsm/bound" 2>&1)"
	check "tsm-sw-own-dsm-$n" "$(basename "$d")" "$(cat "$d/tsm/dsm" 2>&1)"
done
check tsm-sw-connect-twice-ebusy EBUSY "$(write_err "$IV/tsm/connect" tsm0)"

# the shared holes of the next bind, on ivshmem's BAR2 (BAR0 is 256 bytes)
S=$IV/tsm_sw/shared
check tsm-sw-shared-list ok "$(write_err "$S" "2:0x200000+0x100000 2:0x0+0x1000")"
check tsm-sw-shared-list-sorted "2:0x0+0x1000 2:0x200000+0x100000" "$(cat "$S")"
# any run of blanks separates holes, before and after them too
check tsm-sw-shared-blanks ok "$(write_err "$S" "  2:0x0+0x1000 	 2:0x200000+0x100000  ")"
check tsm-sw-shared-blanks-read "2:0x0+0x1000 2:0x200000+0x100000" "$(cat "$S")"
check tsm-sw-shared-none ok "$(write_err "$S" none)"
check tsm-sw-shared-none-read none "$(cat "$S")"
for bad in "2:0x800+0x1000" "2:0x0+0x800" "2:0x0+0x0" "6:0x0+0x1000" "0:0x0+0x1000" \
	   "2:0x0+0x2000 2:0x1000+0x1000" "2:0xfffffffffffff000+0x2000" "2:0x0" "x:0+0x1000" \
	   "2:0x0+0x200000000"; do
	check "tsm-sw-shared-refuses-'$bad'" EINVAL "$(write_err "$S" "$bad")"
done
check tsm-sw-shared-refusals-keep-config none "$(cat "$S")"
check tsm-sw-shared-default ok "$(write_err "$S" default)"
check tsm-sw-shared-default-read default "$(cat "$S")"

for d in "$IV" "$EDU"; do
	n=$( [ "$d" = "$IV" ] && echo ivshmem || echo edu)
	check "tsm-sw-disconnect-wrong-tsm-$n" EINVAL "$(write_err "$d/tsm/disconnect" tsm1)"
	check "tsm-sw-disconnect-$n" ok "$(write_err "$d/tsm/disconnect" tsm0)"
	check "tsm-sw-disconnected-$n" "" "$(cat "$d/tsm/connect")"
	check "tsm-sw-attrs-gone-$n" no "$([ -d "$d/tsm_sw" ] && echo yes || echo no)"
	check "tsm-sw-disconnect-twice-$n" ENXIO "$(write_err "$d/tsm/disconnect" tsm0)"
done
# connect again after a disconnect: a fresh context, the default holes
check tsm-sw-reconnect ok "$(write_err "$IV/tsm/connect" tsm0)"
check tsm-sw-reconnect-default default "$(cat "$IV/tsm_sw/shared" 2>&1)"
check tsm-sw-last-disconnect ok "$(write_err "$IV/tsm/disconnect" tsm0)"
exit $rc
