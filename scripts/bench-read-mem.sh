#!/usr/bin/env bash
# Peak memory and time of nsdump read on the large files of issue 13 (made
# by scripts/genpcap): 1M SYNs nothing answers, 1M echo requests nothing
# answers, one TCP connection of 2M packets; each read as text and --json.
# Every peak RSS must stay within 64 MiB. Usage: scripts/bench-read-mem.sh [SCALE]
# (SCALE multiplies the packet counts, default 1; 0.1 for a quick look).
set -euo pipefail
scale=${1:-1}
cd "$(dirname "$0")/.."
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
go build -o "$dir/nsdump" ./cmd/nsdump
limit=$((64 * 1024)) # KiB
fail=0
printf '%-6s %9s %8s  %-7s %8s %8s %10s\n' file packets MiB mode wall_s cpu_s peak_MiB
for spec in syn:1000000 echo:1000000 flow:2000000; do
  mode=${spec%%:*}
  n=$(awk -v n="${spec#*:}" -v s="$scale" 'BEGIN { printf "%d", n*s }')
  go run ./scripts/genpcap -mode "$mode" -n "$n" -o "$dir/$mode.pcap"
  cat "$dir/$mode.pcap" >/dev/null # into the page cache
  for json in "" --json; do
    /usr/bin/time -f '%e %U %S %M' -o "$dir/t" "$dir/nsdump" read $json "$dir/$mode.pcap" >/dev/null 2>"$dir/err" ||
      { echo "$mode $json: nsdump failed: $(tail -1 "$dir/err")"; fail=1; continue; }
    read -r wall user sys kb <"$dir/t"
    awk -v f="$mode" -v n="$n" -v m="$(du -m "$dir/$mode.pcap" | cut -f1)" -v j="${json:-text}" -v w="$wall" -v c="$(echo "$user + $sys" | bc)" -v k="$kb" \
      'BEGIN { printf "%-6s %9d %8d  %-7s %8.2f %8.2f %10.1f\n", f, n, m, j, w, c, k/1024 }'
    if [ "$kb" -gt "$limit" ]; then
      echo "  over 64 MiB"
      fail=1
    fi
  done
  rm -f "$dir/$mode.pcap"
done
exit $fail
