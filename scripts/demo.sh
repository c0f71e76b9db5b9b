#!/usr/bin/env bash
# The walkthrough with nsdump: build the lab without routes, see that
# 10.0.2.0 is unreachable from vnet0 and why, add the routes, see it work,
# tear the lab down. Run as root on a machine without vnet0/vnet1.
set -uo pipefail
cd "$(dirname "$0")/.."
if ! command -v ping >/dev/null; then
  echo "demo: installing ping (iputils-ping) to show the walkthrough's pings" >&2
  DEBIAN_FRONTEND=noninteractive apt-get update -qq && apt-get install -y -qq iputils-ping >/dev/null || exit 2
fi
bin=$(mktemp -d)/nsdump
go build -o "$bin" ./cmd/nsdump || exit 2
trap '"$bin" teardown >/dev/null; rm -rf "$(dirname "$bin")"' EXIT
for ns in vnet0 vnet1; do
  if ip netns list | grep -qx "$ns\( .*\)\?"; then echo "demo: $ns already exists; run 'nsdump teardown' first" >&2; trap - EXIT; exit 2; fi
done
nsdump() { "$bin" "$@"; }
step() { printf '\n$ %s\n' "$*"; "$@"; }
step nsdump setup
step nsdump ls
step nsdump route vnet0 10.0.2.0
step ip netns exec vnet0 ping -c1 -W1 10.0.2.0
step nsdump setup --routes
step nsdump route vnet0 10.0.2.0
(sleep 1; ip netns exec vnet0 ping -c2 -i0.2 -W1 10.0.2.0 >/dev/null) &
step nsdump capture vnet0 vnet1 -c 8
step nsdump route vnet1 10.0.1.0
step ip netns exec vnet0 ping -c1 -W1 10.0.2.0
step nsdump teardown
trap 'rm -rf "$(dirname "$bin")"' EXIT
