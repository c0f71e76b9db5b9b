#!/usr/bin/env bash
# The whole test suite (scripts/test.sh) N times in a row on a loaded
# machine: one busy-loop process per core runs for the whole time. Prints,
# per run, pass or fail, its duration and the load average, and ends with
# the count; exit 1 if any run failed. Each run's output is kept in
# LOGDIR (default: a new directory under /tmp). Needs root, as test.sh;
# root, tool and corpus tests are mandatory here (NSDUMP_REQUIRE_ROOT=1):
# a skip would hide what the load does to them.
# Usage: scripts/load-test.sh [N] [LOGDIR]
set -uo pipefail
export NSDUMP_REQUIRE_ROOT=1
runs=${1:-5}
cd "$(dirname "$0")/.."
logs=${2:-$(mktemp -d /tmp/nsdump-load.XXXXXX)}
mkdir -p "$logs"

hogs=()
stop_hogs() {
  for pid in "${hogs[@]}"; do kill "$pid" 2>/dev/null; done
  for pid in "${hogs[@]}"; do wait "$pid" 2>/dev/null; done
  hogs=()
}
trap stop_hogs EXIT
trap 'exit 130' INT TERM
for _ in $(seq "$(nproc)"); do
  (while :; do :; done) &
  hogs+=($!)
done
loadavg() { cut -d' ' -f1-3 /proc/loadavg; }
echo "$(nproc) cores, ${#hogs[@]} busy loops (pids ${hogs[*]}); load average $(loadavg); logs in $logs"

failed=0
for ((i = 1; i <= runs; i++)); do
  start=$EPOCHSECONDS
  if scripts/test.sh >"$logs/run$i.log" 2>&1; then
    verdict=pass
  else
    verdict=FAIL
    failed=$((failed + 1))
  fi
  echo "run $i: $verdict in $((EPOCHSECONDS - start)) s, load average $(loadavg) (1, 5, 15 min)"
  if [ "$verdict" = FAIL ]; then
    grep -E -- '^(--- FAIL|FAIL|panic:)|_test\.go:[0-9]+:' "$logs/run$i.log" | head -20 | sed 's/^/    /'
  fi
done
stop_hogs
echo "$((runs - failed)) of $runs runs passed"
((failed == 0))
