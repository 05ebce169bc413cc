#!/usr/bin/env bash
# bench-big-group.sh: what adding (then removing) one member of a 50,000-member group
# costs, oxldap against Debian's slapd (issue #5 "Scale"), with ../shared/tools/compare.sh's
# group-modify workload restricted to the big group.
#
# Both servers bulk-load the same generated users (slapadd / oxldap import), then get the
# big group over LDAP with ldapadd (so each one's memberof overlay computes memberOf), then
# run the closed-loop group-modify workload (add a random non-member, next op removes it).
# Bounded by default (about 5 minutes): MEMBERS=50000 ROUNDS=2 DURATION=10 CONNECTIONS=1.
# Needs ../shared/tools (read-only), slapd and ldap-utils. Loopback only.
set -euo pipefail
cd "$(dirname "$0")/.."
TOOLS=${TOOLS:-../shared/tools}
MEMBERS=${MEMBERS:-50000}
USERS=$((MEMBERS + 1000))
export ROUNDS=${ROUNDS:-2} DURATION=${DURATION:-10} WARMUP=${WARMUP:-1}
export CONNECTIONS=${CONNECTIONS:-1} WORKLOADS=group-modify
W=$(mktemp -d /tmp/oxldap-biggroup.XXXXXX)
cleanup() {
  [ -n "${OX_PID:-}" ] && kill "$OX_PID" 2>/dev/null || true
  "$TOOLS/slapd-anchor/stop.sh" "$W/slapd" >/dev/null 2>&1 || true
}
trap cleanup EXIT
python3 "$TOOLS/gen-directory.py" --users "$USERS" --groups 0 --seed 7 -o "$W/users.ldif"
# The big group: the first MEMBERS users (the rest stay non-members for the workload).
python3 - "$W/users.ldif" "$MEMBERS" > "$W/group.ldif" <<'PY'
import sys
members = [l[4:].strip() for l in open(sys.argv[1], encoding="utf-8")
           if l.startswith("dn: uid=")][: int(sys.argv[2])]
print("dn: cn=big,ou=Groups,o=localdomain,dc=localdomain,dc=test")
print("objectClass: groupOfNames")
print("cn: big")
for m in members:
    print("member: " + m)
PY
cargo build --release --quiet
"$TOOLS/slapd-anchor/start.sh" 4392 "$W/slapd" "$W/users.ldif"
SLAPD_PID=$(cat "$W/slapd/slapd.pid")
target/release/oxldap import --data-dir "$W/ox" "$W/users.ldif" >/dev/null 2>&1
target/release/oxldap serve --data-dir "$W/ox" -h ldap://127.0.0.1:4393/ > "$W/ox.url" 2> "$W/ox.log" &
OX_PID=$!
for _ in $(seq 1 100); do grep -q ldap:// "$W/ox.url" && break; sleep 0.1; done
for url in ldap://127.0.0.1:4393/ ldap://127.0.0.1:4392/; do
  start=$(date +%s%N)
  ldapadd -x -H "$url" -D cn=admin,dc=localdomain,dc=test -w secret -f "$W/group.ldif" >/dev/null
  echo "$url: adding the $MEMBERS-member group took $(( ($(date +%s%N) - start) / 1000000 )) ms"
done
PID_A=$OX_PID PID_B=$SLAPD_PID OUTDIR="$W/compare" EXTRA="--group-filter (cn=big)" \
  "$TOOLS/compare.sh" ldap://127.0.0.1:4393/ ldap://127.0.0.1:4392/
echo "raw results: $W/compare"
