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

me=bench-local
# shellcheck source=scripts/bench-lib.sh
source scripts/bench-lib.sh

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
