#!/usr/bin/env bash
# Host suite: the tsmtrace engine, trace file format and commands.
#
# Builds the tool and the unit tests (tools/tsmtrace), runs the C unit tests
# (tests/unit), regenerates the synthetic traces and compares them with
# tests/traces/, checks every trace there against tests/traces/expected, and
# drives check/report/record/live through their exit statuses and messages,
# including truncated, corrupted and foreign files, and trace-cmd's
# trace.dat files of the lab (tests/traces/tc73-*.dat).
set -u
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
OUT=${TSMTRACE_OUT:-$ROOT/build/tsmtrace}
TR=$ROOT/tests/traces
T=$(mktemp -d /tmp/tsm-suite.XXXXXX)
trap 'rm -rf "$T"' EXIT
rc=0
pass() { echo "PASS: $1"; }
fail() { echo "FAIL: $1 ($2)"; rc=1; }
skip() { echo "SKIP: $1 ($2)"; }

if ! out=$(make --no-print-directory -C "$ROOT/tools/tsmtrace" OUT="$OUT" all test-progs 2>&1); then
	fail tsmtrace-build "$(echo "$out" | tail -n 5 | tr '\n' ' ')"
	exit 1
fi
pass tsmtrace-build

# Every run below goes through this wrapper: it keeps a copy of what
# tsmtrace writes in JSON (-j, --summary) for the schema test at the end,
# which checks all of it. Runs without JSON are exec'd as they are.
JS=$T/json
mkdir -p "$JS" "$T/bin"
cat >"$T/bin/tsmtrace" <<EOF
#!/bin/bash
json= summary= prev=
for a; do
	case \$a in -j|--json) json=1 ;; --summary=*) summary=\${a#--summary=} ;; esac
	[ "\$prev" = --summary ] && summary=\$a
	prev=\$a
done
[ -n "\$json\$summary" ] && out=\$(mktemp "$JS/XXXXXX" 2>/dev/null) || exec "$OUT/tsmtrace" "\$@"
printf '%s\n' "\$*" >"\$out.args"
if [ -n "\$json" ]; then
	"$OUT/tsmtrace" "\$@" >"\$out.lines"
elif [ "\$summary" = - ]; then
	"$OUT/tsmtrace" "\$@" >"\$out.tail"
else
	"$OUT/tsmtrace" "\$@"
fi
rc=\$?
[ -f "\$out.lines" ] && cat "\$out.lines"
[ -f "\$out.tail" ] && cat "\$out.tail"
case \$summary in ''|-) ;; *) [ -f "\$summary" ] && cp "\$summary" "\$out.summary" ;; esac
exit \$rc
EOF
chmod 755 "$T/bin/tsmtrace"
B=$T/bin/tsmtrace

# ---- C unit tests (their own PASS/FAIL lines)
"$OUT/test-engine" >"$T/unit.log" 2>&1
urc=$?
cat "$T/unit.log"
if [ $urc -ne 0 ] && ! grep -q '^FAIL: ' "$T/unit.log"; then
	fail unit-tests "exited with $urc without a FAIL line"
fi
grep -q '^FAIL: ' "$T/unit.log" && rc=1

# ---- the same unit tests under AddressSanitizer and UBSan: bad input never crashes
san="-O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=all"
if out=$(make --no-print-directory -C "$ROOT/tools/tsmtrace" OUT="$T/asan" EXTRA_CFLAGS="$san" \
		"$T/asan/test-engine" "$T/asan/tsmtrace" 2>&1); then
	if ASAN_OPTIONS=detect_leaks=1 "$T/asan/test-engine" >"$T/asan.log" 2>&1; then
		pass unit-tests-under-asan-ubsan
	else
		fail unit-tests-under-asan-ubsan "$(grep -m3 -E 'ERROR|runtime error|^FAIL' "$T/asan.log" | tr '\n' ' ')"
	fi
elif echo "$out" | grep -qE 'cannot find -l(asan|ubsan)|libasan|libubsan'; then
	skip unit-tests-under-asan-ubsan "no sanitizer runtime in gcc"
else
	fail unit-tests-under-asan-ubsan "build: $(echo "$out" | grep -m3 -E 'error' | tr '\n' ' ')"
fi

# ---- the synthetic traces are deterministic and all have expectations
mkdir -p "$T/gen"
if "$OUT/tsmgen" "$T/gen" 2>"$T/gen.err"; then
	bad=
	for f in "$T"/gen/*.tsm; do
		cmp -s "$f" "$TR/$(basename "$f")" || bad="$bad $(basename "$f")"
	done
	if [ -z "$bad" ]; then
		pass traces-regenerate-identically
	else
		fail traces-regenerate-identically "differ:$bad (run build/tsmtrace/tsmgen tests/traces if the change is intended)"
	fi
else
	fail traces-regenerate-identically "$(cat "$T/gen.err")"
fi
missing=
for f in "$TR"/*.tsm "$TR"/*.dat; do
	grep -q "^$(basename "$f") " "$TR/expected" || missing="$missing $(basename "$f")"
done
[ -z "$missing" ] && pass traces-all-have-expectations || fail traces-all-have-expectations "no line in expected for:$missing"

# ---- every trace gives its expected exit status, verdict and invariants
# (a trace-cmd trace.dat with --state-known, as expected says; UNUSABLE is
# the verdict of the error that refuses a file)
while read -r name want_rc want_verdict want_inv; do
	case $name in ''|'#'*) continue ;; esac
	f=$TR/$name
	if [ ! -f "$f" ]; then
		fail "trace-$name" "listed in expected but missing"
		continue
	fi
	opt=
	case $name in *.dat) opt=--state-known ;; esac
	"$B" --json check $opt "$f" >"$T/out.json" 2>"$T/err"
	got_rc=$?
	got_verdict=$(sed -n 's/.*"type":"\(verdict\|error\)".*"verdict":"\([A-Z]*\)".*/\2/p' "$T/out.json")
	got_inv=$(sed -n 's/^{"type":"violation".*"invariant":"\(TSM-I[0-9]*\)".*/\1/p' "$T/out.json" | tr '\n' ' ')
	got_inv=${got_inv% }
	if [ "$got_rc" = "$want_rc" ] && [ "$got_verdict" = "$want_verdict" ] && [ "$got_inv" = "${want_inv:-}" ]; then
		pass "trace-$name"
	else
		fail "trace-$name" "got exit $got_rc $got_verdict [$got_inv], expected exit $want_rc $want_verdict [${want_inv:-}]"
	fi
done <"$TR/expected"

