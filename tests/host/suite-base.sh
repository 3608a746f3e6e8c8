#!/usr/bin/env bash
# Host suite: the kernel base is one exact package version (kernel/BASE),
# installed as such, and still offered by the archive. A newer version in the
# archive is a NOTE (the pinned build stays green): it is the signal to run
# make kernel-check-newest and rebase (docs/development.md).
set -u
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
T=$(mktemp -d /tmp/tsm-base.XXXXXX)
trap 'rm -rf "$T"' EXIT
rc=0
pass() { echo "PASS: $1"; }
fail() { echo "FAIL: $1 ($2)"; rc=1; }
KS=$ROOT/scripts/kernel-source.sh

BASE_SUITE=
# shellcheck source=kernel/BASE
. "$ROOT/kernel/BASE"
if [ -n "${BASE_PACKAGE:-}" ] && [ -n "${BASE_VERSION:-}" ] && [ -n "${BASE_KERNEL:-}" ] &&
   [[ "$BASE_VERSION" == "$BASE_KERNEL"-* ]]; then
	pass base-names-package-version-and-kernel
else
	fail base-names-package-version-and-kernel "kernel/BASE: '${BASE_PACKAGE:-}' '${BASE_VERSION:-}' '${BASE_KERNEL:-}'"
fi

# make deps ran before this suite: the pinned version is what is there
tarball=$("$KS" tarball)
if [ -z "$BASE_SUITE" ]; then
	have=$(dpkg-query -W -f='${Version}' "$BASE_PACKAGE" 2>/dev/null)
	if [ "$have" = "$BASE_VERSION" ] && [ -r "$tarball" ]; then
		pass base-installed-exactly
	else
		fail base-installed-exactly "installed: '${have:-none}', want $BASE_VERSION (make deps)"
	fi
elif [ -r "$tarball" ]; then
	pass base-installed-exactly
else
	fail base-installed-exactly "$tarball missing (make deps)"
fi

offered=$("$KS" offered 2>&1)
if grep -qxF "$BASE_VERSION" <<<"$offered"; then
	pass base-offered-by-archive
else
	fail base-offered-by-archive "the archive no longer offers $BASE_PACKAGE $BASE_VERSION: a fresh machine cannot build; offered: $(echo $offered)"
fi
newest=$("$KS" newest 2>/dev/null)
if [ -n "$newest" ] && [ "$newest" != "$BASE_VERSION" ] &&
   dpkg --compare-versions "$newest" gt "$BASE_VERSION"; then
	echo "NOTE: the archive offers $BASE_PACKAGE $newest, newer than the base $BASE_VERSION:" \
	     "make kernel-check-newest shows which patches need a rebase"
fi

# a base the archive does not offer: a clear error, nothing installed or removed
sed "s/^BASE_VERSION=.*/BASE_VERSION=$BASE_KERNEL-999~gone1/" "$ROOT/kernel/BASE" >"$T/BASE"
before=$(dpkg-query -W -f='${Version}' "$BASE_PACKAGE" 2>/dev/null)
out=$(KERNEL_BASE_FILE=$T/BASE BUILD_DIR=$T/build "$KS" install 2>&1); krc=$?
after=$(dpkg-query -W -f='${Version}' "$BASE_PACKAGE" 2>/dev/null)
if [ $krc -ne 0 ] && grep -q "does not offer $BASE_PACKAGE $BASE_KERNEL-999~gone1" <<<"$out" &&
   grep -q "It offers:" <<<"$out" && grep -q "$BASE_VERSION" <<<"$out" &&
   grep -q "make kernel-check-newest" <<<"$out" && grep -q "Moving the base" <<<"$out" &&
   [ "$before" = "$after" ]; then
	pass base-gone-from-archive-says-what-to-do
else
	fail base-gone-from-archive-says-what-to-do "exit $krc, installed '$before' -> '$after': $out"
fi

out=$(KERNEL_BASE_FILE=/dev/null "$KS" tarball 2>&1); krc=$?
if [ $krc -ne 0 ] && grep -q "does not set BASE_PACKAGE" <<<"$out"; then
	pass base-incomplete-file-refused
else
	fail base-incomplete-file-refused "exit $krc: $out"
fi
exit $rc
