#!/usr/bin/env bash
# Records the decoder's live captures under testdata/pcaps (tunnels: VXLAN,
# GRE, GENEVE, IPIP; IPv6 fragments; TCP at snap lengths 60 and 96; nftables
# log group 5 through tcpdump -i nflog:5), each
# taken by tcpdump in namespaces the tests create (nsddc-...) and remove,
# then regenerates their golden reports. Needs root.
set -euo pipefail
cd "$(dirname "$0")/.."
go test -count=1 -run 'TunnelsLive|IPv6FragmentsLive|SnaplenLive|NFLOGLive' ./decode -args -record
go test -count=1 ./cmd/nsdump -run TestReadGolden -update
