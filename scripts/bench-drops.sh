#!/usr/bin/env bash
# The cost of capture --drops: the sender-limited UDP flood of
# bench-capture.sh (64-byte frames, sendmmsg) from A through router B to C,
# where an nftables rule in B's forward chain drops a quarter of it
# (NETFILTER_DROP in B). The rest dies in C (no listener: NO_SOCKET), which
# nobody watches: the in-kernel namespace filter keeps those from the
# monitor. Captured packets per second on B's veth from A with and without
# --drops on B (alternating rounds, medians), the drops the monitor
# recorded and those it lost. Needs root.
# Usage: scripts/bench-drops.sh [DATAGRAMS] [ROUNDS]
set -euo pipefail
n=${1:-1000000}
rounds=${2:-3}
cd "$(dirname "$0")/.."
dir=$(mktemp -d)
go build -o "$dir/nsdump" ./cmd/nsdump
go build -o "$dir/flood" ./scripts/flood
a=nsddr-p$$ b=nsddr-q$$ c=nsddr-r$$
lab=(--ns0 "$a" --ns1 "$b" --veth0 drp$$ --veth1 drq$$ --addr0 172.27.1.1/24 --addr1 172.27.2.1/24)
cleanup() {
  "$dir/nsdump" teardown --force "${lab[@]}" >/dev/null 2>&1 || true
  ip netns del "$c" 2>/dev/null || true
  rm -rf "$dir"
}
trap cleanup EXIT
"$dir/nsdump" setup --routes "${lab[@]}" >/dev/null
ip netns add "$c"
ip -n "$b" link add drr$$ type veth peer name drs$$ netns "$c"
ip -n "$b" addr add 172.28.0.1/24 dev drr$$
ip -n "$c" addr add 172.28.0.2/24 dev drs$$
ip -n "$b" link set drr$$ up
ip -n "$c" link set drs$$ up
ip -n "$c" route add default via 172.28.0.1
ip -n "$a" route add 172.28.0.0/24 via 172.27.2.1 dev drp$$ onlink
ip netns exec "$b" sysctl -qw net.ipv4.ip_forward=1
ip netns exec "$a" ping -c1 -W1 172.28.0.2 >/dev/null # resolve ARP before the flood
ip netns exec "$b" nft 'add table inet drb; add chain inet drb fw { type filter hook forward priority 0; policy accept; }; add rule inet drb fw udp dport 9 numgen random mod 4 0 drop'

# measure ARGS...: one capture of one flood; prints "PPS CAPTURED SENT RECORDED LOST".
measure() {
  "$dir/nsdump" capture "$b/drq$$" -w "$dir/f.pcapng" "$@" udp port 9 >/dev/null 2>"$dir/err" &
  local pid=$!
  for _ in $(seq 200); do grep -q "capturing on" "$dir/err" && break; sleep 0.05; done
  local flood; flood=$(ip netns exec "$a" "$dir/flood" -dst 172.28.0.2 -n "$n" -t 20s)
  local sent=${flood%% *} rate; rate=$(sed -E 's/.*\(([0-9]+)\/s\)/\1/' <<<"$flood")
  sleep 1 # the last blocks and ring records reach the file
  kill -INT "$pid"; wait "$pid" || true
  local captured recorded lost
  captured=$(grep -oE "[0-9]+ packets captured" "$dir/err" | cut -d' ' -f1)
  recorded=$(grep -oE "[0-9]+ kernel drops recorded" "$dir/err" | cut -d' ' -f1 || true)
  lost=$(grep -oE "[0-9]+ lost by the drop monitor" "$dir/err" | cut -d' ' -f1 || true)
  # Captured per second of flood: captured / (sent / rate).
  awk -v c="$captured" -v s="$sent" -v r="$rate" -v d="${recorded:--}" -v l="${lost:--}" \
    'BEGIN { printf "%d %d %d %s %s\n", c*r/(s>0?s:1), c, s, d, l }'
}

median() { sort -n | awk '{a[NR]=$1} END {if (NR%2) print a[(NR+1)/2]; else print int((a[NR/2]+a[NR/2+1])/2)}'; }

echo "flood: $n datagrams of 22 bytes from $a through $b to $c, udp port 9; nft in $b drops 1 in 4, $c has no listener"
declare -a without with
for ((i = 1; i <= rounds; i++)); do
  read -r pps got sent _ _ < <(measure)
  without+=("$pps")
  printf 'round %d without --drops: %8d captured/s (%d of %d sent)\n' "$i" "$pps" "$got" "$sent"
  read -r pps got sent d l < <(measure --drops)
  with+=("$pps")
  printf 'round %d with --drops:    %8d captured/s (%d of %d sent), %s kernel drops recorded, %s lost by the monitor\n' "$i" "$pps" "$got" "$sent" "$d" "$l"
done
w=$(printf '%s\n' "${without[@]}" | median) m=$(printf '%s\n' "${with[@]}" | median)
awk -v w="$w" -v m="$m" 'BEGIN { printf "median captured/s: without %d, with --drops %d: %.1f%% (goal >= 90%%)\n", w, m, 100*m/(w>0?w:1) }'
tshark -r "$dir/f.pcapng" -Y 'frame.interface_name contains "/drops"' -T fields -e frame.comment 2>/dev/null | sort | uniq -c | sort -rn | head -5
