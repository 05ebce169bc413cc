#!/usr/bin/env bash
# crash-test.sh: kill -9 oxldap at random moments during a mixed write load (4 clients:
# adds, description modifies, deletes, group joins with memberOf), restart it on the same
# data, and check with `oxldap verify` and with the clients' own records that every
# acknowledged write is there and the one write in flight per client is wholly applied
# or wholly absent. The logic is tests/crash_safety.rs; this runs it with more cycles.
#
# Usage: scripts/crash-test.sh [CYCLES] [SEED]     (default 20 cycles, seed 24301;
# about 1.5 s per cycle plus the build). Exit status 0 only when every cycle passed.
set -euo pipefail
cd "$(dirname "$0")/.."
export CRASH_CYCLES=${1:-${CRASH_CYCLES:-20}}
export CRASH_SEED=${2:-${CRASH_SEED:-24301}}
echo "crash test: $CRASH_CYCLES kill -9 cycles, seed $CRASH_SEED"
start=$(date +%s)
cargo test --quiet --test crash_safety kill_9_during_mixed_writes_keeps_every_acknowledged_write \
  -- --nocapture 2>&1 | grep -E "^cycle|test result|panicked|FAILED|acknowledged" 
echo "crash test: passed $CRASH_CYCLES cycles in $(( $(date +%s) - start )) s"
