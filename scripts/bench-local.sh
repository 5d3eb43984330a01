#!/usr/bin/env bash
# bench-local: build agenda, start a local 1-node and then a 3-node cluster
# as separate processes on 127.0.0.x loopback addresses with temp data dirs,
# run the standard `agenda bench` scenarios against each, and print one JSON
# line per run on stdout (progress and human summaries go to stderr). Every
# process it starts is stopped on exit, Ctrl-C included.
#
# Tunables (environment):
#   BENCH_DURATION  how long each run measures            (default 10s)
#   BENCH_SEED      appointments stored for the read runs  (default 5000)
#   BENCH_SUBS      WebSocket subscribers of the ws runs   (default 200)
#   BENCH_PORT      first HTTP port; Raft ports are 1000 below (default 18080)
#   BENCH_OUT       also append the JSON lines to this file
#
# Setup is not measured, so the nodes hash passwords with bcrypt cost 4 and
# registration/login rate limits are off: a run registers up to a few
# hundred users from one address.
set -euo pipefail

cd "$(dirname "$0")/.."
DUR=${BENCH_DURATION:-10s}
SEED=${BENCH_SEED:-5000}
SUBS=${BENCH_SUBS:-200}
PORT=${BENCH_PORT:-18080}
OUT=${BENCH_OUT:-}

command -v curl >/dev/null || { echo "bench-local: curl is needed to find the leader" >&2; exit 2; }

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

echo "bench-local: building agenda into $work" >&2
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
			[ "$i" = 300 ] && { echo "bench-local: $a not ready after 30s; its log:" >&2; cat "$work"/*/log >&2; exit 1; }
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
	echo "bench-local: no leader among $*" >&2
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
		echo "bench-local: run \"$label\" failed (see above)" >&2
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

one=127.0.0.30:$PORT
echo "bench-local: 1 node at $one" >&2
start_node n1 127.0.0.30 "" 0
wait_ready "$one"
bench "1 node, create, 1 client" -nodes "$one" -scenario create -c 1
bench "1 node, create, 16 clients" -nodes "$one" -scenario create -c 16
bench "1 node, create, 64 clients" -nodes "$one" -scenario create -c 64
bench "1 node, group of 6, 16 clients" -nodes "$one" -scenario group -c 16 -members 5
bench "1 node, read one week, $SEED stored, 16 clients" -nodes "$one" -scenario read -c 16 -seed "$SEED"
bench "1 node, mixed 80/20, 16 clients" -nodes "$one" -scenario mixed -c 16 -seed "$SEED" -read-pct 80
bench "1 node, ws, $SUBS subscribers, 16 writers" -nodes "$one" -scenario ws -c 16 -subscribers "$SUBS"
disk_usage
stop_nodes
rm -rf "$work"/n1

a1=127.0.0.31:$PORT a2=127.0.0.32:$PORT a3=127.0.0.33:$PORT
all="$a1,$a2,$a3"
echo "bench-local: 3 nodes at $all" >&2
start_node n1 127.0.0.31 "$all" 3
start_node n2 127.0.0.32 "$all" 3
start_node n3 127.0.0.33 "$all" 3
wait_ready "$a1" "$a2" "$a3"
lead=$(leader "$a1" "$a2" "$a3")
follower=$a1
[ "$lead" != "$a1" ] || follower=$a2
echo "bench-local: leader $lead, follower $follower" >&2
bench "3 nodes, create, 1 client on the leader" -nodes "$lead" -scenario create -c 1
bench "3 nodes, create, 1 client on a follower" -nodes "$follower" -scenario create -c 1
bench "3 nodes, create, 16 clients over all" -nodes "http://$a1,http://$a2,http://$a3" -scenario create -c 16
bench "3 nodes, create, 64 clients over all" -nodes "http://$a1,http://$a2,http://$a3" -scenario create -c 64
bench "3 nodes, read one week, $SEED stored, 16 clients over all" -nodes "http://$a1,http://$a2,http://$a3" -scenario read -c 16 -seed "$SEED"
bench "3 nodes, ws, $SUBS subscribers over all, 16 writers" -nodes "http://$a1,http://$a2,http://$a3" -scenario ws -c 16 -subscribers "$SUBS"
disk_usage