# ---- the recorded traces: the in-kernel check and the engine judged every
# event alike, and the kernel flagged each trace that violates
bad=
n=0
for f in "$TR"/*.tsm; do
	"$B" --json check "$f" >"$T/out.json" 2>/dev/null
	v=$(grep '"type":"verdict"' "$T/out.json")
	case $v in *'"kernel_checked":false'*) continue ;; esac
	n=$((n + 1))
	case $v in
	*'"kernel_checked":true'*'"kernel_disagree":0,'*) ;;
	*) bad="$bad $(basename "$f")" ; continue ;;
	esac
	case $v in
	*'"verdict":"VIOLATION"'*'"kernel_flagged":0,'*) bad="$bad $(basename "$f")(not-flagged)" ;;
	esac
done
if [ "$n" -ge 8 ] && [ -z "$bad" ]; then
	pass traces-recorded-kernel-and-engine-agree
else
	fail traces-recorded-kernel-and-engine-agree "$n recorded traces; disagree:${bad:- none}"
fi
"$B" check "$TR/lab73-broken-revoke.tsm" >"$T/out.txt" 2>&1
if grep -q 'in-kernel check: 2 event(s) flagged; the engine agrees on every event' "$T/out.txt"; then
	pass check-says-kernel-agrees
else
	fail check-says-kernel-agrees "$(head -c 1500 "$T/out.txt")"
fi

# ---- check: exit status over several files, usage errors
exit_of() { "$B" "$@" >/dev/null 2>&1; echo $?; }
r1=$(exit_of check "$TR/good-flow.tsm" "$TR/good-two-devices.tsm")
r2=$(exit_of check "$TR/good-flow.tsm" "$TR/start-state-unknown.tsm")
r3=$(exit_of check "$TR/start-state-unknown.tsm" "$TR/private-in-ioas.tsm" "$TR/good-flow.tsm")
r4=$(exit_of check "$TR/private-in-ioas.tsm" "$T/nonexistent.tsm")
r5=$(exit_of check)
r6=$(exit_of check "$T")
if [ "$r1$r2$r3$r4$r5$r6" = "021333" ]; then
	pass check-exit-status-worst-of-files
else
	fail check-exit-status-worst-of-files "got $r1 $r2 $r3 $r4 $r5 $r6, expected 0 2 1 3 3 3"
fi
out=$("$B" check "$TR/private-in-ioas.tsm")
if echo "$out" | grep -q 'TSM-I3 (a private DMABUF is never imported into an IOAS): event iommufd_ioas_map_dmabuf not expected in state dmabuf_private' &&
   echo "$out" | grep -q 'stack:' && echo "$out" | grep -q '0xffffffff81' &&
   echo "$out" | grep -q 'buf=1002'; then
	pass check-human-output-names-invariant-state-objects-stack
else
	fail check-human-output-names-invariant-state-objects-stack "$out"
fi
out=$("$B" -j check "$TR/good-flow.tsm" "$TR/bind-ioas-left-mapped.tsm")
nl=$(echo "$out" | wc -l)
nbad=$(echo "$out" | grep -cv '^{"type":"[a-z]*".*}$')
if [ "$nl" = 4 ] && [ "$nbad" = 0 ] && echo "$out" | grep -q '"stack":\["0xffffffff'; then
	pass check-json-lines
else
	fail check-json-lines "$nl lines, $nbad not JSON objects: $out"
fi
out=$("$B" check "$TR/lost-unmap-before-bind.tsm")
if echo "$out" | grep -q 'INCOMPLETE.*1 lost' && echo "$out" | grep -q 'not a PASS'; then
	pass check-lost-events-reported
else
	fail check-lost-events-reported "$out"
fi

# stacks with names, from a System.map given (or the running kernel's symbols)
printf 'ffffffff81000000 T made_up_fn\nffffffff81100000 d some_data\n' >"$T/System.map"
out=$("$B" check --symbols "$T/System.map" "$TR/private-in-ioas.tsm")
js=$("$B" -j check --symbols "$T/System.map" "$TR/private-in-ioas.tsm")
err=$("$B" check --symbols "$T/nonexistent" "$TR/private-in-ioas.tsm" 2>&1); r=$?
if echo "$out" | grep -qE '0xffffffff810[0-9a-f]+ made_up_fn\+0x[0-9a-f]+$' &&
   ! echo "$js" | grep -q made_up_fn && [ $r = 3 ] && echo "$err" | grep -q 'no kernel symbols'; then
	pass check-stack-symbols-from-system-map
else
	fail check-stack-symbols-from-system-map "exit $r: $out $err"
fi

# ---- truncation: the valid prefix is replayed, the verdict is INCOMPLETE
f=$TR/good-flow.tsm
size=$(stat -c %s "$f")
hdr=312	# the header of this writer's files
bad=
for ((n = 0; n < size; n += 8)); do
	head -c $n "$f" >"$T/cut.tsm"
	r=$(exit_of check "$T/cut.tsm")
	if [ $n -lt $hdr ]; then want=3; else want=2; fi
	[ "$r" = "$want" ] || bad="$bad $n:$r"
done
[ -z "$bad" ] && pass file-truncated-anywhere-incomplete-or-refused || fail file-truncated-anywhere-incomplete-or-refused "length:exit$bad"
head -c $((size - 40)) "$f" >"$T/cut.tsm"
err=$("$B" check "$T/cut.tsm" 2>&1 >/dev/null)
if echo "$err" | grep -q "warning: $T/cut.tsm: offset [0-9]*: the file ends inside a block"; then
	pass file-truncated-warning-names-file-and-offset
else
	fail file-truncated-warning-names-file-and-offset "$err"
fi
# a violation before the cut is still reported
f=$TR/mapping-outlives-dmabuf.tsm
head -c $(( $(stat -c %s "$f") - 40 )) "$f" >"$T/cut.tsm"
r=$(exit_of check "$T/cut.tsm")
[ "$r" = 1 ] && pass file-truncated-keeps-violation-in-prefix || fail file-truncated-keeps-violation-in-prefix "exit $r"

# ---- a file that shrinks or is rewritten while it is read: never a signal
"$OUT/tsmgen" --big 200000 "$T/src.tsm" >/dev/null
cp "$T/src.tsm" "$T/race.tsm"
( for i in $(seq 300); do truncate -s 100000 "$T/race.tsm"; cp "$T/src.tsm" "$T/race.tsm"; done ) &
writer=$!
bad= changed=0
for i in $(seq 60); do
	"$B" check "$T/race.tsm" >/dev/null 2>"$T/race.err"; r=$?
	if [ $r -gt 3 ]; then
		bad="$bad exit:$r"
	elif [ $r != 0 ] && ! grep -qE '^tsmtrace: check: (error|warning): .*offset [0-9]+: ' "$T/race.err"; then
		bad="$bad $r:$(head -c 200 "$T/race.err")"
	fi
	grep -q 'changed while it was read' "$T/race.err" && changed=$((changed + 1))
done
wait $writer
if [ -z "$bad" ]; then
	pass file-shrinking-under-reader-no-signal
	echo "NOTE: $changed of 60 checks saw the file change while they read it"
else
	fail file-shrinking-under-reader-no-signal "$bad"
fi

# ---- standard input, pipes and FIFOs are read as streams
r1=$(cat "$TR/good-flow.tsm" | timeout 20 "$B" check - >"$T/pipe.out" 2>&1; echo $?)
r2=$(timeout 20 "$B" check - <"$TR/private-in-ioas.tsm" >/dev/null 2>&1; echo $?)
r3=$(head -c $(( $(stat -c %s "$TR/good-flow.tsm") - 40 )) "$TR/good-flow.tsm" | timeout 20 "$B" check - >/dev/null 2>&1; echo $?)
if [ "$r1$r2$r3" = 012 ] && grep -q '^-: PASS' "$T/pipe.out"; then
	pass check-stdin-pipe
else
	fail check-stdin-pipe "exit $r1 $r2 $r3, expected 0 1 2: $(cat "$T/pipe.out")"
fi
mkfifo "$T/fifo"
cat "$TR/private-in-ioas.tsm" >"$T/fifo" &
r=$(timeout 20 "$B" -j check "$T/fifo" >"$T/fifo.out" 2>&1; echo $?)
if [ "$r" = 1 ] && grep -q '"verdict":"VIOLATION"' "$T/fifo.out"; then
	pass check-fifo
else
	fail check-fifo "exit $r (124: it hung): $(cat "$T/fifo.out")"
fi
# report --violation reads its input twice: a stream is read once and kept
"$B" report "$TR/bind-ioas-left-mapped.tsm" --violation 1 | tail -n +2 >"$T/story.want"
cat "$TR/bind-ioas-left-mapped.tsm" | timeout 20 "$B" report - --violation 1 >"$T/story.pipe" 2>&1; r1=$?
cat "$TR/bind-ioas-left-mapped.tsm" >"$T/fifo" &
timeout 20 "$B" report "$T/fifo" --violation 1 >"$T/story.fifo" 2>&1; r2=$?
if [ "$r1$r2" = 00 ] && [ -s "$T/story.want" ] &&
   tail -n +2 "$T/story.pipe" | cmp -s - "$T/story.want" &&
   tail -n +2 "$T/story.fifo" | cmp -s - "$T/story.want"; then
	pass report-violation-from-pipe-and-fifo
else
	fail report-violation-from-pipe-and-fifo "exit $r1 $r2 (124: it hung): $(head -n 3 "$T/story.pipe" "$T/story.fifo")"
fi

# ---- a recorder killed mid-way leaves no file under its name (tsmgen writes
# through the same writer as record)
"$OUT/tsmgen" --big 500000000 "$T/killed.tsm" >/dev/null &
gen=$!
for i in $(seq 100); do
	part=$(ls "$T"/.killed.tsm.* 2>/dev/null | head -n 1)
	[ -n "$part" ] && [ "$(stat -c %s "$part")" -gt 1000000 ] && break
	sleep 0.1
done
kill -9 $gen 2>/dev/null; wait $gen 2>/dev/null
r=$(exit_of check "${part:-$T/none}")
if [ ! -e "$T/killed.tsm" ] && [ -n "$part" ] && [ "$r" = 2 ]; then
	pass writer-killed-leaves-no-file-under-its-name
else
	fail writer-killed-leaves-no-file-under-its-name "$(ls -a "$T" | tr '\n' ' '); check of the partial file: $r"
fi
rm -f "$T"/.killed.tsm.* "$T/src.tsm" "$T/race.tsm"

# ---- scale: 80,000 devices bound at once are checked (a hang guard, not a timer)
"$OUT/tsmgen" --devices 80000 "$T/devices.tsm" >/dev/null
out=$(timeout 300 "$B" check "$T/devices.tsm" 2>&1); r=$?
if [ $r = 0 ] && echo "$out" | grep -q 'PASS: 0 violation(s), 2880000 records'; then
	pass check-80000-devices
else
	fail check-80000-devices "exit $r (124: over 300 s): $out"
fi
rm -f "$T/devices.tsm"

# ---- violations: all counted, the first N kept in full
"$OUT/tsmgen" --case many-violations "$T/many.tsm" >/dev/null
out=$("$B" check "$T/many.tsm"); r=$?
js=$("$B" -j check --max-violations 10 "$T/many.tsm")
err=$("$B" report "$T/many.tsm" --violation 1001 2>&1); r2=$?
"$B" report "$T/many.tsm" --violation 1001 --max-violations 2000 >/dev/null 2>&1; r3=$?
if [ $r = 1 ] && [ "$(echo "$out" | grep -c '^  #[0-9]* TSM-I3')" = 1000 ] &&
   echo "$out" | grep -q 'and 4000 more violation(s), counted but not kept: only the first 1000' &&
   echo "$out" | grep -q 'VIOLATION: 5000 violation(s)' &&
   [ "$(echo "$js" | grep -c '"type":"violation"')" = 10 ] &&
   echo "$js" | grep -q '"violations":5000,.*"violations_kept":10,"violations_not_kept":4990' &&
   [ $r2 = 3 ] && echo "$err" | grep -q 'violation #1001 was counted but not kept' && [ $r3 = 0 ]; then
	pass check-violations-capped-and-counted
else
	fail check-violations-capped-and-counted "exit $r $r2 $r3: $(echo "$out" | head -n 2) $(echo "$js" | tail -n 1) $err"
fi

# ---- records of an unknown type: INCOMPLETE with their count, never PASS,
# never a violation they could have cleared
"$OUT/tsmgen" --case unknown-record "$T/unknown.tsm" >/dev/null
"$OUT/tsmgen" --case unknown-before-violation "$T/unknown-v.tsm" >/dev/null
out=$("$B" check "$T/unknown.tsm"); r=$?
js=$("$B" -j check "$T/unknown.tsm")
r2=$(exit_of check "$T/unknown-v.tsm")
if [ $r = 2 ] && echo "$out" | grep -q 'INCOMPLETE: 0 violation(s), .* 0 lost, 2 of unknown type' &&
   echo "$out" | grep -q 'record of a type this tsmtrace does not know (type 40)' &&
   echo "$js" | grep -q '"verdict":"INCOMPLETE".*"unknown_records":2,.*"incomplete":\[[a-z_",]*"unknown_record"' &&
   [ "$r2" = 2 ]; then
	pass check-unknown-record-type-incomplete-with-count
else
	fail check-unknown-record-type-incomplete-with-count "exit $r, $r2 (want 2, 2): $out $js"
fi

# ---- a range past 2^64 is malformed input
bad=
for c in ioas-wrap slot-wrap; do
	"$OUT/tsmgen" --case $c "$T/$c.tsm" >/dev/null
	err=$("$B" check "$T/$c.tsm" 2>&1 >/dev/null); r=$?
	js=$("$B" -j check "$T/$c.tsm" 2>/dev/null)
	if [ $r != 3 ] || ! echo "$err" | grep -q "error: $T/$c.tsm: offset [0-9]*: malformed input: .* range wraps past 2^64" ||
	   ! echo "$js" | grep -q '"type":"error".*"verdict":"UNUSABLE".*wraps past 2^64'; then
		bad="$bad $c: exit $r $err $js"
	fi
done
[ -z "$bad" ] && pass check-wrapped-range-malformed || fail check-wrapped-range-malformed "$bad"

# ---- what a CI job asks of check: events, coverage, a summary
r1=$(exit_of check --min-events 36 "$TR/good-flow.tsm")
out=$("$B" check --min-events 37 "$TR/good-flow.tsm"); r2=$?
js=$("$B" -j check --min-events=37 "$TR/good-flow.tsm" | grep '"type":"verdict"')
r3=$(exit_of check --min-events 1000 "$TR/private-in-ioas.tsm")
r4=$(exit_of check --min-events x "$TR/good-flow.tsm")
if [ "$r1$r2$r3$r4" = 0213 ] && echo "$out" | grep -q 'INCOMPLETE: 0 violation(s), 36 records' &&
   echo "$out" | grep -q 'not accepted: 36 events, --min-events asks for 37' &&
   echo "$js" | grep -q '"verdict":"INCOMPLETE".*"incomplete":\["min_events"\]'; then
	pass check-min-events
else
	fail check-min-events "exit $r1 $r2 $r3 $r4, want 0 2 1 3: $out $js"
fi
r1=$(exit_of check --require-coverage "$TR/good-flow.tsm")
r2=$(exit_of check "$TR/good-flow-no-kvm.tsm")
out=$("$B" check --require-coverage "$TR/good-flow-no-kvm.tsm"); r3=$?
js=$("$B" -j check --require-coverage "$TR/good-flow-no-kvm.tsm" | grep '"type":"verdict"')
if [ "$r1$r2$r3" = 002 ] && echo "$out" | grep -q 'not accepted: some invariants were not checked' &&
   echo "$js" | grep -q '"verdict":"INCOMPLETE".*"incomplete":\["coverage"\]'; then
	pass check-require-coverage
else
	fail check-require-coverage "exit $r1 $r2 $r3, want 0 0 2: $out $js"
fi
"$B" check --summary "$T/sum.json" "$TR/good-flow.tsm" "$TR/private-in-ioas.tsm" \
	"$TR/start-state-unknown.tsm" "$T/nonexistent.tsm" >/dev/null 2>&1; r1=$?
last=$("$B" -j check --summary - --min-events 37 "$TR/good-flow.tsm" | tail -n 1); r2=$?
err=$("$B" check --summary "$T/nodir/sum.json" "$TR/good-flow.tsm" 2>&1 >/dev/null); r3=$?
sum=$(cat "$T/sum.json" 2>/dev/null)
if [ $r1 = 3 ] && [ "$(echo "$sum" | wc -l)" = 1 ] &&
   echo "$sum" | grep -q '^{"type":"summary","exit":3,"files":4,"pass":1,"violation":1,"incomplete":1,"unusable":1,"events":[0-9]*,"violations":1,"results":\[' &&
   echo "$sum" | grep -q '{"file":"[^"]*good-flow.tsm","verdict":"PASS","exit":0,"events":36,"violations":0,"incomplete":\[\]}' &&
   echo "$sum" | grep -q '"verdict":"INCOMPLETE","exit":2,.*"incomplete":\["start_unknown"\]' &&
   echo "$sum" | grep -q 'nonexistent.tsm","verdict":"UNUSABLE","exit":3' &&
   echo "$last" | grep -q '^{"type":"summary","exit":2,.*"incomplete":\["min_events"\]}\]}$' &&
   [ $r3 = 3 ] && echo "$err" | grep -q -- "--summary $T/nodir/sum.json: cannot create"; then
	pass check-summary-json
else
	fail check-summary-json "exit $r1 $r2 $r3: $sum | $last | $err"
fi

# ---- corruption: any damaged byte is refused with exit 3, file and offset named
# corrupt_bytes_refused NAME FILE STEP: every STEP-th byte of FILE flipped in
# turn, check must refuse each copy with exit 3
corrupt_bytes_refused() {
	local name=$1 f=$2 step=$3 size n byte r bad=
	size=$(stat -c %s "$f")
	for ((n = 0; n < size; n += step)); do
		cp "$f" "$T/bad.tsm"
		byte=$(od -An -tu1 -j$n -N1 "$f" | tr -d ' ')
		printf "\\$(printf %03o $(( byte ^ 0x41 )))" | dd of="$T/bad.tsm" bs=1 seek=$n conv=notrunc status=none
		r=$(exit_of check "$T/bad.tsm")
		[ "$r" = 3 ] || bad="$bad $n:$r"
	done
	[ -z "$bad" ] && pass "$name" || fail "$name" "offset:exit$bad"
}
corrupt_bytes_refused file-any-corrupt-byte-refused "$TR/bind-ioas-left-mapped.tsm" 7
cp "$f" "$T/bad.tsm"
printf 'X' | dd of="$T/bad.tsm" bs=1 seek=400 conv=notrunc status=none
err=$("$B" check "$T/bad.tsm" 2>&1 >/dev/null)
if echo "$err" | grep -q "error: $T/bad.tsm: offset [0-9]*: .*checksum mismatch.*re-record it"; then
	pass file-corrupt-message-file-offset-remedy
else
	fail file-corrupt-message-file-offset-remedy "$err"
fi
printf 'hello, world\n' >"$T/foreign.txt"
err=$("$B" check "$T/foreign.txt" 2>&1 >/dev/null); r=$?
if [ $r = 3 ] && echo "$err" | grep -q "$T/foreign.txt: offset 0: not a tsmtrace trace file"; then
	pass file-foreign-refused
else
	fail file-foreign-refused "exit $r: $err"
fi
: >"$T/empty.tsm"
r=$(exit_of check "$T/empty.tsm")
[ "$r" = 3 ] && pass file-empty-refused || fail file-empty-refused "exit $r"
# the magic in the other byte order
{ printf 'ECARTMST'; tail -c +9 "$TR/good-flow.tsm"; } >"$T/swapped.tsm"
err=$("$B" check "$T/swapped.tsm" 2>&1 >/dev/null); r=$?
if [ $r = 3 ] && echo "$err" | grep -q 'other byte order'; then
	pass file-other-byte-order-refused
else
	fail file-other-byte-order-refused "exit $r: $err"
fi
# a newer format version (the version field sits at offset 12)
cp "$TR/good-flow.tsm" "$T/v2.tsm"
printf '\002' | dd of="$T/v2.tsm" bs=1 seek=12 conv=notrunc status=none
err=$("$B" check "$T/v2.tsm" 2>&1 >/dev/null); r=$?
if [ $r = 3 ] && echo "$err" | grep -q 'format version 2.1; this tsmtrace reads version 1'; then
	pass file-newer-version-refused
else
	fail file-newer-version-refused "exit $r: $err"
fi

# ---- compressed record blocks (format 1.4: zstd over records whose times
# and sequence numbers are deltas, record's default) against the same
# records uncompressed (1.1): every scenario gives the same output
minor() { od -An -tu2 -j14 -N2 "$1" | tr -d ' '; }
btypes() {	# FILE: the types of its blocks, in order
	"$PYJ" - "$1" <<'PYEOF'
import struct, sys
d = open(sys.argv[1], "rb").read()
off, out = struct.unpack_from("<I", d, 8)[0], []
while off + 32 <= len(d):
    magic, typ, size = struct.unpack_from("<III", d, off)
    out.append(str(typ))
    off += 32 + size
print(" ".join(out))
PYEOF
}
PYJ=/usr/bin/python3; [ -x "$PYJ" ] || PYJ=python3
mkdir -p "$T/z/plain" "$T/z/zstd" "$T/z/zstd19"
if "$OUT/tsmgen" "$T/z/plain" && "$OUT/tsmgen" --compress=zstd "$T/z/zstd" &&
   "$OUT/tsmgen" --compress=zstd:19 "$T/z/zstd19"; then
	bad=
	for f in "$T"/z/plain/*.tsm; do
		n=$(basename "$f")
		[ "$(minor "$f")" = 1 ] && [ "$(btypes "$f")" = "1 2" ] || bad="$bad $n:plain-not-1.1[$(minor "$f"):$(btypes "$f")]"
		for z in zstd zstd19; do
			g=$T/z/$z/$n
			[ "$(minor "$g")" = 4 ] && [ "$(btypes "$g")" = "5 2" ] || bad="$bad $z/$n:not-1.4-zstd-delta[$(minor "$g"):$(btypes "$g")]"
			[ "$(stat -c %s "$g")" -lt "$(stat -c %s "$f")" ] || bad="$bad $z/$n:not-smaller"
			for cmd in "check" "-j check" "report" "-j report" "report --violation 1" \
				   "report --format=perfetto"; do
				# shellcheck disable=SC2086
				a=$(cd "$T/z/plain" && "$B" $cmd "$n" 2>&1; echo "exit $?")
				# shellcheck disable=SC2086
				b=$(cd "$T/z/$z" && "$B" $cmd "$n" 2>&1; echo "exit $?")
				[ "$a" = "$b" ] || bad="$bad $z/$n:$cmd"
			done
		done
	done
	[ -z "$bad" ] && pass file-zstd-round-trip-same-output || fail file-zstd-round-trip-same-output "$bad"
else
	fail file-zstd-round-trip-same-output "tsmgen failed"
fi
# the older recorded traces of tests/traces are 1.1 files (older writers):
# still read
bad=
for f in "$TR"/lab73-good-flow.tsm "$TR"/lab73-tdi-error.tsm "$TR"/lab73-dmabuf-flow.tsm \
	 "$TR"/lab73-broken-revoke.tsm "$TR"/lab-*.tsm; do
	[ "$(minor "$f")" = 1 ] || bad="$bad $(basename "$f"):minor$(minor "$f")"
	echo " $(btypes "$f") " | grep -q ' [35] ' && bad="$bad $(basename "$f"):has-zstd"
done
r=$(exit_of check "$TR/lab73-good-flow.tsm")
if [ -z "$bad" ] && [ "$r" = 0 ]; then
	pass file-1.1-recordings-still-read
else
	fail file-1.1-recordings-still-read "exit $r:$bad"
fi
# recordings of 1.2 and 1.3 writers (zstd blocks without deltas): still read
bad=
for f in "$TR"/stock73-dmabuf-flow.tsm "$TR"/stock73-broken-zap.tsm; do
	echo " $(btypes "$f") " | grep -q ' 3 ' || bad="$bad $(basename "$f"):no-zstd-block[$(btypes "$f")]"
	echo " $(btypes "$f") " | grep -q ' 5 ' && bad="$bad $(basename "$f"):has-delta-block"
done
r=$(exit_of check "$TR/stock73-dmabuf-flow.tsm")
r2=$(exit_of check "$TR/stock73-broken-zap.tsm")
if [ -z "$bad" ] && [ "$r$r2" = 01 ]; then
	pass file-1.3-zstd-recordings-still-read
else
	fail file-1.3-zstd-recordings-still-read "exit $r $r2:$bad"
fi
# many compressed blocks, through a pipe; the same records as uncompressed
"$OUT/tsmgen" --big 300000 "$T/z/big.tsm" >/dev/null
"$OUT/tsmgen" --compress=zstd --big 300000 "$T/z/bigz.tsm" >/dev/null
a=$("$OUT/tsmtrace" check "$T/z/big.tsm" 2>&1 | sed 1s,^[^:]*:,,)
b=$(cat "$T/z/bigz.tsm" | timeout 60 "$OUT/tsmtrace" check - 2>&1 | sed 1s,^[^:]*:,,)
nb=$(btypes "$T/z/bigz.tsm" | tr ' ' '\n' | grep -c '^5$')
if [ -n "$a" ] && [ "$a" = "$b" ] && echo "$a" | grep -q 'PASS: 0 violation(s), 300[0-9]* records' && [ "$nb" -gt 50 ] &&
   [ $(( $(stat -c %s "$T/z/bigz.tsm") * 5 )) -lt "$(stat -c %s "$T/z/big.tsm")" ]; then
	pass file-zstd-many-blocks-from-pipe
else
	fail file-zstd-many-blocks-from-pipe "$nb compressed blocks, $(stat -c %s "$T/z/bigz.tsm") against $(stat -c %s "$T/z/big.tsm") bytes: [$a] [$b]"
fi
rm -f "$T/z/big.tsm" "$T/z/bigz.tsm"
# cut anywhere: INCOMPLETE after the header, refused inside it
f=$T/z/zstd/good-flow.tsm
size=$(stat -c %s "$f")
bad=
for ((n = 0; n < size; n += 8)); do
	head -c $n "$f" >"$T/cut.tsm"
	r=$(exit_of check "$T/cut.tsm")
	if [ $n -lt $hdr ]; then want=3; else want=2; fi
	[ "$r" = "$want" ] || bad="$bad $n:$r"
done
[ -z "$bad" ] && pass file-zstd-truncated-anywhere-incomplete-or-refused || fail file-zstd-truncated-anywhere-incomplete-or-refused "length:exit$bad"
# any damaged byte, in the compressed payload too: refused
corrupt_bytes_refused file-zstd-any-corrupt-byte-refused "$T/z/zstd/bind-ioas-left-mapped.tsm" 3
# hostile compressed blocks, checksums right (tests/unit/hostile-zstd.c):
# refused, exit 3, with what is wrong; never a crash, a hang or a PASS
bad= n=0
for k in $("$OUT/tsmgen" --list-hostile-zstd); do
	n=$((n + 1))
	"$OUT/tsmgen" --hostile-zstd "$k" "$T/hz-$k.tsm" || { bad="$bad $k:gen"; continue; }
	err=$(timeout 20 "$B" check "$T/hz-$k.tsm" 2>&1 >/dev/null); r=$?
	js=$(timeout 20 "$B" -j check "$T/hz-$k.tsm" 2>/dev/null)
	if [ "$k" = ok ] || [ "$k" = delta-ok ]; then
		[ $r = 0 ] || bad="$bad $k:exit$r:$err"
		continue
	fi
	case $k in count-mismatch) what='block 0 holds 36 records, its header says 37' ;;
		   *) what='malformed compressed block 0: \|malformed record (type 7, size 12) at byte 64 of the records of the compressed block here' ;;
	esac
	if [ $r != 3 ] || ! echo "$err" | grep -q "^tsmtrace: check: error: $T/hz-$k.tsm: offset 312: \($what\).*re-record it" ||
	   ! echo "$js" | grep -q '"type":"error".*"verdict":"UNUSABLE"'; then
		bad="$bad $k:exit$r:$err"
	fi
done
if [ -z "$bad" ] && [ $n -ge 15 ]; then
	pass file-zstd-hostile-blocks-refused-malformed
else
	fail file-zstd-hostile-blocks-refused-malformed "$n kinds:$bad"
fi
# --compress: checked before anything else, with what to give
: >"$T/z/nobtf"
err=$(TSMTRACE_BTF=$T/z/nobtf "$B" record --compress=gzip -o "$T/rec.tsm" 2>&1); r=$?
err2=$(TSMTRACE_BTF=$T/z/nobtf "$B" live --compress=zstd:99 2>&1); r2=$?
err3=$(TSMTRACE_BTF=$T/z/nobtf "$B" record --compress=zstd:19 -o "$T/rec.tsm" 2>&1); r3=$?
err4=$(TSMTRACE_BTF=$T/z/nobtf "$B" record --compress none -o "$T/rec.tsm" 2>&1); r4=$?
if [ "$r$r2$r3$r4" = 3333 ] && echo "$err" | grep -q 'record: error: --compress=gzip: give none, zstd or zstd:LEVEL with a LEVEL from 1 to' &&
   echo "$err2" | grep -q 'live: error: --compress=zstd:99: give none' &&
   echo "$err3" | grep -q 'does not have the tsmtrace tracepoints' &&
   echo "$err4" | grep -q 'does not have the tsmtrace tracepoints' && [ ! -e "$T/rec.tsm" ]; then
	pass record-compress-option-checked
else
	fail record-compress-option-checked "exit $r $r2 $r3 $r4: $err | $err2 | $err3 | $err4"
fi

# ---- report
out=$("$B" report "$TR/good-two-devices.tsm" --device 0000:02:00.0)
if echo "$out" | grep -q 'pci_tsm_bind_begin dev=0000:02:00.0' &&
   ! echo "$out" | grep -q 'dev=0000:01:00.0' && echo "$out" | grep -q 'buf=1011' &&
   ! echo "$out" | grep -q 'buf=1001 '; then
	pass report-device-only-that-device
else
	fail report-device-only-that-device "$out"
fi
# pfn 0x4010005 is private after bind: its range event, its private DMABUF and slot
out=$("$B" report "$TR/good-flow.tsm" --pfn 0x4010005)
if echo "$out" | grep -q 'pci_tsm_range .*SHARED->PRIVATE' && echo "$out" | grep -q 'kvm_dmabuf_slot_bind .*private=1' &&
   echo "$out" | grep -q 'pci_tsm_bind_end' && ! echo "$out" | grep -q 'iova=0x130000000'; then
	pass report-pfn-story
else
	fail report-pfn-story "$out"
fi
out=$("$B" report "$TR/bind-ioas-left-mapped.tsm" --violation 1)
if echo "$out" | grep -q '^!! seq 10 .*pci_tsm_range' && echo "$out" | grep -q 'iommufd_ioas_map_dmabuf .*buf=1000' &&
   echo "$out" | grep -q '#1 TSM-I1' && echo "$out" | grep -q '0xffffffff8100a000' &&
   ! echo "$out" | grep -q '#2 TSM-I2'; then
	pass report-violation-story-with-stack
else
	fail report-violation-story-with-stack "$out"
fi
# a host CPU mapping that a bind made private (TSM-I9, recorded in the lab):
# its fault in the story, the mapping named in the conflict, a lane of it
out=$("$B" report "$TR/lab73-broken-zap.tsm" --violation 1)
tl=$("$B" report --format=perfetto "$TR/lab73-broken-zap.tsm")
if echo "$out" | grep -q 'vfio_pci_bar_map dev=0000:00:04.0 bar=2 pfn=0x100201 npfns=0x1' &&
   echo "$out" | grep -q '^!! seq 4 .*pci_tsm_range .*SHARED->PRIVATE' &&
   echo "$out" | grep -q 'TSM-I9: event pci_tsm_range not expected in state pfn_cpu_mapped' &&
   echo "$out" | grep -q 'in conflict with: dev=0000:00:04.0 host=cpu pfn=0x100201 npfns=0x1' &&
   echo "$tl" | grep -q '"name":"host CPU, BAR 2"' && echo "$tl" | grep -q '"name":"mapped by the host CPU"' &&
   echo "$tl" | grep -q '"name":"TSM-I9 #1"'; then
	pass report-host-cpu-mapping-story
else
	fail report-host-cpu-mapping-story "$out"
fi
# the order of a story is the order of the trace
seqs=$("$B" report "$TR/good-flow.tsm" --device 0x100 | sed -n 's/^.. seq \([0-9]*\) .*/\1/p' | tr '\n' ' ')
sorted=$(echo "$seqs" | tr ' ' '\n' | grep . | sort -n | tr '\n' ' ')
[ -n "$seqs" ] && [ "$seqs" = "$sorted" ] && pass report-in-trace-order || fail report-in-trace-order "$seqs"
err=$("$B" report "$TR/good-flow.tsm" --violation 3 2>&1); r=$?
if [ $r = 3 ] && echo "$err" | grep -q 'no violation #3: the trace has 0'; then
	pass report-missing-violation-explained
