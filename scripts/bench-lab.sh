#!/usr/bin/env bash
# Times `nsdump setup` and `nsdump teardown` as whole processes against the
# same lab built and removed by a script of iproute2 commands, side by side,
# and prints medians. Needs root. Usage: scripts/bench-lab.sh [ROUNDS]
set -euo pipefail
rounds=${1:-30}
cd "$(dirname "$0")/.."
bin=$(mktemp -d)/nsdump
go build -o "$bin" ./cmd/nsdump
ns0=nsdb-a$$ ns1=nsdb-b$$ v0=nbA$$ v1=nbB$$
flags=(--ns0 "$ns0" --ns1 "$ns1" --veth0 "$v0" --veth1 "$v1" --addr0 172.28.1.1/24 --addr1 172.28.2.1/24)
cleanup() { ip netns del "$ns0" 2>/dev/null || true; ip netns del "$ns1" 2>/dev/null || true; rm -rf "$(dirname "$bin")"; }
trap cleanup EXIT

ip_setup() {
  ip netns add "$ns0"; ip netns add "$ns1"
  ip -n "$ns0" link add "$v0" type veth peer name "$v1" netns "$ns1"
  ip -n "$ns0" addr add 172.28.1.1/24 dev "$v0"; ip -n "$ns1" addr add 172.28.2.1/24 dev "$v1"
  ip -n "$ns0" link set lo up; ip -n "$ns0" link set "$v0" up
  ip -n "$ns1" link set lo up; ip -n "$ns1" link set "$v1" up
  ip -n "$ns0" route add 172.28.2.0/24 dev "$v0"; ip -n "$ns1" route add 172.28.1.0/24 dev "$v1"
}
ip_teardown() { ip netns del "$ns0"; ip netns del "$ns1"; }

# usec runs a command and prints its wall time in microseconds.
usec() {
  local t0=$EPOCHREALTIME
  "$@" >/dev/null
  local t1=$EPOCHREALTIME
  echo $(( (${t1/./} - ${t0/./}) ))
}
median() { sort -n | awk '{a[NR]=$1} END {if (NR%2) print a[(NR+1)/2]; else print int((a[NR/2]+a[NR/2+1])/2)}'; }

declare -a ns_up ns_down ip_up ip_down
for ((i = 0; i < rounds; i++)); do
  ns_up+=("$(usec "$bin" setup --routes "${flags[@]}")")
  ns_down+=("$(usec "$bin" teardown "${flags[@]}")")
  ip_up+=("$(usec ip_setup)")
  ip_down+=("$(usec ip_teardown)")
done
m() { printf '%s\n' "$@" | median; }
nu=$(m "${ns_up[@]}") nd=$(m "${ns_down[@]}") iu=$(m "${ip_up[@]}") id=$(m "${ip_down[@]}")
printf 'rounds: %d (medians, whole processes)\n' "$rounds"
row() { awk -v n="$2" -v i="$3" -v what="$1" 'BEGIN { printf "%-16s nsdump %6.2f ms   ip script %6.2f ms   ip/nsdump %4.1fx\n", what, n/1000, i/1000, i/n }'; }
row "setup --routes:" "$nu" "$iu"
row "teardown:" "$nd" "$id"
hw=$(mktemp -d); printf 'package main\nfunc main() {}\n' >"$hw/main.go"; (cd "$hw" && go mod init hw >/dev/null 2>&1 && go build -o hw .)
declare -a floor; for ((i = 0; i < rounds; i++)); do floor+=("$(usec "$hw/hw")"); done
awk -v f="$(m "${floor[@]}")" 'BEGIN { printf "floor: an empty Go program takes %.2f ms as a process here\n", f/1000 }'
rm -rf "$hw"
