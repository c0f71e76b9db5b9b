#!/usr/bin/env bash
# How long an nsdump command takes from exec to exit when it does little:
# `nsdump route --help` and `nsdump read` of a small file, RUNS times each,
# median and mean in ms; with REV, the same for the tree at that git
# revision first (built from `git archive`), to compare. No root needed.
# Usage: scripts/bench-start.sh [RUNS] [REV]
set -euo pipefail
runs=${1:-200}
rev=${2:-}
cd "$(dirname "$0")/.."
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
go build -o "$dir/now" ./cmd/nsdump
bins=(now)
if [ -n "$rev" ]; then
  mkdir "$dir/src"
  git archive "$rev" | tar -x -C "$dir/src"
  (cd "$dir/src" && go build -o "$dir/then" ./cmd/nsdump)
  bins=(then now)
fi
file=testdata/pcaps/healthy.pcapng

# The binaries take turns, run by run, so that a machine busier at one
# moment than another weighs on both alike.
python3 - "$runs" "$dir" "$file" "$rev" "${bins[@]}" <<'EOF'
import subprocess, sys, time, statistics
runs, dir, file, rev, bins = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5:]
cmds = {"nsdump route --help": ["route", "--help"], "nsdump read FILE": ["read", file]}
ts = {(b, c): [] for b in bins for c in cmds}
for _ in range(runs):
    for c, args in cmds.items():
        for b in bins:
            t = time.perf_counter()
            subprocess.run([f"{dir}/{b}"] + args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            ts[(b, c)].append((time.perf_counter() - t) * 1000)
for c in cmds:
    for b in bins:
        v = ts[(b, c)]
        label = rev if b == "then" else "working tree"
        print(f"{label:14} {c:22} median {statistics.median(v):6.2f} ms  mean {statistics.mean(v):6.2f} ms  max {max(v):6.2f} ms")
EOF