else
	fail report-missing-violation-explained "exit $r: $err"
fi
r=$(exit_of report "$TR/good-flow.tsm" --device nonsense)
r2=$(exit_of report "$TR/good-flow.tsm" --device 1 --pfn 2)
[ "$r$r2" = 33 ] && pass report-usage-errors || fail report-usage-errors "exit $r $r2"
out=$("$B" -j report "$TR/private-in-ioas.tsm" --violation 1)
if ! echo "$out" | grep -vq '^{"type":"[a-z]*".*}$' && echo "$out" | grep -q '"violations":\[1\]'; then
	pass report-json-lines
else
	fail report-json-lines "$out"
fi

# ---- commands: prefixes, record and live without the kernel events
r=$(exit_of ch "$TR/good-flow.tsm")
err=$("$B" re "$TR/good-flow.tsm" 2>&1); r2=$?
if [ "$r" = 0 ] && [ $r2 = 3 ] && echo "$err" | grep -q "ambiguous command 're'"; then
	pass command-unique-prefix
else
	fail command-unique-prefix "check by prefix: $r, 're': $r2 $err"
fi
: >"$T/nobtf"
err=$(TSMTRACE_BTF=$T/nobtf "$B" record --source=series -o "$T/rec.tsm" 2>&1); r=$?
err2=$(TSMTRACE_BTF=$T/nobtf "$B" record -o "$T/rec.tsm" 2>&1); r2=$?
if [ $r = 3 ] && echo "$err" | grep -q 'does not have the tsmtrace tracepoints (no pci_tsm_bind_begin.*--source=stock' &&
   [ $r2 = 3 ] && echo "$err2" | grep -q 'does not have the tsmtrace tracepoints: using its own functions instead' &&
   echo "$err2" | grep -q "error: cannot read the kernel's BTF ($T/nobtf)" && [ ! -e "$T/rec.tsm" ]; then
	pass record-refuses-without-kernel-events
