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
three=(nsdb-pa$$ nsdb-pb$$ nsdb-pm$$ nsdb-ra$$ nsdb-rb$$ nsdb-rm$$)
cleanup() {
	"$bin" teardown --force "${flags[@]}" >/dev/null 2>&1 || true
	for n in "${three[@]}"; do ip netns del "$n" 2>/dev/null || true; done
	rm -rf "$dir"
}
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
# Three namespaces: A and B on a bridge in M, and A and B routed through R.
for n in "${three[@]}"; do ip netns add "$n"; ip -n "$n" link set lo up; done
ip -n nsdb-pa$$ link add a0 type veth peer name pa netns nsdb-pm$$
ip -n nsdb-pb$$ link add b0 type veth peer name pb netns nsdb-pm$$
ip -n nsdb-pm$$ link add br0 type bridge
ip -n nsdb-pm$$ link set pa master br0; ip -n nsdb-pm$$ link set pb master br0
ip -n nsdb-pa$$ addr add 172.27.0.1/24 dev a0; ip -n nsdb-pb$$ addr add 172.27.0.2/24 dev b0
for l in br0 pa pb; do ip -n nsdb-pm$$ link set $l up; done
ip -n nsdb-pa$$ link set a0 up; ip -n nsdb-pb$$ link set b0 up
ip -n nsdb-ra$$ link add a0 type veth peer name ra netns nsdb-rm$$
ip -n nsdb-rb$$ link add b0 type veth peer name rb netns nsdb-rm$$
ip -n nsdb-rm$$ addr add 172.28.1.1/24 dev ra; ip -n nsdb-rm$$ addr add 172.28.2.1/24 dev rb
ip -n nsdb-ra$$ addr add 172.28.1.2/24 dev a0; ip -n nsdb-rb$$ addr add 172.28.2.2/24 dev b0
ip -n nsdb-rm$$ link set ra up; ip -n nsdb-rm$$ link set rb up
ip -n nsdb-ra$$ link set a0 up; ip -n nsdb-rb$$ link set b0 up
ip netns exec nsdb-rm$$ sysctl -qw net.ipv4.ip_forward=1
ip -n nsdb-ra$$ route add default via 172.28.1.1; ip -n nsdb-rb$$ route add default via 172.28.2.1
declare -a bridge router routerbad
for ((i = 0; i < rounds; i++)); do bridge+=("$(secs "$bin" trace nsdb-pa$$ nsdb-pb$$ --count 3)"); done
for ((i = 0; i < rounds; i++)); do router+=("$(secs "$bin" trace nsdb-ra$$ nsdb-rb$$ --count 3)"); done
# The same without the kernel's nftables trace: what tracing costs.
declare -a bridgeoff routeroff
for ((i = 0; i < rounds; i++)); do bridgeoff+=("$(secs "$bin" trace nsdb-pa$$ nsdb-pb$$ --count 3 --no-nftrace)"); done
for ((i = 0; i < rounds; i++)); do routeroff+=("$(secs "$bin" trace nsdb-ra$$ nsdb-rb$$ --count 3 --no-nftrace)"); done
ip netns exec nsdb-rm$$ sysctl -qw net.ipv4.ip_forward=0
for ((i = 0; i < rounds; i++)); do routerbad+=("$(secs "$bin" trace nsdb-ra$$ nsdb-rb$$ --timeout 1s)"); done
echo "rounds: $rounds"
report "healthy bridge trace, 3 namespaces (1.5 s):" "${bridge[@]}"
report "healthy router trace, 3 namespaces (1.5 s):" "${router[@]}"
report "  the same, --no-nftrace (bridge):" "${bridgeoff[@]}"
report "  the same, --no-nftrace (router):" "${routeroff[@]}"
report "router forwarding off, --timeout 1s (1.5 s):" "${routerbad[@]}"
report "healthy trace --count 3 (goal 1.5 s):" "${good[@]}"
report "failing trace, no routes (goal 1.5 s):" "${bad[@]}"
report "failing trace, no return route (1.5 s):" "${half[@]}"
report "demo end to end (goal 5 s):" "${demo[@]}"
