#!/usr/bin/env bash
# A two-point capture's memory next to tcpdump's on one interface, under the
# sender-limited UDP flood of bench-capture.sh (64-byte frames, sendmmsg),
# repeated: `nsdump capture A B -w FILE` (both ends of the veth pair) and
# `tcpdump -i IFACE -w FILE` (B's end), alternating, RUNS rounds each.
# Per run: peak RSS (VmHWM), packets captured as a share of the datagrams
# sent times the points that see each (2 for nsdump, 1 for tcpdump), the
# interfaces' own counters (A's veth sent + B's veth received; they also
# count ARP), and kernel drops. Then the medians and the worst drops. With
# REV, nsdump as built from that git revision takes its turn too (before).
# With STALL=MS in the environment, each capture is stopped (SIGSTOP) for MS
# milliseconds one second into the flood, as a busy machine would: what it
# then loses says how long its rings last.
# Needs root. Creates only namespaces named nsdrs-*$$ and removes them.
# Usage: scripts/bench-rss.sh [RUNS] [DATAGRAMS] [KiB for -B, or ""] [REV]
set -euo pipefail
runs=${1:-5}
n=${2:-500000}
ring=(${3:+-B "$3"})
rev=${4:-}
stall=${STALL:-0}
cd "$(dirname "$0")/.."
dir=$(mktemp -d)
go build -o "$dir/nsdump" ./cmd/nsdump
go build -o "$dir/flood" ./scripts/flood
if [ -n "$rev" ]; then
  mkdir "$dir/src"
  git archive "$rev" | tar -x -C "$dir/src"
  (cd "$dir/src" && go build -o "$dir/before" ./cmd/nsdump)
fi
a=nsdrs-a$$ b=nsdrs-b$$ va=rsa$$ vb=rsb$$
lab=(--ns0 "$a" --ns1 "$b" --veth0 "$va" --veth1 "$vb" --addr0 172.29.1.1/24 --addr1 172.29.2.1/24)
cleanup() { "$dir/nsdump" teardown --force "${lab[@]}" >/dev/null 2>&1 || true; rm -rf "$dir"; }
trap cleanup EXIT
"$dir/nsdump" setup --routes "${lab[@]}" >/dev/null
ip netns exec "$a" ping -c1 -W1 172.29.2.1 >/dev/null # resolve ARP before the flood

# counter NS IFACE rx|tx: the interface's packet counter.
counter() {
  ip -n "$1" -s -j link show "$2" | python3 -c "import json,sys; print(json.load(sys.stdin)[0]['stats64']['$3']['packets'])"
}
peak() { awk '/VmHWM/ {print $2}' "/proc/$1/status"; } # KiB

# measure NAME READY_WORD POINTS CAPTURE_COMMAND...: starts the capture,
# floods, stops it, prints one line and appends "rss captured seen drops"
# to $dir/NAME.runs.
measure() {
  local name=$1 ready=$2 points=$3; shift 3
  "$@" >"$dir/out" 2>"$dir/err" &
  local pid=$!
  until grep -q "$ready" "$dir/err" 2>/dev/null; do
    kill -0 "$pid" 2>/dev/null || { cat "$dir/err"; exit 1; }
    sleep 0.01
  done
  local cpid; cpid=$(pgrep -P "$pid" tcpdump || echo "$pid")
  local tx0 rx0; tx0=$(counter "$a" "$va" tx) rx0=$(counter "$b" "$vb" rx)
  ip netns exec "$a" "$dir/flood" -dst 172.29.2.1 -n "$n" -t 20s >"$dir/flood.out" &
  local fpid=$!
  if [ "$stall" -gt 0 ]; then
    sleep 1
    kill -STOP "$cpid"
    sleep "$(echo "$stall / 1000" | bc -l)"
    kill -CONT "$cpid"
  fi
  wait "$fpid"
  local sent; sent=$(cat "$dir/flood.out")
  sleep 1 # the last blocks leave the rings on their timeout
  local tx1 rx1; tx1=$(counter "$a" "$va" tx) rx1=$(counter "$b" "$vb" rx)
  local rss; rss=$(peak "$cpid")
  kill -INT "$cpid"; wait "$pid" || true
  local seen=$((rx1 - rx0)) want=${sent%% *}
  [ "$points" = 2 ] && seen=$((seen + tx1 - tx0)) want=$((2 * want))
  local captured dropped
  captured=$(grep -oE "[0-9]+ packets captured" "$dir/err" | head -1 | cut -d' ' -f1)
  dropped=$(grep -oE "[0-9]+ (packets )?dropped by kernel" "$dir/err" | head -1 | cut -d' ' -f1)
  local rate; rate=$(sed -E 's/.*\(([0-9]+)\/s\)/\1/' <<<"$sent")
  awk -v w="$name" -v r="$rss" -v c="$captured" -v i="$seen" -v d="$dropped" -v s="$want" -v f="$rate" 'BEGIN {
    printf "%-8s flood %7d/s  peak RSS %5.1f MiB  captured %8d of %8d (%6.2f%%; the interfaces counted %d)  kernel drops %d\n", w, f, r / 1024, c, s, 100 * c / s, i, d
  }'
  echo "$rss $captured $want $dropped" >>"$dir/$name.runs"
}

echo "flood: $n datagrams of 22 bytes (64-byte frames), udp port 9, $a/$va -> $b/$vb; $runs rounds; stall ${stall} ms"
for r in $(seq 1 "$runs"); do
  [ -n "$rev" ] && measure before "capturing on" 2 "$dir/before" capture "${ring[@]}" "$a" "$b" -w "$dir/n.pcapng" udp port 9
  measure nsdump "capturing on" 2 "$dir/nsdump" capture "${ring[@]}" "$a" "$b" -w "$dir/n.pcapng" udp port 9
  measure tcpdump "listening on" 1 ip netns exec "$b" tcpdump -i "$vb" -w "$dir/t.pcap" udp port 9
done
summary() {
  sort -n "$2" | awk -v w="$1" '{ rss[NR] = $1; c += $2; s += $3; if ($4 > d) d = $4; if ($2 == $3 && $4 == 0) full++ }
    END { printf "%-34s median peak RSS %5.1f MiB (min %.1f, max %.1f); all captured with 0 drops in %d of %d runs (%.3f%% overall); worst kernel drops %d\n",
      w, rss[int((NR + 1) / 2)] / 1024, rss[1] / 1024, rss[NR] / 1024, full, NR, 100 * c / s, d }'
}
[ -n "$rev" ] && summary "nsdump at $rev (2 points)" "$dir/before.runs"
summary "nsdump capture A B -w ${ring[*]} (2 points)" "$dir/nsdump.runs"
summary "tcpdump -i B -w (1 point)" "$dir/tcpdump.runs"
uptime