else
	fail record-refuses-without-kernel-events "exit $r $r2: $err | $err2"
fi
if [ -r /sys/kernel/btf/vmlinux ]; then
	err=$("$B" live 2>&1); r=$?
	if grep -q btf_trace_pci_tsm_range /sys/kernel/btf/vmlinux; then
		skip live-refuses-without-kernel-events "this kernel has the events"
	elif grep -q vfio_pci_dma_buf /sys/kernel/btf/vmlinux; then
		skip live-refuses-without-kernel-events "this kernel has mainline's DMABUF export"
	elif [ $r = 3 ] && echo "$err" | grep -q "kernel $(uname -r) does not have the tsmtrace tracepoints: using its own functions" &&
	     echo "$err" | grep -q "error: the kernel's BTF (/sys/kernel/btf/vmlinux) has no struct vfio_pci_dma_buf: DMABUFs are not seen: nothing can be checked; .*Linux 6.19 or later"; then
		pass live-refuses-without-kernel-events
	else
		fail live-refuses-without-kernel-events "exit $r: $err"
	fi
else
	skip live-refuses-without-kernel-events "no /sys/kernel/btf/vmlinux"
fi
# the stock-kernel source on a BTF without the flow's functions: named, and
# what it costs; a source that is not one is a usage error
err=$(TSMTRACE_BTF="$OUT/bpf/stock.bpf.o" "$B" live --source=stock 2>&1); r=$?
r2=$(exit_of live --source=kprobes)
if [ $r = 3 ] && echo "$err" | grep -q "error: the kernel's BTF (.*stock.bpf.o) has no function dma_buf_fd(): DMABUFs are not seen" &&
   [ "$r2" = 3 ] && "$B" live --source=kprobes 2>&1 | grep -q -- '--source takes auto, series or stock'; then
	pass live-stock-source-missing-function-named
else
	fail live-stock-source-missing-function-named "exit $r $r2: $err"
fi
# a kernel that has the flow's functions but whose structure lacks a member
# a program reads (a field renamed): the member is named, with what its
# absence costs, before anything is loaded
cat >"$T/renamed.c" <<'EOF2'
struct phys_vec { unsigned long long paddr, len; };
struct inode { unsigned long i_ino; };
struct file { struct inode *f_inode; };
struct dma_buf { struct file *file; const char *exp_name; void *priv; };
struct pci_bus { unsigned char number; };
struct resource { unsigned long long start, end; };
struct pci_dev { struct pci_bus *bus; unsigned int devfn; struct resource resource[6]; };
struct vfio_pci_core_device { struct pci_dev *pdev; void *dma_bufs; };
struct vfio_pci_dma_buf {
	struct dma_buf *dmabuf; struct vfio_pci_core_device *vdev; void *dmabufs_elm;
	struct phys_vec *phys_vec; unsigned int nr_ranges; unsigned char revoked : 1;
};
/* objects of each: the BTF has them whole, not as forward declarations */
struct file f; struct inode i; struct pci_dev p; struct pci_bus pb; struct phys_vec pv;
struct vfio_pci_dma_buf b;
int dma_buf_fd(struct dma_buf *d, int flags) { return flags + !!d; }
int vfio_pci_dma_buf_move(struct vfio_pci_core_device *v, int r) { return r + !!v; }
int vfio_pci_dma_buf_release(struct dma_buf *d) { return !!d; }
EOF2
if ! clang -g -O2 -target bpf -c "$T/renamed.c" -o "$T/renamed.o" 2>"$T/renamed.err"; then
	fail live-stock-source-missing-member-named "clang: $(cat "$T/renamed.err")"
else
	err=$(TSMTRACE_BTF="$T/renamed.o" "$B" live --source=stock 2>&1); r=$?
	if [ $r = 3 ] &&
	   echo "$err" | grep -q "error: the kernel's BTF (.*renamed.o) has no struct vfio_pci_core_device member dmabufs: DMABUFs are not seen: nothing can be checked"; then
		pass live-stock-source-missing-member-named
	else
		fail live-stock-source-missing-member-named "exit $r: $err"
	fi
fi
# a kernel whose BTF names the events but cannot run the programs (this
# host): the load fails with a message, and no file is left behind
for e in pci_tsm_bind_begin pci_tsm_bind_end pci_tsm_unbind_begin pci_tsm_unbind_end \
	 pci_tsm_tdi_state pci_tsm_range vfio_dmabuf_export_range vfio_dmabuf_export \
	 vfio_dmabuf_revoke vfio_dmabuf_release iommufd_ioas_map_dmabuf \
	 iommufd_ioas_unmap_dmabuf kvm_dmabuf_slot_bind kvm_dmabuf_slot_unbind \
	 vfio_pci_bar_map vfio_pci_bar_zap; do
	printf 'btf_trace_%s\0' "$e"
done >"$T/fakebtf"
if grep -q btf_trace_pci_tsm_range /sys/kernel/btf/vmlinux 2>/dev/null; then
	skip record-load-failure-explained "this kernel has the events"
