#!/usr/bin/env bash
# Containers by name, timed as whole processes: resolving a name among N
# running Docker containers (goal 50 ms), `ls --containers` (goal 200 ms)
# and a healthy trace between two containers by name (goal 0.5 s quiet).
# Starts a dockerd of its own inside a namespace of its own (own data root,
# exec root and socket; never the host's network), runs N busybox
# containers on one user network, and removes everything on exit.
# Needs root, docker.io and busybox-static.
# Usage: scripts/bench-containers.sh [CONTAINERS] [ROUNDS]
set -euo pipefail
count=${1:-50}
rounds=${2:-9}
cd "$(dirname "$0")/.."
ns=nsdbc-dk$$
dir=$(mktemp -d /tmp/nsdbc.XXXXXX)
bin=$dir/nsdump
export DOCKER_HOST=unix://$dir/docker.sock
go build -o "$bin" ./cmd/nsdump
cleanup() {
	ids=$(docker ps -aq 2>/dev/null || true)
	[ -n "$ids" ] && docker rm -f $ids >/dev/null 2>&1 || true
	# dockerd by the pid it was started as (its pidfile may not be written
	# yet); it stops its containerd and the containers' shims itself.
	if [ -n "${dockerd:-}" ]; then
		kill "$dockerd" 2>/dev/null || true
		for _ in $(seq 600); do kill -0 "$dockerd" 2>/dev/null || break; sleep 0.1; done
		kill -KILL "$dockerd" 2>/dev/null || true
	fi
	# Whatever of ours still runs in the namespace (containerd, shims of a
	# dockerd that did not stop), by pid.
	ip netns pids "$ns" 2>/dev/null | xargs -r kill -KILL 2>/dev/null || true
	ip netns del "$ns" 2>/dev/null || true
	grep -o " $dir[^ ]*" /proc/self/mountinfo | sort -r | xargs -r -n1 umount -l 2>/dev/null || true
	rm -rf "$dir"
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP # the EXIT trap cleans up on a signal too

ip netns add "$ns"
ip -n "$ns" link set lo up
nsenter --net=/run/netns/"$ns" dockerd --data-root "$dir/data" --exec-root "$dir/exec" \
	--pidfile "$dir/docker.pid" -H "$DOCKER_HOST" --shutdown-timeout 1 >"$dir/dockerd.log" 2>&1 &
dockerd=$! # nsenter execs dockerd: the same process
for _ in $(seq 600); do docker version >/dev/null 2>&1 && break; sleep 0.1; done
mkdir -p "$dir/rootfs/bin"
cp /bin/busybox "$dir/rootfs/bin/"
ln -s busybox "$dir/rootfs/bin/sleep"
tar -C "$dir/rootfs" -c . | docker import - nsdbc-busybox:1 >/dev/null
docker network create nsdbc-net >/dev/null
for ((i = 1; i <= count; i++)); do
	docker run -d --name "c$i" --network nsdbc-net nsdbc-busybox:1 sleep 1000000 >/dev/null
done
name=c$(( count < 25 ? 1 : 25 ))
pid=$(docker inspect -f '{{.State.Pid}}' "$name")
pid1=$(docker inspect -f '{{.State.Pid}}' c1)
pid2=$(docker inspect -f '{{.State.Pid}}' c2)

us() { local t0=$EPOCHREALTIME; "$@" >/dev/null 2>&1 || true; local t1=$EPOCHREALTIME; echo $(( ${t1/./} - ${t0/./} )); }
median() { sort -n | awk '{a[NR]=$1} END {if (NR%2) print a[(NR+1)/2]; else print int((a[NR/2]+a[NR/2+1])/2)}'; }
report() { printf '%s\n' "${@:2}" | median | awk -v what="$1" '{printf "%-52s median %7.1f ms\n", what, $1/1e3}'; }
declare -a bypid bydocker bybare lsc trace tracepid
for ((i = 0; i < rounds; i++)); do
	bypid+=("$(us "$bin" ls "pid:$pid")")
	bydocker+=("$(us "$bin" ls "docker:$name")")
	bybare+=("$(us "$bin" ls "$name")")
	lsc+=("$(us "$bin" ls --containers)")
	trace+=("$(us "$bin" trace c1 c2 --count 3)")
	tracepid+=("$(us "$bin" trace "pid:$pid1" "pid:$pid2" --count 3)")
done
"$bin" trace c1 c2 --count 3 | tail -1
echo "containers: $count, rounds: $rounds"
report "nsdump ls pid:N (no name to resolve):" "${bypid[@]}"
report "nsdump ls docker:$name (goal 50 ms):" "${bydocker[@]}"
report "nsdump ls $name, bare name (goal 50 ms):" "${bybare[@]}"
report "nsdump ls --containers (goal 200 ms):" "${lsc[@]}"
report "nsdump trace c1 c2 --count 3 (goal 500 ms):" "${trace[@]}"
report "nsdump trace pid:C1 pid:C2 --count 3 (same, by pid):" "${tracepid[@]}"
