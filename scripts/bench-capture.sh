#!/usr/bin/env bash
# nsdump capture and tcpdump side by side on the same UDP flood (64-byte
# frames from a sendmmsg sender, as fast as this machine sends) between two
# namespaces of its own: captured, kernel drops, and the interface's own
# counter, writing a file and printing lines. Needs root.
# Usage: scripts/bench-capture.sh [DATAGRAMS]
set -euo pipefail
n=${1:-2000000}
cd "$(dirname "$0")/.."
dir=$(mktemp -d)
go build -o "$dir/nsdump" ./cmd/nsdump
go build -o "$dir/flood" ./scripts/flood
a=nsdb-c$$ b=nsdb-d$$
lab=(--ns0 "$a" --ns1 "$b" --veth0 nbc$$ --veth1 nbd$$ --addr0 172.24.1.1/24 --addr1 172.24.2.1/24)
cleanup() { "$dir/nsdump" teardown --force "${lab[@]}" >/dev/null 2>&1 || true; rm -rf "$dir"; }
trap cleanup EXIT
"$dir/nsdump" setup --routes "${lab[@]}" >/dev/null
ip netns exec "$a" ping -c1 -W1 172.24.2.1 >/dev/null # resolve ARP before the flood

rx() { ip -n "$b" -s -j link show "nbd$$" | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["stats64"]["rx"]["packets"])'; }

# measure NAME READY_WORD CAPTURE_COMMAND...: starts the capture, floods, stops it.
measure() {
  local name=$1 ready=$2; shift 2
  "$@" >"$dir/out" 2>"$dir/err" &
  local pid=$!
  for _ in $(seq 100); do grep -q "$ready" "$dir/err" && break; sleep 0.05; done
  local before; before=$(rx)
  local flood; flood=$(ip netns exec "$a" "$dir/flood" -dst 172.24.2.1 -n "$n" -t 20s)
  local sent=${flood%% *} rate; rate=$(sed -E 's/.*\(([0-9]+)\/s\)/\1/' <<<"$flood")
  sleep 1
  local after; after=$(rx)
  kill -INT "$pid"; wait "$pid" || true
  # nsdump: "N packets captured, N received by filter, N dropped by kernel";
  # tcpdump: the same three counts on three lines.
  local captured dropped
  captured=$(grep -oE "[0-9]+ packets captured" "$dir/err" | head -1 | cut -d' ' -f1)
  dropped=$(grep -oE "[0-9]+ (packets )?dropped by kernel" "$dir/err" | head -1 | cut -d' ' -f1)
  awk -v w="$name" -v s="$sent" -v r="$rate" -v c="$captured" -v d="$dropped" -v i="$((after - before))" \
    'BEGIN { printf "%-26s sent %8d (%8d/s)  iface rx %8d  captured %8d (%6.2f%% of rx)  kernel drops %7d  captured+dropped %8d\n", w, s, r, i, c, 100*c/(i>0?i:1), d, c+d }'
}

echo "flood: $n datagrams of 22 bytes (64-byte frames), udp port 9, captured on $b/nbd$$"
measure "nsdump capture -w FILE" "capturing on" "$dir/nsdump" capture "$b/nbd$$" -w "$dir/n.pcapng" udp port 9
measure "tcpdump -w FILE" "listening on" ip netns exec "$b" tcpdump -i "nbd$$" -w "$dir/t.pcap" udp port 9
measure "nsdump capture > lines" "capturing on" "$dir/nsdump" capture "$b/nbd$$" udp port 9
measure "tcpdump -nn > lines" "listening on" ip netns exec "$b" tcpdump -nn -i "nbd$$" udp port 9