else
	err=$(TSMTRACE_BTF=$T/fakebtf "$B" record -o "$T/rec.tsm" 2>&1); r=$?
	if [ $r = 3 ] && echo "$err" | grep -q 'record: error: cannot load the BPF programs' &&
	   [ ! -e "$T/rec.tsm" ]; then
		pass record-load-failure-explained
	else
		fail record-load-failure-explained "exit $r: $err"
	fi
fi
# a kernel without the KVM slot events (the lab's today): the missing events
# are said once, and the rest is traced (here the load fails: host kernel)
tr '\0' '\n' <"$T/fakebtf" | grep -v kvm_dmabuf | tr '\n' '\0' >"$T/nokvmbtf"
err=$(TSMTRACE_BTF=$T/nokvmbtf "$B" record -o "$T/rec.tsm" 2>&1); r=$?
if [ "$(echo "$err" | grep -c 'lacks 2 of 16 events (kvm_dmabuf_slot_bind, kvm_dmabuf_slot_unbind): KVM memslot mappings cannot be observed')" = 1 ] &&
   ! echo "$err" | grep -q 'does not have the tsmtrace tracepoints'; then
	pass record-missing-kvm-events-said-once
else
	fail record-missing-kvm-events-said-once "exit $r: $err"
fi
# the same kernel as real BTF (an object whose BTF has the probes'
# typedefs, as a kernel's has): read with libbpf, the same answer
{
	for e in pci_tsm_bind_begin pci_tsm_bind_end pci_tsm_unbind_begin pci_tsm_unbind_end \
		 pci_tsm_tdi_state pci_tsm_range vfio_dmabuf_export_range vfio_dmabuf_export \
		 vfio_dmabuf_revoke vfio_dmabuf_release iommufd_ioas_map_dmabuf \
		 iommufd_ioas_unmap_dmabuf vfio_pci_bar_map vfio_pci_bar_zap; do
		printf 'typedef void (*btf_trace_%s)(void *, int);\nbtf_trace_%s v_%s;\n' "$e" "$e" "$e"
	done
} >"$T/events.c"
if ! clang -g -O2 -target bpf -c "$T/events.c" -o "$T/events.o" 2>"$T/events.err"; then
	fail record-events-from-real-btf "clang: $(cat "$T/events.err")"
else
	err=$(TSMTRACE_BTF=$T/events.o "$B" record -o "$T/rec.tsm" 2>&1); r=$?
	if [ "$(echo "$err" | grep -c 'lacks 2 of 16 events (kvm_dmabuf_slot_bind, kvm_dmabuf_slot_unbind): KVM memslot mappings cannot be observed')" = 1 ] &&
	   ! echo "$err" | grep -q 'does not have the tsmtrace tracepoints'; then
		pass record-events-from-real-btf
	else
		fail record-events-from-real-btf "exit $r: $err"
	fi
fi
tr '\0' '\n' <"$T/fakebtf" | grep -v pci_tsm_range | tr '\n' '\0' >"$T/nolayoutbtf"
err=$(TSMTRACE_BTF=$T/nolayoutbtf "$B" live --source=series 2>&1); r=$?
if [ $r = 3 ] && echo "$err" | grep -q 'no pci_tsm_range in .*15 of 16 events present'; then
	pass live-refuses-without-layout-events
else
	fail live-refuses-without-layout-events "exit $r: $err"
fi
# the verdict of a trace without the KVM events says what it did not check
out=$("$B" check "$TR/good-flow-no-kvm.tsm"); r=$?
js=$("$B" -j check "$TR/good-flow-no-kvm.tsm" | grep '"type":"verdict"')
if [ $r = 0 ] && echo "$out" | grep -q 'coverage: 14 of 16 events observed; not observed: kvm_dmabuf_slot_bind kvm_dmabuf_slot_unbind' &&
   echo "$out" | grep -q 'not checked: TSM-I4' &&
   echo "$js" | grep -q '"coverage":{"full":false,.*"unchecked":\["TSM-I4"\]' &&
   ! "$B" check "$TR/good-flow.tsm" | grep -q coverage &&
   "$B" -j check "$TR/good-flow.tsm" | grep -q '"coverage":{"full":true'; then
	pass check-coverage-of-partial-trace
else
	fail check-coverage-of-partial-trace "exit $r: $out $js"
fi
r=$(exit_of live --device nonsense)
r2=$(exit_of record)
r3=$(exit_of live --duration x)
[ "$r$r2$r3" = 333 ] && pass live-record-usage-errors || fail live-record-usage-errors "exit $r $r2 $r3"
# --quiet: live's alone, and with nothing left for a filter to choose from
err=$("$B" live -q --device 00:04.0 2>&1); r=$?
err2=$("$B" live --pid 1 --quiet 2>&1); r2=$?
err3=$("$B" record -q -o "$T/q.tsm" 2>&1); r3=$?
if [ "$r$r2$r3" = 333 ] && [ ! -e "$T/q.tsm" ] &&
   echo "$err" | grep -q 'live: error: --quiet prints no transitions for --device, --vm or --pid to choose from' &&
   echo "$err2" | grep -q 'live: error: --quiet prints no transitions' &&
   echo "$err3" | grep -q 'record: error: bad option or value'; then
	pass live-quiet-usage-errors
else
	fail live-quiet-usage-errors "exit $r $r2 $r3: $err / $err2 / $err3"
fi

# ---- without CAP_BPF and CAP_PERFMON: said, with what to do, before any load
if command -v setpriv >/dev/null && [ "$(id -u)" = 0 ]; then
	chmod 755 "$T"
	nobody() { TSMTRACE_BTF=$T/fakebtf setpriv --reuid=65534 --regid=65534 --clear-groups "$@"; }
	err=$(nobody "$B" record -o "$T/priv.tsm" 2>&1); r=$?
	err2=$(nobody "$B" live --duration 1 2>&1); r2=$?
	if [ $r = 3 ] && [ $r2 = 3 ] && [ ! -e "$T/priv.tsm" ] &&
	   echo "$err" | grep -q 'record: error: not permitted to load the BPF programs: tsmtrace needs CAP_BPF and CAP_PERFMON' &&
	   echo "$err" | grep -q 'run it as root' && echo "$err" | grep -q 'setcap cap_bpf,cap_perfmon+ep' &&
	   echo "$err2" | grep -q 'live: error: not permitted .*CAP_BPF and CAP_PERFMON'; then
		pass record-live-without-capabilities-explained
	else
		fail record-live-without-capabilities-explained "exit $r $r2: $err $err2"
	fi
	chmod 700 "$T"
else
	skip record-live-without-capabilities-explained "needs root and setpriv to drop to an unprivileged user"
fi

# ---- every command's --help lists every option its parser takes
opts_of() {	# FILE TABLE [MARK]: the long options of a struct option table (from /* MARK: */)
	awk -v t="$2" -v m="${3:+/* $3: */}" '$0 ~ t"\\[\\] = \\{" { on = !m; seen = 1; next }
		seen && m && index($0, m) { on = 1; next } seen && /^\t*\};/ { exit }
		on && match($0, /\{ "[a-z-]+"/) { print substr($0, RSTART + 3, RLENGTH - 4) }' "$1"
}
S=$ROOT/tools/tsmtrace
bad= n=0
for spec in check:builtin-check.c:check_opts report:builtin-report.c:report_opts \
	    record:builtin-record.c:live_opts:record live:builtin-record.c:live_opts; do
	IFS=: read -r cmd file table mark <<<"$spec"
	help=$("$B" "$cmd" --help 2>&1); r=$?
	[ $r = 0 ] || bad="$bad $cmd:exit$r"
	[ "$("$B" help "$cmd" 2>&1)" = "$help" ] || bad="$bad help-$cmd-differs"
	comp=$(bash -c ". '$S/tsmtrace.bash-completion'; _tsmtrace_cmd_opts $cmd")
	opts=$(opts_of "$S/$file" "$table" "$mark")
	[ -n "$opts" ] || bad="$bad $cmd:no-options-found-in-$file"
	for o in $opts; do
		n=$((n + 1))
		echo "$help" | grep -q -- "--$o\b" || bad="$bad $cmd-help-lacks--$o"
		echo " $comp " | grep -q -- " --$o " || bad="$bad $cmd-completion-lacks--$o"
	done
done
if [ -z "$bad" ] && [ $n -gt 30 ]; then
	pass every-command-help-lists-its-options
else
	fail every-command-help-lists-its-options "$n options;$bad"
fi

