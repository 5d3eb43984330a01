#!/usr/bin/env bash
# bench-scale: the README's scale figures. For each cluster size (1, 3 and 5
# nodes by default) it starts a fresh local cluster as processes on
# 127.0.0.41–45 with temp data dirs, runs `agenda bench` creates at 1, 16, 64
# and 256 clients spread over every node, then group appointments imposed on
# a 200-member group, stops the nodes cleanly and reports what each keeps on
# disk per appointment. One labelled JSON line per run on stdout (progress
# and human summaries on stderr); every node started is stopped on exit,
# Ctrl-C included.
#
# Tunables (environment):
#   SCALE_NODES     cluster sizes                         (default "1 3 5")
#   SCALE_CLIENTS   create concurrencies                  (default "1 16 64 256")
#   SCALE_GROUP     members of the group scenario's group (default 200)
#   BENCH_DURATION  how long each run measures            (default 10s)
#   BENCH_PORT      first HTTP port; Raft ports are 1000 below (default 18080)
#   BENCH_OUT       also append the JSON lines to this file
set -euo pipefail

cd "$(dirname "$0")/.."
DUR=${BENCH_DURATION:-10s}
PORT=${BENCH_PORT:-18080}
OUT=${BENCH_OUT:-}
SIZES=${SCALE_NODES:-1 3 5}
CLIENTS=${SCALE_CLIENTS:-1 16 64 256}
GROUP=${SCALE_GROUP:-200}

me=bench-scale
# shellcheck source=scripts/bench-lib.sh
source scripts/bench-lib.sh

# ops_of LINE: the operation count of one JSON line from bench (0 if none:
# a run that failed prints no line).
ops_of() {
	local n
	n=$(grep -o '"ops":[0-9]*' <<<"$1" | head -1 | cut -d: -f2)
	echo "${n:-0}"
}

# emit LINE: a JSON line of this script's own, on stdout and to $OUT.
emit() {
	echo "$1"
	[ -z "$OUT" ] || echo "$1" >>"$OUT"
}

for n in $SIZES; do
	addrs=()
	for i in $(seq "$n"); do addrs+=("127.0.0.4$i:$PORT"); done
	seeds=$(IFS=,; echo "${addrs[*]}")
	expect=$n
	[ "$n" -gt 1 ] || { seeds=""; expect=0; }
	echo "$me: $n node(s) at ${addrs[*]}" >&2
	for i in $(seq "$n"); do start_node "n$i" "127.0.0.4$i" "$seeds" "$expect"; done
	wait_ready "${addrs[@]}"
	urls=$(printf 'http://%s,' "${addrs[@]}")
	urls=${urls%,}
	appointments=0
	for c in $CLIENTS; do
		line=$(bench "$n nodes, create, $c clients" -nodes "$urls" -scenario create -c "$c")
		echo "$line"
		appointments=$((appointments + $(ops_of "$line")))
	done
	line=$(bench "$n nodes, group of $GROUP, 4 clients" -nodes "$urls" -scenario group -c 4 -members $((GROUP - 1)))
	echo "$line"
	appointments=$((appointments + $(ops_of "$line")))
	stop_nodes
	# What each node keeps after a clean stop, file by file.
	for i in $(seq "$n"); do
		dir="$work/n$i/data"
		total=$(du -sb "$dir" | cut -f1)
		parts=$(cd "$dir" && du -sb -- * 2>/dev/null | awk '{printf "%s\"%s\":%s", (NR>1?",":""), $2, $1}')
		emit "{\"run\":\"$n nodes, disk of n$i after a clean stop\",\"appointments\":$appointments,\"bytes\":$total,\"bytes_per_appointment\":$((total / (appointments > 0 ? appointments : 1))),\"files\":{$parts}}"
	done
	rm -rf "$work"/n*
done
