#!/usr/bin/env bash
# kill -9 at random instants of `nsdump setup`, `demo`, `trace` and `capture`
# until KILLS processes died of SIGKILL, then checks that setup, ls, teardown
# and `teardown --leftovers` all work and that nothing nsdump did not make
# was touched: bystander namespaces (one with a forged leftover record: its
# inode, another cookie) keep their inode, the host keeps its interfaces.
# After every kill each name of the lab involved must hold nothing, a
# namespace, or an empty file nsdump's record claims; `nsdump ls` of every
# namespace must work and name such a file (checked whenever a kill left
# one, and every 10th attempt: ls is slow on a machine with hundreds). The instants come from bash's RANDOM seeded with SEED: a run is
# replayed by its seed (the machine's load still moves what an instant hits).
# Needs root. Usage: scripts/kill-loop.sh [KILLS] [SEED]
set -euo pipefail
kills=${1:-200}
seed=${2:-14}
cd "$(dirname "$0")/.."
if [[ $EUID -ne 0 ]]; then
  echo "kill-loop.sh: needs root (it builds network namespaces)" >&2
  exit 2
fi

work=$(mktemp -d /tmp/nsdump-kill-loop.XXXXXX)
export NSDUMP_STATE_DIR=$work/state # records of its own: other runs' leftovers are not its business
nsd=$work/nsdump
go build -o "$nsd" ./cmd/nsdump
tag=$(printf %04x $(($$ & 0xffff)))

# lab I: the naming flags of lab I (0: setup kills, 1: demo kills, 2: the lab
# trace and capture run on, built once).
lab() {
  local i=$1
  echo --ns0 "nsdlb-k$i-a$tag" --ns1 "nsdlb-k$i-b$tag" --veth0 "lbk${i}a$tag" --veth1 "lbk${i}b$tag" \
    --addr0 "198.19.$((i * 2)).1/24" --addr1 "198.19.$((i * 2 + 1)).1/24"
}
names() { echo "nsdlb-k$1-a$tag" "nsdlb-k$1-b$tag"; }
bystanders=("nsdlb-by1-$tag" "nsdlb-by2-$tag" "nsdlb-by3-$tag")

cleanup() {
  for i in 0 1 2; do "$nsd" teardown --force $(lab $i) >/dev/null 2>&1 || true; done
  for b in "${bystanders[@]}"; do ip netns del "$b" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP # so that cleanup runs on these too

fail() {
  echo "kill-loop.sh: FAIL: $*" >&2
  exit 1
}

inode() { stat -L -c %i "/run/netns/$1"; }

# Bystanders, and a forged record claiming the first one: its inode, a
# cookie it does not have, a dead process, transient. --leftovers must not
# remove it.
for b in "${bystanders[@]}"; do ip netns add "$b"; done
declare -A byino
for b in "${bystanders[@]}"; do byino[$b]=$(inode "$b"); done
true &
deadpid=$!
wait $deadpid
mkdir -p "$NSDUMP_STATE_DIR/ns"
printf '{"namespace":"%s","pid":%d,"start":0,"inode":%s,"cookie":18446744073709551615,"transient":true}\n' \
  "${bystanders[0]}" "$deadpid" "${byino[${bystanders[0]}]}" >"$NSDUMP_STATE_DIR/ns/${bystanders[0]}"
hostlinks=$(ip -o link show | awk -F': ' '{print $2}' | sort)
others_before=$(ip netns list | awk '{print $1}' | grep -cv -e "^nsdlb-k[0-9]-.$tag\$" -e "^nsdlb-by" || true)

"$nsd" setup --routes $(lab 2) >/dev/null || fail "setup of the trace lab"
trace_ns=($(names 2))

# classify NAME: what /run/netns/NAME holds now.
classify() {
  local n=$1
  if [[ ! -e /run/netns/$n ]]; then
    echo nothing
  elif [[ $(stat -f -c %T "/run/netns/$n") == nsfs ]]; then
    echo namespace
  elif [[ -e $NSDUMP_STATE_DIR/ns/$n ]]; then
    echo claimed-empty-file
  else
    echo unclaimed-empty-file
  fi
}

RANDOM=$seed
declare -A killed finished state
removed_leftovers=0 removed_tables=0 lsruns=0
attempts=0 total=0
start=$EPOCHREALTIME
while ((total < kills)); do
  attempts=$((attempts + 1))
  case $((RANDOM % 4)) in
  0) cmd=(setup $(lab 0)) max=80 l=0
    if ((RANDOM % 2)); then cmd+=(--routes); fi ;;
  1) cmd=(demo -w "$work/demo.pcapng" $(lab 1)) max=800 l=1 ;;
  2) cmd=(trace "${trace_ns[@]}" --count 1 --timeout 300ms --port $((7200 + RANDOM % 200))) max=500 l=2 ;;
  3) cmd=(capture "${trace_ns[0]}" -w "$work/capture.pcapng") max=500 l=2 ;;
  esac
  delay=$(((RANDOM * 32768 + RANDOM) % max))
  "$nsd" "${cmd[@]}" >/dev/null 2>&1 &
  pid=$!
  sleep "$(printf '0.%03d' "$delay")" # the random instant: the point of the test, not synchronisation
  kill -9 "$pid" 2>/dev/null || true
  rc=0
  wait "$pid" 2>/dev/null || rc=$?
  if ((rc == 137)); then
    killed[${cmd[0]}]=$((${killed[${cmd[0]}]:-0} + 1))
    total=$((total + 1))
  else
    finished[${cmd[0]}]=$((${finished[${cmd[0]}]:-0} + 1))
  fi
  halfmade=0
  for n in $(names $l); do
    s=$(classify "$n")
    state[${cmd[0]} $s]=$((${state[${cmd[0]} $s]:-0} + 1))
    [[ $s != unclaimed-empty-file ]] || fail "attempt $attempts (${cmd[*]} killed after ${delay} ms): /run/netns/$n is an empty file no record claims"
    [[ $s != claimed-empty-file ]] || halfmade=1
  done
  # ls of every namespace on the machine (slow where there are hundreds):
  # whenever a kill left an empty file, and every 10th attempt.
  if ((halfmade || attempts % 10 == 0)); then
    lsruns=$((lsruns + 1))
    "$nsd" ls >/dev/null 2>"$work/ls.err" || fail "attempt $attempts (${cmd[0]} after ${delay} ms): ls: $(cat "$work/ls.err")"
    if ((halfmade)) && ! grep -q "killed while creating it" "$work/ls.err"; then
      fail "attempt $attempts: ls did not name the empty file: $(cat "$work/ls.err")"
    fi
  fi
  case ${cmd[0]} in
  setup)
    if ((RANDOM % 2)); then # start the next one from nothing, so kills fall during creation too
      "$nsd" teardown --force $(lab 0) >/dev/null || fail "attempt $attempts: teardown after a killed setup"
    fi ;;
  demo)
    out=$("$nsd" teardown --leftovers) || fail "attempt $attempts: teardown --leftovers after a killed demo"
    removed_leftovers=$((removed_leftovers + $(grep -c "^ip netns del" <<<"$out" || true)))
    for n in $(names 1); do
      [[ ! -e /run/netns/$n ]] || fail "attempt $attempts (demo after ${delay} ms): $n survived teardown --leftovers"
    done ;;
  *)
    out=$("$nsd" setup --routes $(lab 2)) || fail "attempt $attempts: the trace lab after a killed ${cmd[0]}"
    [[ $out == *"already in place"* ]] || fail "attempt $attempts: a killed ${cmd[0]} changed the trace lab: $out"
    if [[ ${cmd[0]} == trace ]]; then
      # The trace's nftables tables (bound to its socket: the kernel drops
      # them with the process) and their records: none after --leftovers.
      out=$("$nsd" teardown --leftovers) || fail "attempt $attempts: teardown --leftovers after a killed trace"
      removed_tables=$((removed_tables + $(grep -c "nsdump_trace_" <<<"$out" || true)))
      for n in "${trace_ns[@]}"; do
        if ip netns exec "$n" nft list tables | grep -q nsdump_trace_; then
          fail "attempt $attempts (trace after ${delay} ms): an nsdump table survived in $n: $(ip netns exec "$n" nft list tables)"
        fi
      done
      [[ -z $(ls -A "$NSDUMP_STATE_DIR/nftables" 2>/dev/null) ]] || fail "attempt $attempts: nftables records left: $(ls "$NSDUMP_STATE_DIR/nftables")"
    fi ;;
  esac