# ---- the man page names every environment variable the tool reads
envs=$(grep -ho 'getenv("[A-Z_]*")' "$S"/*.c | sed 's/getenv("\(.*\)")/\1/' | sort -u)
env_man=$(sed -n '/^\.SH ENVIRONMENT/,/^\.SH /p' "$ROOT/docs/tsmtrace.8")
bad=
for v in $envs; do echo "$env_man" | grep -q "^\.B $v\$" || bad="$bad $v"; done
if [ -n "$envs" ] && [ -z "$bad" ]; then
	pass man-page-environment-complete
else
	fail man-page-environment-complete "read but not in ENVIRONMENT:$bad (read: $(echo $envs))"
fi

# ---- make install: the tool, its man page, its completion; the tool runs
bad=
for how in tools top; do
	d=$T/inst-$how
	if [ $how = tools ]; then
		out=$(make --no-print-directory -C "$S" OUT="$OUT" install DESTDIR="$d" PREFIX=/usr/local 2>&1)
	else
		out=$(make --no-print-directory -C "$ROOT" OUT="$OUT" install DESTDIR="$d" 2>&1)
	fi || { bad="$bad $how:make:$(echo "$out" | tail -n 2)"; continue; }
	got=$(cd "$d" && find . -type f -printf '%m %p\n' | sort | tr '\n' ' ')
	want="644 ./usr/local/share/bash-completion/completions/tsmtrace 644 ./usr/local/share/man/man8/tsmtrace.8 755 ./usr/local/sbin/tsmtrace "
	[ "$got" = "$want" ] || bad="$bad $how:files[$got]"
	"$d/usr/local/sbin/tsmtrace" --help | grep -q '^usage: tsmtrace' || bad="$bad $how:--help"
	"$d/usr/local/sbin/tsmtrace" check --help | grep -q -- '--min-events' || bad="$bad $how:check--help"
	cmp -s "$d/usr/local/share/man/man8/tsmtrace.8" "$ROOT/docs/tsmtrace.8" || bad="$bad $how:man"
done
if [ -z "$bad" ]; then
	pass make-install-destdir
else
	fail make-install-destdir "$bad"
fi
# the completion: commands by prefix, each command's options, trace files
comp() {	# WORDS...: what the completion offers for the last word
	bash -c '. "$1"; shift; COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); _tsmtrace; echo "${COMPREPLY[*]}"' \
		_ "$S/tsmtrace.bash-completion" "$@"
}
touch "$T/a.tsm" "$T/b.txt"
c1=$(comp tsmtrace ch); c2=$(comp tsmtrace check --min); c3=$(comp tsmtrace -j rep --vio)
c4=$(cd "$T" && comp tsmtrace check ""); c5=$(comp tsmtrace re)
c6=$(comp tsmtrace rec --comp); c7=$(comp tsmtrace record --compress "")
if bash -n "$S/tsmtrace.bash-completion" && [ "$c1" = check ] && [ "$c2" = --min-events ] &&
   [ "$c3" = --violation ] && echo " $c4 " | grep -q ' a.tsm ' && ! echo "$c4" | grep -q b.txt &&
   [ "$c5" = "report record" ] && [ "$c6" = --compress ] && [ "$c7" = "none zstd" ]; then
	pass bash-completion
else
	fail bash-completion "[$c1] [$c2] [$c3] [$c4] [$c5] [$c6] [$c7]"
fi

# ---- stacks name their frames wherever they are read: a 1.3 recording
# (stock73-broken-zap.tsm, on the lab's 7.3 series) carries the names and
# the build ID of the kernel that recorded it, and this host names the
# frames from it, the recorder's BPF program among them, without a
# warning; a recording of an older writer (lab73-broken-revoke.tsm) cannot
# be named here and the reader says so, with what to do; --symbols still
# names it; the KVM entry that survived the revoke is named in the story
out=$("$B" check "$TR/stock73-broken-zap.tsm" 2>"$T/zap.err")
old=$("$B" check "$TR/lab73-broken-revoke.tsm" 2>&1 >/dev/null)
printf 'ffffffff81000000 T somewhere_in_the_kernel\n' >"$T/System.map"
given=$("$B" check --symbols "$T/System.map" "$TR/lab73-broken-revoke.tsm" 2>/dev/null)
if echo "$out" | grep -q '^        0xffffffff[0-9a-f]* vfio_basic_config_write+0x[0-9a-f]*$' &&
   echo "$out" | grep -q ' bpf_prog_[0-9a-f]*_stock_dmabuf_move+0x' &&
   echo "$out" | grep -q 'in conflict with: dev=0000:00:04.0 kvm=spte gfn=0x40001 level=1 pfn=0x100001 npfns=0x1$' &&
   [ ! -s "$T/zap.err" ] &&
   echo "$old" | grep -q "warning: 24 stack frame(s) not named: the trace names none, and it was recorded on kernel 7.3.4+, not this host's; name them with --symbols" &&
   echo "$given" | grep -q ' somewhere_in_the_kernel+0x'; then
	pass stack-symbols-travel-with-the-trace
else
	fail stack-symbols-travel-with-the-trace "$out $(cat "$T/zap.err") / $old / $(echo "$given" | grep -m2 somewhere)"
fi

# ---- a violation tells the whole story: device, BAR, the PFNs that meet and
# the IOVA or guest address that maps them, the VMs, what stays private,
# every mapping in conflict
out=$("$B" check "$TR/lab73-broken-revoke.tsm")
v=$("$B" -j check "$TR/lab73-broken-revoke.tsm" | grep '"invariant":"TSM-I1"')
if echo "$out" | grep -q '^      device 0000:00:04.0 BAR 2; its TDI is being bound to vm=0xff11000003f40000$' &&
   echo "$out" | grep -q 'in conflict with: dev=0000:00:04.0 bar=2 buf=1859 ctx=0xff11000002c07800 ioas=1 iova=0x1000000 pfn=0x100200 npfns=0x200$' &&
   echo "$out" | grep -q '^        overlap: pfn=0x100200 npfns=0x200 iova=0x1000000$' &&
   echo "$v" | grep -q '"objects":{"dev":"0000:00:04.0","bar":2,"pfn":"0x100200","npfns":"0x200"},"tdi":{"phase":"binding","vm":"0xff11000003f40000"}' &&
   echo "$v" | grep -q '"overlap":{"pfn":"0x100200","npfns":"0x200","iova":"0x1000000"}},"conflicts":1,"conflicting":\[{'; then
	pass violation-device-bar-overlap-iova-tdi-vm
else
	fail violation-device-bar-overlap-iova-tdi-vm "$out $v"
fi
out=$("$B" check "$TR/private-slot-wrong-vm.tsm")
v=$("$B" -j check "$TR/private-slot-wrong-vm.tsm" | grep '"type":"violation"')
if echo "$out" | grep -q 'device 0000:01:00.0 BAR 2; its TDI is bound to vm=0xffff888100000000; the slot is in vm=0xffff888100001000$' &&
   echo "$v" | grep -q '"objects":{"dev":"0000:01:00.0","bar":2,"buf":1002,"vm":"0xffff888100001000","slot":3,"gfn":"0x810000",' &&
   echo "$v" | grep -q '"tdi":{"phase":"bound","vm":"0xffff888100000000"}'; then
	pass violation-tsm-i4-both-vms
else
	fail violation-tsm-i4-both-vms "$out $v"
fi
out=$("$B" check "$TR/unbind-leaves-private.tsm" "$TR/failed-bind-left-private.tsm")
js=$("$B" -j check "$TR/unbind-leaves-private.tsm" "$TR/failed-bind-left-private.tsm")
if [ "$(echo "$out" | grep -c '^      still private: pfn=0x4010000 npfns=0x20000$')" = 2 ] &&
   [ "$(echo "$js" | grep -E '"invariant":"TSM-I(6|8)","state":"pfn_private"' |
	grep -c '"still_private":\[{"dev":"0000:01:00.0","pfn":"0x4010000","npfns":"0x20000"')" = 2 ] &&
   echo "$out" | grep -q 'in conflict with: dev=0000:01:00.0 bar=2 buf=1002 vm=0xffff888100000000 slot=0x3 gfn=0x810000 pfn=0x4010000'; then
	pass violation-tsm-i6-i8-ranges-still-private
else
	fail violation-tsm-i6-i8-ranges-still-private "$out $js"
fi
"$OUT/tsmgen" --case many-mappings "$T/many-maps.tsm" >/dev/null
out=$("$B" check "$T/many-maps.tsm" | sed -n '/#1 TSM-I1/,/#2/p')
v=$("$B" -j check "$T/many-maps.tsm" | grep '"invariant":"TSM-I1"')
if [ "$(echo "$out" | grep -c 'in conflict with: ')" = 8 ] &&
   echo "$out" | grep -q '\.\.\. and 4 more in conflict (all of them in JSON, -j)' &&
   echo "$out" | grep -q 'slot=0x11 gfn=0x1000000 .*' && echo "$out" | grep -q 'overlap: pfn=0x4010000 npfns=0x20000 gpa=0x1010000000$' &&
   echo "$v" | grep -q '"conflicts":12,' &&
   [ "$(echo "$v" | grep -o '"overlap":{[^}]*"iova"' | wc -l)" = 7 ] &&
   [ "$(echo "$v" | grep -o '"overlap":{[^}]*"gpa"' | wc -l)" = 6 ] &&
   echo "$v" | grep -q '"iova":"0xa000000000",.*"overlap":{"pfn":"0x4010000","npfns":"0x20000","iova":"0xa010000000"}'; then
	pass violation-every-conflicting-mapping
else
	fail violation-every-conflicting-mapping "$out $v"
fi

# ---- a timeline out: Chrome trace-event JSON (Perfetto) and SVG
PYJ=/usr/bin/python3; [ -x "$PYJ" ] || PYJ=python3
"$B" report --format=perfetto "$TR/lab73-broken-revoke.tsm" >"$T/tl.json"; r=$?
got=$("$PYJ" - "$T/tl.json" <<'PYEOF' 2>&1
import json, sys
d = json.load(open(sys.argv[1]))
ev = d["traceEvents"]
procs = {e["pid"]: e["args"]["name"] for e in ev if e["ph"] == "M" and e["name"] == "process_name"}
threads = {(e["pid"], e["tid"]): e["args"]["name"] for e in ev if e["ph"] == "M" and e["name"] == "thread_name"}
assert all(e["ph"] in "MXi" for e in ev), "unexpected phase"
assert all(e["dur"] >= 0 for e in ev if e["ph"] == "X"), "negative duration"
out = ["tracks: " + " | ".join(sorted(procs.values()))]
for e in ev:
    if e["ph"] == "X":
        out.append("slice %s / %s: %s" % (procs[e["pid"]], threads[(e["pid"], e["tid"])], e["name"]))
    elif e["ph"] == "i" and e.get("cat") == "violation":
        out.append("marker %s: %s %s" % (procs[e["pid"]], e["name"], e["args"]["state"]))
print("\n".join(out))
PYEOF
)
if [ $r = 0 ] && echo "$got" | grep -q '^tracks: IOAS 1 (ctx 0xff11000002c07800) | VM 0xff11000003f40000 | device 0000:00:04.0$' &&
   echo "$got" | grep -q '^slice device 0000:00:04.0 / TDI: bound to VM 0xff11000003f40000$' &&
   echo "$got" | grep -q '^slice device 0000:00:04.0 / DMABUF 1859: shared DMABUF 1859$' &&
   echo "$got" | grep -q '^slice IOAS 1 (ctx 0xff11000002c07800) / IOVA 0x1000000: DMABUF 1859 shared$' &&
   echo "$got" | grep -q '^slice VM 0xff11000003f40000 / TDI 0000:00:04.0: bound$' &&
   echo "$got" | grep -q '^marker device 0000:00:04.0: TSM-I5 #1 dmabuf_mapped$' &&
   echo "$got" | grep -q '^marker device 0000:00:04.0: TSM-I1 #2 pfn_mapped_shared$'; then
	pass report-perfetto-tracks-slices-markers
else
	fail report-perfetto-tracks-slices-markers "exit $r: $got"
fi
bad=
for f in "$TR"/*.tsm; do
	"$B" report --format=perfetto "$f" >"$T/tl.json" 2>/dev/null || bad="$bad $(basename "$f"):exit"
	"$PYJ" -c 'import json,sys; json.load(open(sys.argv[1]))' "$T/tl.json" 2>/dev/null || bad="$bad $(basename "$f"):json"
	"$B" report --format=svg "$f" >"$T/tl.svg" 2>/dev/null || bad="$bad $(basename "$f"):svg-exit"
	"$PYJ" -c 'import xml.etree.ElementTree as E,sys; E.parse(sys.argv[1])' "$T/tl.svg" 2>/dev/null || bad="$bad $(basename "$f"):xml"
done
[ -z "$bad" ] && pass report-timelines-of-every-trace-parse || fail report-timelines-of-every-trace-parse "$bad"
"$B" report --format=svg "$TR/lab73-broken-revoke.tsm" >"$T/tl.svg"
lanes=$("$PYJ" - "$T/tl.svg" <<'PYEOF' 2>&1
import sys
import xml.etree.ElementTree as E
ns = "{http://www.w3.org/2000/svg}"
root = E.parse(sys.argv[1]).getroot()
texts = [t.text for t in root.iter(ns + "text")]
tracks = [g.find(ns + "text").text for g in root.iter(ns + "g") if g.get("class") == "track"]
lanes = [t.text for t in root.iter(ns + "text") if t.get("class") == "lane"]
marks = [g.find(ns + "title").text for g in root.iter(ns + "g") if g.get("class") == "violation"]
print("tracks:", " | ".join(tracks))
print("lanes:", " | ".join(lanes))
print("violations:", " | ".join(marks))
PYEOF
)
if ! command -v rsvg-convert >/dev/null; then
	fail report-svg-renders "no rsvg-convert (librsvg2-bin: make deps)"
elif rsvg-convert "$T/tl.svg" -o "$T/tl.png" 2>"$T/rsvg.err" && [ -s "$T/tl.png" ] &&
     [ "$(head -c 8 "$T/tl.png" | od -An -tx1 | tr -d ' ')" = 89504e470d0a1a0a ] &&
     echo "$lanes" | grep -q '^tracks: device 0000:00:04.0 | IOAS 1 (ctx 0xff11000002c07800) | VM 0xff11000003f40000$' &&
     echo "$lanes" | grep -q '^lanes: DMABUF 1859 | IOVA 0x1000000 | TDI | TDI 0000:00:04.0$' &&
     echo "$lanes" | grep -q '^violations: TSM-I5 #1 | TSM-I1 #2$'; then
	pass report-svg-renders
else
	fail report-svg-renders "$(cat "$T/rsvg.err") $lanes"
fi
(cd "$ROOT" && "$B" report --format=svg tests/traces/lab73-broken-revoke.tsm) >"$T/readme.svg"
if cmp -s "$T/readme.svg" "$ROOT/docs/lab73-broken-revoke.svg"; then
	pass report-svg-readme-example-current
else
	fail report-svg-readme-example-current "docs/lab73-broken-revoke.svg differs: run 'build/tsmtrace/tsmtrace report --format=svg tests/traces/lab73-broken-revoke.tsm >docs/lab73-broken-revoke.svg'"
fi
err=$("$B" report --format=svg "$TR/good-flow.tsm" --device 1 2>&1); r=$?
r2=$(exit_of report --format=gif "$TR/good-flow.tsm")
if [ $r = 3 ] && echo "$err" | grep -q 'shows the whole trace' && [ "$r2" = 3 ]; then
	pass report-format-usage-errors
else
	fail report-format-usage-errors "exit $r $r2: $err"
fi

# ---- trace-cmd's trace.dat (tracedat.c): tsm_flow's recordings of the lab
# (tests/traces/tc73-*), each made by trace-cmd record and tsmtrace record
# at the same time, give the same verdict, violations, events, losses and
# coverage, and the same events, field by field, in the same order (all but
# their timestamps: another clock); a stack at every event (-T) is the
# stack of its violation;
# without --state-known the verdict is not a PASS; lost events make it
# INCOMPLETE with their count; anything unusable is refused with exit 3
facts() {	# the verdict line's facts that do not depend on the recorder
	grep '"type":"verdict"' | sed -E 's/.*("verdict":"[A-Z]*","violations":[0-9]*),"records":[0-9]*,("events":[0-9]*,"lost":[0-9]*,"doubts":[0-9]*).*("incomplete":\[[^]]*\],"coverage":\{[^}]*\}).*("notes":.*)/\1 \2 \3 \4/'
}
invs() { grep '"type":"violation"' | sed -E 's/.*"invariant":"([^"]*)".*"event":"([a-z_]*)","seq":([0-9]*).*/\1@\2#\3/' | tr '\n' ' '; }
bad= n=0
for d in "$TR"/tc73-*.dat; do
	t=${d%.dat}.tsm
	[ -f "$t" ] || continue
	n=$((n + 1))
	a=$("$B" -j check --state-known "$d"); b=$("$B" -j check "$t")
	if [ -z "$(echo "$a" | facts)" ] || [ "$(echo "$a" | facts)" != "$(echo "$b" | facts)" ] ||
	   [ "$(echo "$a" | invs)" != "$(echo "$b" | invs)" ]; then
		bad="$bad $(basename "$d"): [$(echo "$a" | facts) $(echo "$a" | invs)] vs [$(echo "$b" | facts) $(echo "$b" | invs)]"
	fi
done
if [ $n -ge 4 ] && [ -z "$bad" ]; then
	pass tracedat-same-verdict-events-coverage-as-tsmtrace-record
else
	fail tracedat-same-verdict-events-coverage-as-tsmtrace-record "$n pairs;$bad"
fi
events_of() { grep '"type":"event"' | sed -E 's/"ts":[0-9]+,//'; }
bad= n=0
for d in "$TR"/tc73-*.dat; do
	t=${d%.dat}.tsm
	[ -f "$t" ] || continue
	"$B" -j report --state-known "$d" | events_of >"$T/ev.dat"
	"$B" -j report "$t" | events_of >"$T/ev.tsm"
	n=$((n + $(wc -l <"$T/ev.tsm")))
	cmp -s "$T/ev.dat" "$T/ev.tsm" || bad="$bad $(basename "$d"):[$(diff "$T/ev.tsm" "$T/ev.dat" | head -n 4 | tr '\n' ' ')]"
done
if [ $n -ge 80 ] && [ -z "$bad" ]; then
	pass tracedat-same-events-as-tsmtrace-record
else
	fail tracedat-same-events-as-tsmtrace-record "$n events;$bad"
fi
out=$("$B" check --state-known "$TR/tc73-good-flow.dat")
js=$("$B" -j check --state-known "$TR/tc73-good-flow.dat" | grep '"type":"verdict"')
if echo "$out" | grep -q 'tc73-good-flow.dat: PASS: 0 violation(s), 27 records, 27 events, 0 lost' &&
   echo "$out" | grep -q 'trace-cmd trace.dat (file version 7), read as event schema' &&
   echo "$js" | grep -q '"kernel_checked":false' &&
   echo "$js" | grep -q '"coverage":{"full":false,"observed":14,"events":16,"unobserved":\["vfio_pci_bar_map","vfio_pci_bar_zap"\],.*"unchecked":\["TSM-I9"\]'; then
	pass tracedat-check-pass
else
	fail tracedat-check-pass "$out $js"
fi
out=$("$B" check "$TR/tc73-good-flow.dat"); r=$?
js=$("$B" -j check "$TR/tc73-good-flow.dat" | grep '"type":"verdict"')
if [ $r = 2 ] && echo "$out" | grep -q 'INCOMPLETE' && echo "$out" | grep -q 'state unknown at start' &&
   echo "$js" | grep -q '"incomplete":\["start_unknown"\]'; then
	pass tracedat-without-state-known-not-a-pass
else
	fail tracedat-without-state-known-not-a-pass "exit $r: $out"
fi
# the file of file version 6, uncompressed, and standard input
out=$("$B" check --state-known - <"$TR/tc73-tdi-error.dat"); r=$?
out2=$(cat "$TR/tc73-tdi-error.dat" | "$B" check --state-known -); r2=$?
if [ $r = 0 ] && [ $r2 = 0 ] && echo "$out" | grep -q '^-: PASS: .* 23 events, 0 lost' &&
   echo "$out" | grep -q 'file version 6' && [ "$out" = "$out2" ]; then
	pass tracedat-version-6-and-stdin
else
	fail tracedat-version-6-and-stdin "exit $r $r2: $out $out2"
fi
# the coverage of a trace.dat recorded without the KVM slot events
out=$("$B" check --state-known "$TR/tc73-good-flow-no-kvm.dat"); r=$?
if [ $r = 0 ] && echo "$out" | grep -q 'coverage: 12 of 16 events observed; not observed: kvm_dmabuf_slot_bind kvm_dmabuf_slot_unbind vfio_pci_bar_map vfio_pci_bar_zap' &&
   echo "$out" | grep -q 'KVM memslot mappings are unknown' && echo "$out" | grep -q 'not checked: TSM-I4 TSM-I9$' &&
   [ "$("$B" check --state-known --require-coverage "$TR/tc73-good-flow-no-kvm.dat" >/dev/null; echo $?)" = 2 ]; then
	pass tracedat-without-kvm-events-coverage-gap
else
	fail tracedat-without-kvm-events-coverage-gap "exit $r: $out"
fi
# stacks: ftrace's kernel_stack after each event (-T) is the stack of its
# violation, named from the file's kallsyms; report tells the story
out=$("$B" check --state-known "$TR/tc73-broken-revoke.dat")
js=$("$B" -j check --state-known "$TR/tc73-broken-revoke.dat" | grep '"invariant":"TSM-I5"')
st=$("$B" report --state-known --violation 1 "$TR/tc73-broken-revoke.dat"); r=$?
if echo "$out" | grep -qE '^ +0xffffffff8[0-9a-f]+ vfio_pci_dma_buf_tsm_revoke\+0x[0-9a-f]+$' &&
   echo "$out" | grep -qE '^ +0xffffffff8[0-9a-f]+ pci_tsm_bind\+0x' && ! echo "$out" | grep -q 'not captured' &&
   echo "$js" | grep -q '"stack":\["0xffffffff8' && [ $r = 0 ] &&
   echo "$st" | grep -q '^!! seq 6 .* vfio_dmabuf_revoke buf=4 .* reason=BIND$' &&
   echo "$st" | grep -q 'violation #1 TSM-I5' && echo "$st" | grep -q 'vfio_pci_dma_buf_tsm_revoke+0x'; then
	pass tracedat-stacks-of-violations-named
else
	fail tracedat-stacks-of-violations-named "exit $r: $(echo "$out" | head -c 1500) $st"
fi
out=$("$B" check --state-known "$TR/tc73-good-flow.dat" "$TR/tc73-broken-revoke.dat" 2>&1); r=$?
[ $r = 1 ] && pass tracedat-with-others-worst-exit || fail tracedat-with-others-worst-exit "exit $r: $out"
# lost events: a page of the ring buffer with missed events is a loss
# before its first event, of the count the page stores (or 1, said); the
# events of the other CPUs while it lost them are set aside, counted with
# it: never a violation judged over a state that may lack the lost events.
# A recording that lost events in the lab (tc73-lost.dat), and copies of
# the version 6 recording with the flags of a page's header set here
missed() {	# IN OUT CPU COUNT: COUNT events (0: not how many) lost before the CPU's first page
	"$PY3" - "$@" <<'PYEOF'
import struct, sys
src, dst, cpu, count = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
d = bytearray(open(src, "rb").read())
i = d.index(b"flyrecord\0") + 10
off, size = struct.unpack_from("<QQ", d, i + 16 * cpu)
commit, = struct.unpack_from("<Q", d, off + 8)
length = commit & ((1 << 27) - 1)
flags = 1 << 31			# the kernel's RB_MISSED_EVENTS
if count:
    flags |= 1 << 30		# RB_MISSED_STORED: the count after the data
    struct.pack_into("<Q", d, off + 16 + length, count)
struct.pack_into("<Q", d, off + 8, length | flags)
open(dst, "wb").write(d)
PYEOF
}
PY3=/usr/bin/python3; [ -x "$PY3" ] || PY3=python3
out=$("$B" check --state-known "$TR/tc73-lost.dat" 2>"$T/err"); r=$?
js=$("$B" -j check --state-known "$TR/tc73-lost.dat" 2>/dev/null | grep '"type":"verdict"')
if [ $r = 2 ] && echo "$out" | grep -q 'tc73-lost.dat: INCOMPLETE: 0 violation(s), 357 records, 356 events, 916 lost' &&
   echo "$out" | grep -q 'seq 1 lost: 916 event(s) lost (the ring buffer was full)' &&
   echo "$js" | grep -q '"lost":916,' && echo "$js" | grep -q '"incomplete":\["lost"\]' &&
   grep -q 'tc73-lost.dat: 40 event(s) that other CPUs recorded while one lost events are set aside' "$T/err"; then
	pass tracedat-lab-recording-lost-events-incomplete
else
	fail tracedat-lab-recording-lost-events-incomplete "exit $r: $out $js $(cat "$T/err")"
fi
if missed "$TR/tc73-tdi-error.dat" "$T/lost5.dat" 1 5 && missed "$TR/tc73-tdi-error.dat" "$T/lost1.dat" 0 0; then
	out=$("$B" check --state-known "$T/lost5.dat"); r=$?
	js=$("$B" -j check --state-known "$T/lost5.dat" | grep '"type":"verdict"')
	out1=$("$B" check --state-known "$T/lost1.dat" 2>"$T/err"); r1=$?
	if [ $r = 2 ] && echo "$out" | grep -q 'INCOMPLETE: 0 violation(s), 24 records, 23 events, 5 lost' &&
	   echo "$out" | grep -q '5 event(s) lost (the ring buffer was full)' &&
	   echo "$js" | grep -q '"lost":5,' && echo "$js" | grep -q '"incomplete":\["lost"\]' &&
	   [ $r1 = 2 ] && echo "$out1" | grep -q 'INCOMPLETE: 0 violation(s), 11 records, 10 events, 14 lost' &&
	   grep -qF 'lost1.dat: 1 page(s) of the ring buffer lost events without saying how many' "$T/err" &&
	   grep -qF '13 event(s) that other CPUs recorded while one lost events are set aside' "$T/err"; then
		pass tracedat-lost-events-incomplete-with-count
	else
		fail tracedat-lost-events-incomplete-with-count "exit $r $r1: $out $js $out1 $(cat "$T/err")"
	fi
else
	fail tracedat-lost-events-incomplete-with-count "could not make the files"
fi
# refused, exit 3, with the reason: cut short (in its headers, in its CPU
# data: libtracecmd says so), not a trace.dat, none of the series' events,
# a tracepoint whose format lacks a field of the contract
bad=
for cut in tc73-good-flow.dat:100 tc73-good-flow.dat:4000 tc73-good-flow.dat:12500 \
	   tc73-tdi-error.dat:20000 tc73-tdi-error.dat:30000 tc73-tdi-error.dat:36863 \
	   tc73-broken-revoke.dat:10 tc73-broken-revoke.dat:11; do
	head -c "${cut#*:}" "$TR/${cut%:*}" >"$T/cut.dat"
	err=$("$B" check --state-known "$T/cut.dat" 2>&1 >/dev/null); r=$?
	js=$("$B" -j check --state-known "$T/cut.dat" 2>/dev/null)
	case ${cut#*:} in
	10|11) want='cut short' ;;
	30000) want='libtracecmd cannot read (libtracecmd: File possibly truncated. Need at least 32768, but file size is 30000.)' ;;
	*) want='libtracecmd cannot read' ;;
	esac
	{ [ $r = 3 ] && echo "$err" | grep -qF "$T/cut.dat: " && echo "$err" | grep -qF "$want" &&
	  echo "$js" | grep -q '^{"type":"error".*"verdict":"UNUSABLE"'; } || bad="$bad $cut:[exit $r $err]"
