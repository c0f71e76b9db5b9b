#!/usr/bin/env bash
# nsdump read, tcpdump and tshark side by side on one generated capture of
# N packets (default 5,000,000): wall time, packets per second and peak RSS.
# Usage: scripts/bench-read.sh [N]   (tshark on 5M packets needs GBs and minutes)
set -euo pipefail
n=${1:-5000000}
cd "$(dirname "$0")/.."
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
go build -o "$dir/nsdump" ./cmd/nsdump
go run ./scripts/genpcap -n "$n" -o "$dir/big.pcap"
cat "$dir/big.pcap" >/dev/null # into the page cache for everyone
run() {
  local what=$1; shift
  /usr/bin/time -f '%e %M' -o "$dir/t" "$@" >/dev/null 2>"$dir/err" || { echo "$what: failed: $(tail -1 "$dir/err")"; return; }
  read -r secs kb <"$dir/t"
  awk -v w="$what" -v s="$secs" -v k="$kb" -v n="$n" 'BEGIN { printf "%-34s %7.2f s  %10.0f packets/s  peak RSS %7.1f MiB\n", w, s, n/(s>0?s:0.01), k/1024 }'
  echo "$secs" >"$dir/last"
}
echo "$n packets, $(du -m "$dir/big.pcap" | cut -f1) MiB"
run "nsdump read" "$dir/nsdump" read "$dir/big.pcap"; ns=$(cat "$dir/last")
run "nsdump read --packets" "$dir/nsdump" read --packets "$dir/big.pcap"; nsp=$(cat "$dir/last")
# TZ set: otherwise glibc stats /etc/localtime for every packet tcpdump prints.
TZ=UTC run "tcpdump -nn -r" tcpdump -nn -r "$dir/big.pcap"; td=$(cat "$dir/last")
if command -v tshark >/dev/null; then
  run "tshark -r -q -z conv,tcp" tshark -r "$dir/big.pcap" -q -z conv,tcp; ts=$(cat "$dir/last")
  awk -v a="$ts" -v b="$ns" 'BEGIN { printf "nsdump read vs tshark conv,tcp:   %.1fx\n", a/b }'
fi
awk -v a="$td" -v b="$ns" 'BEGIN { printf "nsdump read vs tcpdump -nn -r:    %.1fx\n", a/b }'
awk -v a="$td" -v b="$nsp" 'BEGIN { printf "read --packets vs tcpdump -nn -r: %.1fx\n", a/b }'
