# Shell functions of the VM suites that run tsmtrace (sourced): a tracer in
# the background, a program under 'tsmtrace live', and the differential test
# (check of the recorded file says what live said), a recording's verdict
# against tests/traces/expected. The caller sets B (the tsmtrace binary), T
# (a scratch directory), TR (tests/traces) and defines pass and fail.

# start CMD... in the background, wait until it traces; its pid in $tracer
start_tracer() {
	log=$1; shift
	"$@" >"$log.out" 2>"$log.err" &
	tracer=$!
	i=0
	while ! grep -q 'tracing' "$log.err"; do
		i=$((i + 1))
		if [ $i -gt 600 ] || ! kill -0 $tracer 2>/dev/null; then
			cat "$log.err"
			return 1
		fi
		sleep 0.2
	done
}

# the kernel stacks of every thread of PID, as NOTE lines: where it hangs
stacks_of() {
	for t in /proc/"$1"/task/*; do
		echo "NOTE: thread ${t##*/} of pid $1 ($(cat "$t/comm" 2>/dev/null)):"
		sed 's/^/NOTE:   /' "$t/stack" 2>/dev/null
	done
}

# is PID running (not gone, not a zombie waiting for wait)?
running() {
	[ -e "/proc/$1" ] && ! grep -q '^State:[[:space:]]*Z' "/proc/$1/status" 2>/dev/null
}

# bounded PID SECONDS: wait for PID at most SECONDS of wall-clock time (a
# count of sleeps would stretch with the cost of each check on an emulated
# CPU); one that is still running then is named with its kernel stacks and
# killed (status 137)
bounded() {
	end=$(($(date +%s) + $2))
	while running "$1" && [ "$(date +%s)" -lt $end ]; do
		sleep 0.2
	done
	if running "$1"; then
		echo "NOTE: pid $1 still running after $2 s; its kernel stacks follow"
		stacks_of "$1"
		kill -KILL "$1"
	fi
	wait "$1"
}

stop_tracer() {
	sleep 0.5
	kill -INT "$1"
	bounded "$1" 60
}

# the violation and verdict lines, without what only a file has
verdict_lines() {
	grep -E '"type":"(violation|verdict)"' "$1" |
		sed -E 's/,"file":"[^"]*"//; s/,"kernel":"[^"]*","host":"[^"]*"//'
}

# under_live NAME ENV CMD...: CMD under live --json -o $T/NAME.tsm (and the
# options in $LIVE_ARGS)
under_live() {
	name=$1 lenv=$2; shift 2
	# shellcheck disable=SC2086
	if ! start_tracer "$T/$name" env $lenv "$B" live --json --state-known ${LIVE_ARGS:-} \
			-o "$T/$name.tsm"; then
		fail "live-$name" "live did not start"
		return 1
	fi
	# a flow that hangs is named with its stacks, not waited for; its
	# progress is copied to the run directory as it goes, where scripts/vm.sh
	# shows it should the VM time out
	"$@" >"$T/$name.flow" 2>&1 &
	fpid=$!
	ppid=
	if [ -n "${tsmrun:-}" ]; then
		tail -n +1 -f --pid=$fpid "$T/$name.flow" >"$tsmrun/progress.$name" 2>/dev/null &
		ppid=$!
	fi
	bounded $fpid "${TSM_FLOW_SECONDS:-1200}"
	frc=$?
	[ -n "$ppid" ] && { kill $ppid 2>/dev/null; wait $ppid 2>/dev/null; }
	stop_tracer $tracer
	lrc=$?
	if [ $frc -ne 0 ] || [ $lrc -ne 0 ]; then
		fail "live-$name" "$1 exit $frc, live exit $lrc: $( { grep -m 5 '^FAIL' "$T/$name.flow"; tail -n 3 "$T/$name.flow" "$T/$name.err"; } | tr '\n' ' ')"
		return 1
	fi
	[ -n "${tsmrun:-}" ] && cp "$T/$name.tsm" "$tsmrun/" 2>/dev/null
	return 0
}

# the differential test: check of the file says what live said
differential() {
	name=$1
	verdict_lines "$T/$name.out" >"$T/$name.live"
	"$B" -j check "$T/$name.tsm" >"$T/$name.check"
	verdict_lines "$T/$name.check" >"$T/$name.offline"
	if [ -s "$T/$name.live" ] && cmp -s "$T/$name.live" "$T/$name.offline"; then
		pass "differential-live-vs-check-$name"
	else
		fail "differential-live-vs-check-$name" "live: $(cat "$T/$name.live") check: $(cat "$T/$name.offline")"
	fi
}

verdict_of() { grep '"type":"verdict"' "$1" | sed -E 's/.*"verdict":"([A-Z]+)".*/\1/'; }

# the verdict and invariants of tests/traces/expected for a committed trace
expected_of() { sed -n "s/^$1 *[0-9] *//p" "$TR/expected"; }
found_of() {	# VERDICT INV... of a check -j output
	printf '%s' "$(verdict_of "$1")"
	grep '"type":"violation"' "$1" | sed -E 's/.*"invariant":"(TSM-I[0-9]+)".*/ \1/' | tr -d '\n'
	echo
}
same_as_committed() {
	name=$1 trace=$2
	want=$(expected_of "$trace" | sed 's/ *$//')
	got=$(found_of "$T/$name.check")
	if [ -f "$TR/$trace" ] && [ "$want" = "$got" ] &&
	   [ "$("$B" -j check "$TR/$trace" | verdict_of -)" = "${want%% *}" ]; then
		pass "rerecorded-$name-same-verdict-as-$trace"
	else
		fail "rerecorded-$name-same-verdict-as-$trace" "now '$got', expected '$want'"
	fi
}

# without_kvm_events EVENT... -- CMD...: CMD under live with a BTF name list
# of just the EVENTs (a kernel without the KVM slot events): PASS, the
# coverage says TSM-I4 was not checked, live says so once, and so does the
# recorded file's header
without_kvm_events() {
	for e in "$@"; do
		[ "$e" = -- ] && break
		printf 'btf_trace_%s\0' "$e"
	done >"$T/nokvm.btf"
	while [ "$1" != -- ]; do shift; done
	shift
	under_live good-no-kvm TSMTRACE_BTF="$T/nokvm.btf" "$@" || return
	js=$(grep '"type":"verdict"' "$T/good-no-kvm.out")
	if [ "$(verdict_of "$T/good-no-kvm.out")" = PASS ] &&
	   echo "$js" | grep -q '"coverage":{"full":false,"observed":14,"events":16,"unobserved":\["kvm_dmabuf_slot_bind","kvm_dmabuf_slot_unbind"\],.*"unchecked":\["TSM-I4"\]' &&
	   [ "$(grep -c 'lacks 2 of 16 events' "$T/good-no-kvm.err")" = 1 ]; then
		pass live-without-kvm-events-pass-with-coverage
	else
		fail live-without-kvm-events-pass-with-coverage "$js $(cat "$T/good-no-kvm.err")"
	fi
	differential good-no-kvm
	if "$B" check "$T/good-no-kvm.tsm" | grep -q 'coverage: 14 of 16 events observed'; then
		pass record-without-kvm-events-header-says-so
	else
		fail record-without-kvm-events-header-says-so "$("$B" check "$T/good-no-kvm.tsm")"
	fi
}