done
printf '\x17\x08\x44tracinX6\0' >"$T/near.dat"
err=$("$B" check "$T/near.dat" 2>&1); r=$?
echo "$err" | grep -q 'starts like a trace-cmd trace.dat, but is not one' && [ $r = 3 ] || bad="$bad near:[$r $err]"
echo 'not a trace at all' >"$T/foreign.dat"
err=$("$B" check "$T/foreign.dat" 2>&1); r=$?
echo "$err" | grep -q 'not a tsmtrace trace file .*nor a trace-cmd trace.dat' && [ $r = 3 ] || bad="$bad foreign:[$r $err]"
err=$("$B" check --state-known "$TR/tc73-no-series-events.dat" 2>&1); r=$?
echo "$err" | grep -q 'holds none of the device layout events of docs/tracepoints.md' && [ $r = 3 ] || bad="$bad none:[$r $err]"
"$PY3" -c 'import sys; d = open(sys.argv[1], "rb").read(); open(sys.argv[2], "wb").write(d.replace(b"field:u64 npfns;", b"field:u64 npfnz;"))' \
	"$TR/tc73-tdi-error.dat" "$T/nofield.dat"
err=$("$B" check --state-known "$T/nofield.dat" 2>&1); r=$?
echo "$err" | grep -q "event pci_tsm:pci_tsm_range of the trace.dat has no field 'npfns'" && [ $r = 3 ] || bad="$bad field:[$r $err]"
err=$("$B" report --state-known "$T/nofield.dat" 2>&1); r=$?
echo "$err" | grep -q "has no field 'npfns'" && [ $r = 3 ] || bad="$bad report-field:[$r $err]"
if [ -z "$bad" ]; then
	pass tracedat-unusable-refused-with-reason
