#!/usr/bin/env bash
# The walkthrough in one command: builds nsdump and runs `nsdump demo`, which
# builds the vnet0/vnet1 lab without routes, traces it (why 10.0.2.0 is
# unreachable, beside ip route get and the fix), adds the routes, traces
# again (pings and the TCP message on port 7096 get through), writes
# demo.pcapng and tears the lab down. Run as root on a machine without
# vnet0/vnet1; extra arguments go to `nsdump demo` (--keep, -w FILE).
set -euo pipefail
cd "$(dirname "$0")/.."
bin=$(mktemp -d)/nsdump
trap 'rm -rf "$(dirname "$bin")"' EXIT
go build -o "$bin" ./cmd/nsdump
"$bin" demo "$@"
