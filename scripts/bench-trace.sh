#!/usr/bin/env bash
# Wall time of a healthy trace (--count 3), a failing one (no routes,
# --timeout 1s) and the demo, each as a whole process, on a lab of its own.
# Needs root. Usage: scripts/bench-trace.sh [ROUNDS]
set -euo pipefail
rounds=${1:-5}
cd "$(dirname "$0")/.."
dir=$(mktemp -d)
bin=$dir/nsdump
go build -o "$bin" ./cmd/nsdump
flags=(--ns0 nsdb-t$$ --ns1 nsdb-u$$ --veth0 nbT$$ --veth1 nbU$$ --addr0 172.26.1.1/24 --addr1 172.26.2.1/24)
cleanup() { "$bin" teardown --force "${flags[@]}" >/dev/null 2>&1 || true; rm -rf "$dir"; }
trap cleanup EXIT

secs() { local t0=$EPOCHREALTIME; "$@" >/dev/null 2>&1 || true; local t1=$EPOCHREALTIME; echo $(( ${t1/./} - ${t0/./} )); }
median() { sort -n | awk '{a[NR]=$1} END {if (NR%2) print a[(NR+1)/2]; else print int((a[NR/2]+a[NR/2+1])/2)}'; }
report() { printf '%s\n' "${@:2}" | median | awk -v what="$1" '{printf "%-38s median %.3f s\n", what, $1/1e6}'; }

"$bin" setup "${flags[@]}" >/dev/null
declare -a bad good demo
for ((i = 0; i < rounds; i++)); do bad+=("$(secs "$bin" trace nsdb-t$$ nsdb-u$$ --timeout 1s)"); done
# Route only in the first namespace: requests arrive and wait out the timeout.
ip -n nsdb-t$$ route add 172.26.2.0/24 dev nbT$$
declare -a half
for ((i = 0; i < rounds; i++)); do half+=("$(secs "$bin" trace nsdb-t$$ nsdb-u$$ --timeout 1s)"); done
"$bin" setup --routes "${flags[@]}" >/dev/null
for ((i = 0; i < rounds; i++)); do good+=("$(secs "$bin" trace nsdb-t$$ nsdb-u$$ --count 3)"); done
"$bin" teardown "${flags[@]}" >/dev/null
for ((i = 0; i < rounds; i++)); do demo+=("$(secs "$bin" demo -w "$dir/demo.pcapng" "${flags[@]}")"); done
echo "rounds: $rounds"
report "healthy trace --count 3 (goal 1.5 s):" "${good[@]}"
report "failing trace, no routes (goal 1.5 s):" "${bad[@]}"
report "failing trace, no return route (1.5 s):" "${half[@]}"
report "demo end to end (goal 5 s):" "${demo[@]}"