else
	fail tracedat-unusable-refused-with-reason "$bad"
fi
# damaged bytes anywhere in a trace.dat: never a crash (exit 0 to 3)
bad=
for seed in 1 2 3 4 5 6 7 8; do
	"$PY3" -c 'import random, sys
d = bytearray(open(sys.argv[1], "rb").read()); random.seed(int(sys.argv[3]))
for _ in range(random.randint(1, 8)):
    d[random.randrange(len(d))] = random.randrange(256)
open(sys.argv[2], "wb").write(d)' "$TR/tc73-tdi-error.dat" "$T/dmg.dat" $seed
	"$B" check --state-known "$T/dmg.dat" >/dev/null 2>&1; r=$?
	[ $r -le 3 ] || bad="$bad seed$seed:exit$r"
done
[ -z "$bad" ] && pass tracedat-damage-never-crashes || fail tracedat-damage-never-crashes "$bad"
# the build needs libtracecmd and libtraceevent, and says so
out=$(make --no-print-directory -C "$ROOT/tools/tsmtrace" OUT="$T/nopc" PKG_CONFIG=false all 2>&1); r=$?
if [ $r != 0 ] && echo "$out" | grep -q 'pkg-config finds no libtracecmd libtraceevent' &&
   echo "$out" | grep -q 'install libtracecmd-dev and libtraceevent-dev'; then
	pass build-says-libtracecmd-missing
else
	fail build-says-libtracecmd-missing "exit $r: $out"
fi

# ---- JSON that tools accept: every JSON output of this suite against the
# schema of docs/tsmtrace-report.schema.json. First the outputs the cases
# above did not ask for in JSON: every trace through check and report (each
# violation's story too), damaged and foreign files, usage errors.
for f in "$TR"/*.tsm; do
	"$B" -j check "$f" >/dev/null 2>&1
	"$B" -j report "$f" >/dev/null 2>&1
	nv=$("$OUT/tsmtrace" check "$f" 2>/dev/null | sed -n 's/^[^:]*: [A-Z]*: \([0-9]*\) violation.*/\1/p')
	for ((n = 1; n <= ${nv:-0}; n++)); do
		"$B" -j report "$f" --violation $n >/dev/null 2>&1
	done
done
"$B" -j report "$TR/good-two-devices.tsm" --device 0000:02:00.0 >/dev/null 2>&1
"$B" -j report "$TR/good-flow.tsm" --pfn 0x4010005 >/dev/null 2>&1
f=$TR/bind-ioas-left-mapped.tsm
for n in 0 100 272 400 $(( $(stat -c %s "$f") - 40 )); do
	head -c $n "$f" >"$T/cut-$n.tsm"
	"$B" -j check "$T/cut-$n.tsm" >/dev/null 2>&1
	"$B" -j report "$T/cut-$n.tsm" >/dev/null 2>&1
done
for bad in bad foreign empty swapped v2 ioas-wrap; do
	[ -f "$T/$bad.tsm" ] && "$B" -j report "$T/$bad.tsm" >/dev/null 2>&1
	[ -f "$T/$bad.tsm" ] && "$B" -j check "$T/$bad.tsm" "$TR/good-flow.tsm" >/dev/null 2>&1
done
"$B" -j check "$T/foreign.txt" "$T" "$T/nonexistent.tsm" >/dev/null 2>&1
"$B" -j check >/dev/null 2>&1
"$B" -j check --bogus "$TR/good-flow.tsm" >/dev/null 2>&1
"$B" check --max-violations 0 -j "$TR/good-flow.tsm" >/dev/null 2>&1
"$B" -j check --symbols "$T/nonexistent" "$TR/good-flow.tsm" >/dev/null 2>&1
"$B" -j check --summary "$T/nodir/sum.json" "$TR/good-flow.tsm" >/dev/null 2>&1
"$B" -j report "$TR/good-flow.tsm" --device nonsense >/dev/null 2>&1
"$B" -j report "$TR/good-flow.tsm" --violation 3 >/dev/null 2>&1
"$B" -j report "$T/nonexistent.tsm" >/dev/null 2>&1
"$B" -j live --device nonsense >/dev/null 2>&1
"$B" -j record >/dev/null 2>&1
TSMTRACE_BTF=$T/nobtf "$B" -j record -o "$T/rec.tsm" >/dev/null 2>&1
"$OUT/tsmgen" --case non-utf8-host "$T/non-utf8.tsm" >/dev/null
"$B" -j report "$T/non-utf8.tsm" >/dev/null 2>&1
js=$("$B" -j check "$T/non-utf8.tsm" 2>&1 | tail -n 1)
if echo "$js" | grep -qF '"host":"h\ufffdst-\ufffd\ufffd\"q\\\u0001\ufffd"'; then
	pass json-header-bytes-not-utf8-replaced
else
	fail json-header-bytes-not-utf8-replaced "$js"
fi

# the checker itself refuses what breaks the rules (so the test can fail)
PY=
for p in /usr/bin/python3 python3; do
	"$p" -c 'import jsonschema' 2>/dev/null && { PY=$p; break; }
done
CHK=$ROOT/tests/host/json-check.py
SCHEMA=$ROOT/docs/tsmtrace-report.schema.json
if [ -z "$PY" ]; then
	fail json-schema-every-output "no python3 with jsonschema (python3-jsonschema: make deps)"
else
	mkdir -p "$T/badjson"
	good=$("$OUT/tsmtrace" -j check "$TR/private-in-ioas.tsm" | tail -n 1)
	echo "$good" | sed 's/"records":/"violations":0,"records":/' >"$T/badjson/repeated-key.lines"
	echo "$good" | sed 's/"records":\([0-9]*\)/"records":"\1"/' >"$T/badjson/number-as-string.lines"
	echo "$good" | sed 's/"host":"tsmgen"/"host":"ts\xffgen"/' >"$T/badjson/not-utf8.lines"
	"$OUT/tsmtrace" -j report "$TR/good-flow.tsm" | head -n 3 >"$T/badjson/no-verdict.lines"
	"$OUT/tsmtrace" -j report "$TR/good-flow.tsm" | sed '1s/"pfn":"0x\([0-9a-f]*\)"/"pfn":\1/' >"$T/badjson/hex-as-number.lines"
	echo "$good" | sed 's/"verdict":"VIOLATION"/"verdict":"MAYBE"/' >"$T/badjson/unknown-verdict.lines"
	bad=
	for b in "$T"/badjson/*.lines; do
		"$PY" "$CHK" "$SCHEMA" "$b" >/dev/null 2>&1 && bad="$bad $(basename "$b")"
	done
	echo "$good" >"$T/badjson/good.lines"
	"$PY" "$CHK" "$SCHEMA" "$T/badjson/good.lines" >/dev/null 2>&1 || bad="$bad good-refused"
	[ -z "$bad" ] && pass json-schema-check-refuses-bad-output || fail json-schema-check-refuses-bad-output "accepted:$bad"

	outs=$(find "$JS" -name '*.lines' -o -name '*.summary' -o -name '*.tail' | sort)
	n=$(echo "$outs" | grep -c .)
	# shellcheck disable=SC2086
	if out=$("$PY" "$CHK" "$SCHEMA" $outs 2>&1) && [ "$n" -gt 100 ]; then
		pass json-schema-every-output
		echo "NOTE: $(echo "$out" | tail -n 1) (every JSON output of this suite)"
	else
		for l in $(echo "$out" | sed -n 's|^\([^:]*\.[a-z]*\): .*|\1|p' | head -n 5); do
			echo "  from: tsmtrace $(cat "${l%.*}.args")"
		done
		fail json-schema-every-output "$n outputs: $(echo "$out" | head -n 5 | tr '\n' ' ')"
	fi
fi

# ---- the BPF programs: CO-RE objects and a skeleton the tool can include
if command -v clang >/dev/null && command -v bpftool >/dev/null; then
	if out=$(make --no-print-directory -C "$ROOT/tools/tsmtrace" OUT="$OUT" bpf 2>&1) &&
	   printf '#include <stdbool.h>\n#include "tsmtrace.skel.h"\nint main(void){struct tsmtrace_bpf *s = tsmtrace_bpf__open(); tsmtrace_bpf__destroy(s); return 0;}\n' >"$T/skel.c" &&
	   out=$(gcc -Wall -Werror -I"$OUT/bpf" "$T/skel.c" -o "$T/skel" -lbpf 2>&1); then
		n=$(llvm-objdump -h "$OUT/bpf/tsmtrace.bpf.o" 2>/dev/null | grep -c ' tp_btf/')
		if [ "$n" = 17 ]; then
			pass bpf-compiles-one-program-per-event
		else
			fail bpf-compiles-one-program-per-event "$n tp_btf programs, expected 17"
		fi
	else
		fail bpf-compiles-one-program-per-event "$(echo "$out" | tail -n 5 | tr '\n' ' ')"
	fi
else
	skip bpf-compiles-one-program-per-event "clang or bpftool missing (make deps)"
fi

exit $rc
