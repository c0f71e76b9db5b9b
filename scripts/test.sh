#!/usr/bin/env bash
# The whole test suite. Installs what the tests need (Debian packages), then
# runs every Go test with the race detector. Run as root: most tests build
# namespaces and veth pairs of their own (unique names, removed afterwards).
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
# The container tests (cmd/nsdump/containers_test.go) start engines of their
# own (internal/enginetest) from the Debian packages, inside test namespaces.
for pkg in iproute2 tcpdump tshark nftables iputils-ping libpcap-dev util-linux \
  docker.io podman containerd runc containernetworking-plugins iptables busybox-static tar; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || need+=("$pkg")
done
if ((${#need[@]})); then
  echo "installing: ${need[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

# No test asserts a duration; -timeout only bounds a hang, generously, since
# a loaded machine (scripts/load-test.sh) runs the slowest package for
# minutes.
go test -race -count=1 -timeout 30m ./...
