#!/usr/bin/env bash
# A crowded bridge, as a Docker host has one: N namespaces, each with a veth
# whose peer is a port of one bridge in a namespace of its own, all on one
# subnet. A healthy trace between the two in the middle (their ports come
# late to a walk over the ports in order), with their neighbour entries
# flushed as a fresh container's are (--count 3), as a whole
# process, ROUNDS times: the median wall time (goal 0.5 s at N=200 on a
# quiet machine), the largest peak RSS (goal 64 MiB) from /usr/bin/time -v,
# and, from one more run under strace, the AF_PACKET sockets it opened.
# With REV, nsdump as built from that git revision is measured too (before).
# Needs root. Creates only namespaces named n3c-*$$ and removes them.
# Usage: scripts/bench-crowd.sh [N] [ROUNDS] [REV]
set -euo pipefail
n=${1:-50}
rounds=${2:-5}
rev=${3:-}
(( n >= 2 && n <= 4000 )) || { echo "bench-crowd: N must be 2..4000" >&2; exit 2; }
cd "$(dirname "$0")/.."
dir=$(mktemp -d)
br=n3c-br$$
member() { echo "n3c-$$-$1"; }
addr() { echo "172.29.$(($1 / 250)).$(($1 % 250 + 1))"; }
# Whatever ends the script (an error, ^C, a kill by PID), cleanup removes
# every namespace it made: it lists them rather than counting to N, so a
# run stopped while building the bridge leaves none either, and it ignores
# a second ^C while it runs. (Only SIGKILL escapes it; then
# `ip netns list | grep n3c-` shows what to delete.)
cleanup() {
	trap '' INT TERM HUP
	local ns
	for ns in $(ip netns list | awk '{print $1}' | grep -E "^(n3c-$$-[0-9]+|$br)\$" || true); do
		ip netns del "$ns" 2>/dev/null || true
	done
	rm -rf "$dir"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'exit 129' HUP
go build -o "$dir/after" ./cmd/nsdump
bins=(after)
if [ -n "$rev" ]; then
	mkdir "$dir/src"
	git archive "$rev" | tar -x -C "$dir/src"
	(cd "$dir/src" && go build -o "$dir/before" ./cmd/nsdump)
	bins=(before after)
fi

ip netns add "$br"
ip -n "$br" link set lo up
ip -n "$br" link add br0 type bridge
ip -n "$br" link set br0 up
for ((i = 1; i <= n; i++)); do
	m=$(member "$i")
	ip netns add "$m"
	ip -n "$br" link add "p$i" type veth peer name eth0 netns "$m"
	ip -n "$br" link set "p$i" master br0 up
	ip -n "$m" addr add "$(addr "$i")/16" dev eth0
	ip -n "$m" link set eth0 up
	ip -n "$m" link set lo up
done
a=$(member $((n / 2))) b=$(member $((n / 2 + 1)))
# The bridge's ports forward only once they are up and learning; one ping
# through makes sure before any timing.
ip netns exec "$a" ping -c1 -W5 "$(addr $((n / 2 + 1)))" >/dev/null

median() { sort -n | awk '{a[NR]=$1} END {if (NR%2) print a[(NR+1)/2]; else print int((a[NR/2]+a[NR/2+1])/2)}'; }
# Rounds alternate between the builds, so that a load that comes and goes
# weighs on both alike.
declare -A wall rss
for ((r = 0; r < rounds; r++)); do
	for bin in "${bins[@]}"; do
		# Neighbour entries from the run before would spare the next its ARP.
		ip -n "$a" neigh flush dev eth0; ip -n "$b" neigh flush dev eth0
		t0=$EPOCHREALTIME
		/usr/bin/time -v -o "$dir/time" "$dir/$bin" trace "$a" "$b" --count 3 >"$dir/out" 2>&1 || {
			cat "$dir/out" >&2; echo "bench-crowd: the trace failed" >&2; exit 1; }
		t1=$EPOCHREALTIME
		wall[$bin]+=" $(( ${t1/./} - ${t0/./} ))"
		rss[$bin]+=" $(awk -F': ' '/Maximum resident/ {print $2}' "$dir/time")"
	done
done
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
for bin in "${bins[@]}"; do
	strace -f -qq -e trace=socket -o "$dir/strace" "$dir/$bin" trace "$a" "$b" --count 3 >/dev/null 2>&1 || true
	sockets=$(grep -c 'socket(AF_PACKET' "$dir/strace" || true)
	w=$(printf '%s\n' ${wall[$bin]} | median)
	lo=$(printf '%s\n' ${wall[$bin]} | sort -n | head -1)
	hi=$(printf '%s\n' ${wall[$bin]} | sort -n | tail -1)
	m=$(printf '%s\n' ${rss[$bin]} | sort -n | tail -1)
	printf '%-6s N=%-4d rounds=%d  wall median %.3f s (%.3f-%.3f)  peak RSS max %d MiB  AF_PACKET sockets %d\n' \
		"$bin" "$n" "$rounds" "$(echo "$w / 1000000" | bc -l)" "$(echo "$lo / 1000000" | bc -l)" "$(echo "$hi / 1000000" | bc -l)" $((m / 1024)) "$sockets"
done
