#!/bin/sh
# Instructions per verification, repeatable on a loaded machine (valgrind's callgrind counts them):
# runs `bench/verify-cost.js` for MODE with A and B calls and divides the difference of the totals
# by B − A, so start-up, minting and warm-up cancel out. Slow (about a minute a run).
#   sh bench/verify-instructions.sh [mode=miss] [A=200] [B=1200]   (BENCH_DIST=… for another build)
set -eu
mode=${1:-miss}
a=${2:-200}
b=${3:-1200}
count() {
  BENCH_MODES=$mode BENCH_CALLS=$1 valgrind --tool=callgrind --callgrind-out-file=/dev/null \
    node "$(dirname "$0")/verify-cost.js" 2>&1 | sed -n 's/.*Collected : \([0-9]*\).*/\1/p'
}
ia=$(count "$a")
ib=$(count "$b")
echo "$mode: $(( (ib - ia) / (b - a) )) instructions per call ($a → $b calls: $ia → $ib)"
