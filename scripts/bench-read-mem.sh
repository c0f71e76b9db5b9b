#!/usr/bin/env bash
# Peak memory and time of nsdump read on large and adversarial files (made
# by scripts/genpcap), with TZ=UTC tcpdump -nn -r on the same file beside:
#   syn, echo      1M SYNs / echo requests nothing answers, 7 us apart (issue 13)
#   flow           one TCP connection of 2M packets (issue 13)
#   synpacked,     the same floods packed within one second of capture time:
#   echopacked     no exchange goes idle, only --max-open bounds them (issue 22)
#   short          1M packets of six-packet connections, one 4-tuple each
#   ifaces         a pcapng file of 65,536 interface blocks (the most read
#                  accepts) and one packet
# Each file is read as text and --json. Every peak RSS must stay within
# 64 MiB, and the text read must take no more CPU time (user + system) than
# tcpdump does on the same file (give or take 0.1 s, a process's start):
# CPU, not wall time, so that other work on the machine does not decide it
# (nsdump reads and tracks on two cores, so its wall time is lower still).
# Usage: [ROUNDS=N] scripts/bench-read-mem.sh [SCALE] [SHAPE...]
# (SCALE multiplies the packet counts, default 1; 0.1 for a quick look).
# Each file is read ROUNDS times (default 3), tcpdump, text and --json
# in turn, so that the load of the machine falls on each alike; the
# figures are the medians of wall and CPU time and the largest peak.
set -euo pipefail
scale=${1:-1}
shift || true
shapes=${*:-syn echo flow synpacked echopacked short ifaces}
cd "$(dirname "$0")/.."
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
go build -o "$dir/nsdump" ./cmd/nsdump
go build -o "$dir/genpcap" ./scripts/genpcap
tcpdump=$(command -v tcpdump || true)
limit=$((64 * 1024)) # KiB
fail=0
declare -A count=([syn]=1000000 [echo]=1000000 [flow]=2000000 [synpacked]=1000000 [echopacked]=1000000 [short]=1000000 [ifaces]=65536)
printf '%-10s %9s %5s  %-8s %7s %7s %9s\n' file packets MiB reader wall_s cpu_s peak_MiB # medians; the largest peak
rounds=${ROUNDS:-3}
# run NAME FILE CMD...: one run, its "wall cpu KiB" appended to $dir/NAME.
run() {
  local label=$1 file=$2
  shift 2
  if ! /usr/bin/time -f '%e %U %S %M' -o "$dir/t" "$@" "$file" >/dev/null 2>"$dir/err"; then
    echo "$label: $1 failed: $(grep -v '^[0-9.]* [0-9.]* [0-9.]* [0-9]*$' "$dir/err" | tail -1)"
    fail=1
    return
  fi
  awk '{ printf "%s %.2f %d\n", $1, $2 + $3, $4 }' "$dir/t" >>"$dir/$label"
}
# report NAME: one line of medians; sets cpu and kb.
report() {
  local label=$1
  cpu=0 kb=0
  [ -s "$dir/$label" ] || return 0
  local mid=$((($(wc -l <"$dir/$label") + 1) / 2))
  wall=$(cut -d' ' -f1 "$dir/$label" | sort -n | sed -n "${mid}p")
  cpu=$(cut -d' ' -f2 "$dir/$label" | sort -n | sed -n "${mid}p")
  kb=$(cut -d' ' -f3 "$dir/$label" | sort -n | tail -1)
  awk -v f="$mode" -v n="$n" -v m="$(du -m "$file" | cut -f1)" -v j="$label" -v w="$wall" -v c="$cpu" -v k="$kb" \
    'BEGIN { printf "%-10s %9d %5d  %-8s %7.2f %7.2f %9.1f\n", f, n, m, j, w, c, k/1024 }'
}
for mode in $shapes; do
  [ -n "${count[$mode]:-}" ] || { echo "unknown shape $mode"; exit 2; }
  n=$(awk -v n="${count[$mode]}" -v s="$scale" 'BEGIN { printf "%d", n*s }')
  [ "$mode" = ifaces ] && n=${count[$mode]} # the bound itself, whatever the scale
  file="$dir/$mode.pcap"
  [ "$mode" = ifaces ] && file="$dir/$mode.pcapng"
  "$dir/genpcap" -mode "$mode" -n "$n" -o "$file"
  cat "$file" >/dev/null # into the page cache
  rm -f "$dir/tcpdump" "$dir/text" "$dir/json"
  for _ in $(seq "$rounds"); do
    [ -z "$tcpdump" ] || TZ=UTC run tcpdump "$file" "$tcpdump" -nn -r
    run text "$file" "$dir/nsdump" read
    run json "$file" "$dir/nsdump" read --json
  done
  tcpcpu=
  if [ -n "$tcpdump" ]; then
    report tcpdump
    tcpcpu=$cpu
  fi
  for label in text json; do
    report $label
    if [ "$kb" -gt "$limit" ]; then
      echo "  over 64 MiB"
      fail=1
    fi
    if [ $label = text ] && [ -n "$tcpcpu" ] && [ "$(echo "$cpu > $tcpcpu + 0.1" | bc)" = 1 ]; then
      echo "  more CPU than tcpdump ($cpu s against $tcpcpu s)"
      fail=1
    fi
  done
  rm -f "$file"
done
exit $fail
