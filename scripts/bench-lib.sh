# bench-lib.sh: what the bench scripts share, sourced by bench-local.sh and
# bench-scale.sh (which set me, DUR, PORT and OUT first): a temp work dir,
# building the binary, starting and stopping local nodes on 127.0.0.x, and
# one labelled `agenda bench` run. Every process started is stopped on exit,
# Ctrl-C included.
#
# shellcheck shell=bash
work=$(mktemp -d "${TMPDIR:-/tmp}/agenda-bench.XXXXXX")
pids=()

# stop_nodes stops every node this script started (by PID) and waits for it.
stop_nodes() {
	local p
	for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
	for p in "${pids[@]}"; do
		for _ in $(seq 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
		kill -KILL "$p" 2>/dev/null || true
		wait "$p" 2>/dev/null || true
	done
	pids=()
}
bench_pid=
cleanup() {
	if [ -n "$bench_pid" ]; then
		kill -INT "$bench_pid" 2>/dev/null || true
		wait "$bench_pid" 2>/dev/null || true
	fi
	stop_nodes
	rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

echo "$me: building agenda into $work" >&2
go build -o "$work/agenda" ./cmd/agenda
AGENDA="$work/agenda"
secret=$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')
jwt=$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')

# start_node ID IP SEEDS EXPECT: one node at IP:$PORT (HTTP), IP:$PORT-1000 (Raft).
start_node() {
	local id=$1 ip=$2 seeds=$3 expect=$4
	local dir="$work/$id"
	mkdir -p "$dir"
	NODE_ID=$id HTTP_ADDR=$ip:$PORT RAFT_ADDR=$ip:$((PORT - 1000)) DATA_DIR="$dir/data" \
		BOOTSTRAP_EXPECT=$expect DISCOVERY_SEEDS=$seeds \
		CLUSTER_HMAC_SECRET=$secret JWT_SECRET=$jwt LOG_LEVEL=warn \
		RATE_LIMIT_REGISTER_ADDR=off RATE_LIMIT_LOGIN_ADDR=off \
		"$AGENDA" serve -bcrypt-cost 4 >"$dir/log" 2>&1 &
	pids+=($!)
}

# wait_ready HOST:PORT...: until every node answers /readyz (at most 30 s).
wait_ready() {
	local a
	for a in "$@"; do
		for i in $(seq 300); do
			"$AGENDA" healthcheck -addr "$a" -path /readyz >/dev/null 2>&1 && continue 2
			[ "$i" = 300 ] && { echo "$me: $a not ready after 30s; its log:" >&2; cat "$work"/*/log >&2; exit 1; }
			sleep 0.1
		done
	done
}

# leader HOST:PORT...: the HTTP address of the node that says it leads.
leader() {
	local a
	for a in "$@"; do
		if curl -fsS "http://$a/cluster/status" | grep -q '"state":"Leader"'; then
			echo "$a"
			return
		fi
	done
	echo "$me: no leader among $*" >&2
	exit 1
}

# bench LABEL ARGS...: one run; its JSON line on stdout, labelled.
bench() {
	local label=$1
	shift
	echo >&2
	echo "=== $label" >&2
	local line
	# In the background and waited for, so that a signal to this script
	# is handled at once (the trap stops the run, which still reports).
	"$AGENDA" bench -d "$DUR" "$@" >"$work/line" &
	bench_pid=$!
	if ! wait "$bench_pid"; then
		echo "$me: run \"$label\" failed (see above)" >&2
	fi
	bench_pid=
	line=$(cat "$work/line")
	[ -n "$line" ] || return 0
	line="{\"run\":\"$label\",${line#\{}"
	echo "$line"
	[ -z "$OUT" ] || echo "$line" >>"$OUT"
}

# disk_usage: what each running node keeps on disk, to stderr.
disk_usage() {
	echo >&2
	du -sh "$work"/n*/data >&2 || true
}

