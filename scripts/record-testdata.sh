#!/usr/bin/env bash
# Records the lab scenarios of testdata/pcaps with nsdump's own capture (each
# file is what `nsdump trace -w` wrote, verdicts included as comments), then
# regenerates their golden reports. Needs root. Uses its own namespaces
# (tdata-a/tdata-b), never vnet0/vnet1, and removes them.
#
# scripts/record-testdata.sh [SCENARIO...] records only those (healthy,
# no-routes, no-return-route, refused, unanswered-arp, firewall-drop; the
# last also records testdata/traces/facts-firewall-drop.pcapng): a change
# that alters one recording need not re-record the others.
set -euo pipefail
cd "$(dirname "$0")/.."
out=testdata/pcaps
bin=$(mktemp -d)/nsdump
go build -o "$bin" ./cmd/nsdump
lab=(--ns0 tdata-a --ns1 tdata-b --veth0 tda0 --veth1 tdb0 --addr0 192.168.50.1/24 --addr1 192.168.60.1/24)
fresh() { "$bin" teardown --force "${lab[@]}" >/dev/null; "$bin" setup "$@" "${lab[@]}" >/dev/null; sleep 1; }
trace() { "$bin" trace tdata-a tdata-b --count 2 --timeout 500ms "$@" >/dev/null || true; }
trap '"$bin" teardown --force "${lab[@]}" >/dev/null; rm -rf "$(dirname "$bin")"' EXIT

only=" $* "
want() { [ "$only" = "  " ] || [[ "$only" == *" $1 "* ]]; }

if want healthy; then fresh --routes; trace -w "$out/healthy.pcapng"; fi
if want no-routes; then fresh; trace -w "$out/no-routes.pcapng"; fi
if want no-return-route; then
	fresh; ip -n tdata-a route add 192.168.60.0/24 dev tda0
	trace -w "$out/no-return-route.pcapng"
fi
if want refused; then
	fresh --routes; trace --no-listen --port 7 -w "$out/refused.pcapng"
	# docs/read.md's CI recipe: its expectations hold on the new recording
	"$bin" read "$out/refused.pcapng" --expect-file "$out/refused.expect" >/dev/null
fi
if want unanswered-arp; then fresh --routes; trace --to 192.168.60.99 -w "$out/unanswered-arp.pcapng"; fi
if want firewall-drop; then
	fresh --routes
	ip netns exec tdata-b nft add table inet nsdump_td
	ip netns exec tdata-b nft add chain inet nsdump_td in '{ type filter hook input priority 0; }'
	ip netns exec tdata-b nft add rule inet nsdump_td in ip saddr 192.168.50.1 drop
	trace -w "$out/firewall-drop.pcapng"
	# the same without the listener's own traffic: its facts (stored in the
	# file) judged again by read pin the judgement of a stored rule. (Not
	# recorded here: testdata/traces/sll-drops.pcapng, a copy of this file as
	# nsdump wrote it when kernel drops were Linux cooked frames, which
	# libpcap refuses beside Ethernet interfaces; it pins reading such old
	# files.)
	trace --no-listen -w testdata/traces/facts-firewall-drop.pcapng
fi
chmod 0644 testdata/traces/*.pcapng
chmod 0644 "$out"/*.pcapng
go test ./cmd/nsdump -run TestReadGolden -update
