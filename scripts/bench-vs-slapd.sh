#!/usr/bin/env bash
# bench-vs-slapd.sh: the same LDAP workloads against oxldap and a Debian slapd holding the
# same generated Axigen-layout directory, alternating A B A B (../shared/tools/compare.sh),
# and print the table of medians with the oxldap/slapd ratio per workload.
#
# Bounded by default (about 4 minutes): USERS=10000 GROUP_COUNT=100 ROUNDS=2 DURATION=5
# WORKLOADS="bind search-eq search-sub search-pres-and search-base modify".
# Needs ../shared/tools (read-only) and slapd (scripts/test.sh installs it). Loopback only.
set -euo pipefail
cd "$(dirname "$0")/.."
TOOLS=${TOOLS:-../shared/tools}
USERS=${USERS:-10000}
# GROUP_COUNT, not GROUPS: bash sets $GROUPS to the caller's group ids (0 for root), which
# silently generated directories without groups.
GROUPS_N=${GROUP_COUNT:-100}
export ROUNDS=${ROUNDS:-2} DURATION=${DURATION:-5} WARMUP=${WARMUP:-1}
export WORKLOADS=${WORKLOADS:-"bind search-eq search-sub search-pres-and search-base modify"}
export CONNECTIONS=${CONNECTIONS:-4}
W=$(mktemp -d /tmp/oxldap-bench.XXXXXX)
cleanup() {
  [ -n "${OX_PID:-}" ] && kill "$OX_PID" 2>/dev/null || true
  "$TOOLS/slapd-anchor/stop.sh" "$W/slapd" >/dev/null 2>&1 || true
}
trap cleanup EXIT
python3 "$TOOLS/gen-directory.py" --users "$USERS" --groups "$GROUPS_N" --seed 7 -o "$W/dir.ldif"
python3 "$TOOLS/gen-directory.py" --users "$USERS" --groups "$GROUPS_N" --seed 7 --memberof -o "$W/dir-memberof.ldif"
cargo build --release --quiet
# slapd: bulk-loaded with slapadd (memberOf precomputed, as slapadd runs no overlay).
"$TOOLS/slapd-anchor/start.sh" 4390 "$W/slapd" "$W/dir-memberof.ldif"
SLAPD_PID=$(cat "$W/slapd/slapd.pid")
# oxldap: the same data imported offline (its overlays compute memberOf on import).
start=$(date +%s%N)
target/release/oxldap import --data-dir "$W/ox" "$W/dir.ldif" >/dev/null 2>&1
echo "oxldap import of $USERS users: $(( ($(date +%s%N) - start) / 1000000 )) ms"
target/release/oxldap serve --data-dir "$W/ox" -h ldap://127.0.0.1:4391/ > "$W/ox.url" 2> "$W/ox.log" &
OX_PID=$!
for _ in $(seq 1 100); do grep -q ldap:// "$W/ox.url" && break; sleep 0.1; done
PID_A=$OX_PID PID_B=$SLAPD_PID OUTDIR="$W/compare" USERS=$USERS \
  "$TOOLS/compare.sh" ldap://127.0.0.1:4391/ ldap://127.0.0.1:4390/
echo "raw results: $W/compare"
