# Shell functions of the VM suites that run tsmtrace (sourced): a tracer in
# the background, a program under 'tsmtrace live', and the differential test
# (check of the recorded file says what live said). The caller sets B (the
# tsmtrace binary), T (a scratch directory) and defines pass and fail.

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

stop_tracer() {
	sleep 0.5
	kill -INT "$1"
	wait "$1"
}

# the violation and verdict lines, without what only a file has
verdict_lines() {
	grep -E '"type":"(violation|verdict)"' "$1" |
		sed -E 's/,"file":"[^"]*"//; s/,"kernel":"[^"]*","host":"[^"]*"//'
}

# under_live NAME ENV CMD...: CMD under live --json -o $T/NAME.tsm
under_live() {
	name=$1 lenv=$2; shift 2
	# shellcheck disable=SC2086
	if ! start_tracer "$T/$name" env $lenv "$B" live --json --state-known -o "$T/$name.tsm"; then
		fail "live-$name" "live did not start"
		return 1
	fi
	"$@" >"$T/$name.flow" 2>&1
	frc=$?
	stop_tracer $tracer
	lrc=$?
	if [ $frc -ne 0 ] || [ $lrc -ne 0 ]; then
		fail "live-$name" "$1 exit $frc, live exit $lrc: $(tail -n 3 "$T/$name.flow" "$T/$name.err" | tr '\n' ' ')"
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

