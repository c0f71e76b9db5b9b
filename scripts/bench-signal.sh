#!/usr/bin/env bash
# How long nsdump takes to end on SIGINT (goal: 1 s), as a whole process,
# on a lab of its own: a trace waiting out a 30 s timeout behind a firewall
# that drops everything, an idle capture, and the demo once its lab exists.
# The tests only check that the signal ends each command; this measures it.
# Needs root. Usage: scripts/bench-signal.sh [ROUNDS]
set -euo pipefail
rounds=${1:-5}
cd "$(dirname "$0")/.."
dir=$(mktemp -d)
bin=$dir/nsdump
go build -o "$bin" ./cmd/nsdump
a=nsdsu-s$$ b=nsdsu-t$$
flags=(--ns0 "$a" --ns1 "$b" --veth0 sus$$ --veth1 sut$$ --addr0 172.27.1.1/24 --addr1 172.27.2.1/24)
cleanup() { "$bin" teardown --force "${flags[@]}" >/dev/null 2>&1 || true; rm -rf "$dir"; }
trap cleanup EXIT

# stop_after READY CMD...: starts CMD, waits (at most 30 s) until the
# command READY succeeds, sends SIGINT and prints the microseconds until
# CMD ended.
stop_after() {
  local ready=$1; shift
  "$@" >/dev/null 2>"$dir/err" &
  local pid=$! i
  for ((i = 0; i < 600; i++)); do eval "$ready" && break; sleep 0.05; done
  local t0=$EPOCHREALTIME
  kill -INT "$pid"
  wait "$pid" || true
  local t1=$EPOCHREALTIME
  echo $((${t1/./} - ${t0/./}))
}
median() { sort -n | awk '{a[NR]=$1} END {if (NR%2) print a[(NR+1)/2]; else print int((a[NR/2]+a[NR/2+1])/2)}'; }
report() { printf '%s\n' "${@:2}" | median | awk -v what="$1" '{printf "%-34s median %.3f s\n", what, $1/1e6}'; }

"$bin" setup --routes "${flags[@]}" >/dev/null
ip netns exec "$b" nft add table inet nsdsu
ip netns exec "$b" nft add chain inet nsdsu in '{ type filter hook input priority 0; }'
ip netns exec "$b" nft add rule inet nsdsu in ip saddr 172.27.1.1 drop
declare -a tr cap demo
for ((i = 0; i < rounds; i++)); do
  tr+=("$(stop_after "ip netns exec $b ss -Hltn 'sport = :7098' | grep -q ." "$bin" trace "$a" "$b" --timeout 30s --port 7098)")
  cap+=("$(stop_after "grep -q 'capturing on' $dir/err" "$bin" capture "$a" "$b")")
done
"$bin" teardown "${flags[@]}" >/dev/null
for ((i = 0; i < rounds; i++)); do
  demo+=("$(stop_after "ip netns list | grep -q '^$b'" "$bin" demo -w "$dir/demo.pcapng" "${flags[@]}")")
  "$bin" teardown --force "${flags[@]}" >/dev/null 2>&1 || true
done
echo "rounds: $rounds"
report "trace, SIGINT to exit (goal 1 s):" "${tr[@]}"
report "capture, SIGINT to exit (goal 1 s):" "${cap[@]}"
report "demo, SIGINT to exit (goal 1 s):" "${demo[@]}"
