#!/usr/bin/env bash
# soak.sh: a bounded soak of oxldap under a mixed read/write load, recording the server's
# resident memory over time and the load's errors, and asserting steady memory.
#
# Load: ../shared/tools/ldapload, workload `mixed` (90% searches, 10% writes: modify,
# add, group-modify), CONNECTIONS closed-loop connections bound as the rootdn, on a
# generated Axigen-layout directory of USERS users imported offline.
# Memory bound: RSS may grow by at most RSS_GROWTH_MB (default 64) between the sample at
# half the run and the largest later sample. The first half is warm-up: sled's page cache
# (default capacity 1 GiB) fills with the database as it is read, which is most of the
# early growth; a leak keeps growing in the second half.
# Errors: the run fails on any ldapload error except the workload's own conflicts between
# concurrent connections (group-modify adding a member another connection just added:
# attributeOrValueExists, 20; no non-member left for a group), which slapd answers the
# same way; those are reported.
#
# Defaults: DURATION=600 (s) CONNECTIONS=64 USERS=5000 SAMPLE=5 (s) PROFILE=release.
# A short run: DURATION=90 scripts/soak.sh. Output: a summary line per figure, and the
# RSS samples in $W/rss.tsv (W printed at the start).
set -euo pipefail
cd "$(dirname "$0")/.."
TOOLS=${TOOLS:-../shared/tools}
DURATION=${DURATION:-600}; CONNECTIONS=${CONNECTIONS:-64}; USERS=${USERS:-5000}
SAMPLE=${SAMPLE:-5}; RSS_GROWTH_MB=${RSS_GROWTH_MB:-64}; PROFILE=${PROFILE:-release}
PORT=${PORT:-4395}
W=$(mktemp -d /tmp/oxldap-soak.XXXXXX)
echo "soak: ${DURATION}s, $CONNECTIONS connections, $USERS users, profile $PROFILE, work dir $W"
cleanup() { [ -n "${OX_PID:-}" ] && kill "$OX_PID" 2>/dev/null || true; }
trap cleanup EXIT

if [ "$PROFILE" = release ]; then cargo build --release --quiet; BIN=target/release/oxldap
else cargo build --quiet; BIN=target/debug/oxldap; fi
LOAD=/tmp/ldapload-target/release/ldapload
[ -x "$LOAD" ] || cargo build --release --quiet --manifest-path "$TOOLS/ldapload/Cargo.toml" --target-dir /tmp/ldapload-target

python3 "$TOOLS/gen-directory.py" --users "$USERS" --groups 50 --seed 3 -o "$W/dir.ldif"
"$BIN" import --data-dir "$W/data" "$W/dir.ldif" >/dev/null 2>&1
"$BIN" serve --data-dir "$W/data" -h "ldap://127.0.0.1:$PORT/" --ready-file "$W/ready" \
  > /dev/null 2> "$W/server.log" &
OX_PID=$!
for _ in $(seq 1 200); do [ -s "$W/ready" ] && break; sleep 0.1; done
[ -s "$W/ready" ] || { echo "server did not start"; cat "$W/server.log"; exit 1; }

rss() { awk '/VmRSS/ {print $2}' "/proc/$OX_PID/status"; }
fds() { ls "/proc/$OX_PID/fd" | wc -l; }
( start=$(date +%s)
  while kill -0 "$OX_PID" 2>/dev/null; do
    printf '%s\t%s\t%s\n' "$(( $(date +%s) - start ))" "$(rss)" "$(fds)"
    sleep "$SAMPLE"
  done ) > "$W/rss.tsv" &
SAMPLER=$!

"$LOAD" --url "ldap://127.0.0.1:$PORT" --bind-dn "cn=admin,dc=localdomain,dc=test" \
  --password secret --base "dc=localdomain,dc=test" --workload mixed \
  --connections "$CONNECTIONS" --duration "$DURATION" --warmup 2 --threads 1 --cleanup \
  --server-pid "$OX_PID" > "$W/load.json"
sleep "$SAMPLE"
kill "$SAMPLER" 2>/dev/null || true

python3 - "$W" "$DURATION" "$RSS_GROWTH_MB" <<'PY'
import json, sys
w, duration, bound_mb = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
load = json.loads(open(f"{w}/load.json").read().strip().splitlines()[-1])
rows = [l.split("\t") for l in open(f"{w}/rss.tsv") if l.strip()]
samples = [(int(t), int(r), int(f)) for t, r, f in rows if r]
warm = [s for s in samples if s[0] >= duration // 2] or samples
base, peak, last = warm[0][1], max(s[1] for s in warm), warm[-1][1]
growth = (peak - base) / 1024
print(f"ops/s: {load.get('ops_per_sec')}  ops: {load.get('ops')}  errors: {load.get('errors')}"
      f"  p50/p99 us: {load.get('p50_us')}/{load.get('p99_us')}")
print(f"RSS MiB: start {samples[0][1]/1024:.1f}, at half-time {base/1024:.1f},"
      f" peak {peak/1024:.1f}, end {last/1024:.1f}; growth {growth:.1f} MiB (bound {bound_mb})")
print(f"open fds: max {max(s[2] for s in samples)}; samples: {len(samples)}")
ok = True
kinds = load.get("errors_by_kind") or {}
conflicts = {k: v for k, v in kinds.items()
             if "attributeOrValueExists" in k or "no non-member" in k}
real = load.get("errors", 1) - sum(conflicts.values())
if conflicts:
    print(f"workload conflicts (not server errors): {conflicts}")
if real != 0:
    print(f"FAIL: {real} errors: {kinds}"); ok = False
if growth > bound_mb:
    print("FAIL: memory grew beyond the bound"); ok = False
print("soak: PASS" if ok else "soak: FAIL")
sys.exit(0 if ok else 1)
PY