done
elapsed=$(((${EPOCHREALTIME/./} - ${start/./}) / 1000))

# The end: everything works, nothing nsdump did not make was touched.
"$nsd" setup --routes $(lab 0) >/dev/null || fail "setup after the kills"
"$nsd" ls "$(names 0 | cut -d' ' -f1)" | grep -q "lbk0a$tag" || fail "ls after the kills"
"$nsd" teardown $(lab 0) >/dev/null || fail "teardown after the kills"
"$nsd" teardown $(lab 2) >/dev/null || fail "teardown of the trace lab"
out=$("$nsd" teardown --leftovers) || fail "teardown --leftovers at the end"
[[ $out == "no leftovers" ]] || fail "teardown --leftovers at the end removed: $out"
for b in "${bystanders[@]}"; do
  [[ -e /run/netns/$b && $(inode "$b") == "${byino[$b]}" ]] || fail "bystander $b was touched"
done
[[ -z $(ls -A "$NSDUMP_STATE_DIR/ns") ]] || fail "records left: $(ls "$NSDUMP_STATE_DIR/ns")"
left=$(ip netns list | awk '{print $1}' | grep -e "^nsdlb-k[0-9]-.$tag\$" || true)
[[ -z $left ]] || fail "namespaces left: $left"
[[ $(ip -o link show | awk -F': ' '{print $2}' | sort) == "$hostlinks" ]] || fail "the host's interfaces changed"
others_after=$(ip netns list | awk '{print $1}' | grep -cv -e "^nsdlb-k[0-9]-.$tag\$" -e "^nsdlb-by" || true)

echo "seed $seed: $total kills in $attempts attempts, $((elapsed / 1000)).$(printf %03d $((elapsed % 1000))) s, load $(cut -d' ' -f1-3 /proc/loadavg)"
for c in setup demo trace capture; do
  line="  $c: ${killed[$c]:-0} killed, ${finished[$c]:-0} ended before the kill; after it, per lab name:"
  for s in nothing namespace claimed-empty-file; do line+=" $s ${state[$c $s]:-0}"; done
  echo "$line"
done
echo "  nsdump ls of every namespace on the machine ($(ip netns list | wc -l) now): $lsruns times, exit 0 each"
echo "  teardown --leftovers removed $removed_leftovers namespaces or empty files of killed demos"
echo "  teardown --leftovers after killed traces: no nsdump_trace table in the lab, no nftables record left ($removed_tables table lines printed)"
echo "  bystanders ${#bystanders[@]}/${#bystanders[@]} intact (one with a forged leftover record), host interfaces unchanged"
echo "  other namespaces on the machine: $others_before before, $others_after after (other users' tests come and go)"
echo "PASS: setup, ls, teardown and teardown --leftovers work; nothing nsdump did not make was touched"
