#!/usr/bin/env bash
# callgrind-search.sh: server instructions per search and per returned entry, for oxldap
# and slapd on the same generated directory, counted by callgrind (noise-free, unlike
# throughput on a shared machine). Not a test; a measurement for BENCHMARKS.md.
#
# For each server: start it under `valgrind --tool=callgrind`, run one pass of python-ldap
# searches to warm caches, zero the counters, run the same pass again, dump, and divide
# the instructions by the searches and by the entries returned. Two passes:
#   pres-and  N1 searches (&(objectClass=inetOrgPerson)(givenName=<random>)), all attrs
#   eq        N2 searches (mail=<random>), all attributes
#   base      N2 base-scope searches of a random user's DN, all attributes
# KINDS="pres-and" picks passes; NO_SLAPD=1 measures oxldap only. AS_USER=1 binds as the
# first user (uid=..., password pw-<uid>, under access control) instead of the rootdn.
# KEEP=DIR keeps the callgrind outputs there (for callgrind_annotate --inclusive=yes).
# Bounded: about 5 minutes with the defaults (USERS=10000 GROUP_COUNT=100 N1=40 N2=800).
# Needs valgrind, python3-ldap, slapd and ../shared/tools (read-only).
# BIN=path measures another oxldap build (default: this tree's release build).
set -euo pipefail
cd "$(dirname "$0")/.."
TOOLS=${TOOLS:-../shared/tools}
USERS=${USERS:-10000}
GROUPS_N=${GROUP_COUNT:-100}
N1=${N1:-40}
N2=${N2:-800}
command -v valgrind >/dev/null || { echo "callgrind-search.sh: needs valgrind" >&2; exit 2; }
W=$(mktemp -d /tmp/oxldap-callgrind.XXXXXX)
PID=
cleanup() { [ -n "$PID" ] && kill "$PID" 2>/dev/null || true; }
trap cleanup EXIT
python3 "$TOOLS/gen-directory.py" --users "$USERS" --groups "$GROUPS_N" --seed 7 -o "$W/dir.ldif"
python3 "$TOOLS/gen-directory.py" --users "$USERS" --groups "$GROUPS_N" --seed 7 --memberof -o "$W/dir-mo.ldif"
BIN=${BIN:-}
if [ -z "$BIN" ]; then
  cargo build --release --quiet --bin oxldap
  BIN=target/release/oxldap
fi
"$BIN" import --data-dir "$W/ox" "$W/dir.ldif" >/dev/null 2>&1
SLAPD_MAXSIZE=1073741824 "$TOOLS/slapd-anchor/start.sh" 4801 "$W/sl" "$W/dir-mo.ldif" >/dev/null
"$TOOLS/slapd-anchor/stop.sh" "$W/sl" >/dev/null

# The client: N searches of one kind with a fixed seed; prints the entries returned.
cat > "$W/client.py" <<'EOF'
import ldap, random, sys
url, kind, n, ldif, as_user = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4], sys.argv[5]
attr = {"pres-and": "givenName", "eq": "mail", "base": "dn"}[kind]
vals = sorted({l.split(": ", 1)[1].strip() for l in open(ldif) if l.startswith(attr + ": ")})
users = [v for v in vals if v.startswith("uid=")] if kind == "base" else vals
r = random.Random(1)
c = ldap.initialize(url)
if as_user:
    uid = next(l.split(": ", 1)[1].strip() for l in open(ldif) if l.startswith("uid: "))
    c.simple_bind_s(f"uid={uid},ou=Users,o=localdomain,dc=localdomain,dc=test", f"pw-{uid}")
else:
    c.simple_bind_s("cn=admin,dc=localdomain,dc=test", "secret")
got = 0
for _ in range(n):
    v = r.choice(users)
    if kind == "base":
        got += len(c.search_s(v, ldap.SCOPE_BASE, "(objectClass=*)", ["*"]))
        continue
    f = f"(&(objectClass=inetOrgPerson)(givenName={v}))" if kind == "pres-and" else f"(mail={v})"
    got += len(c.search_s("dc=localdomain,dc=test", ldap.SCOPE_SUBTREE, f, ["*"]))
print(got)
EOF

# measure NAME PORT KIND N -- COMMAND...: the server COMMAND under callgrind.
measure() {
  local name=$1 port=$2 kind=$3 n=$4; shift 5
  local url="ldap://127.0.0.1:$port/"
  valgrind --tool=callgrind --callgrind-out-file="$W/cg-$name-$kind.out" "$@" -h "$url" \
    >/dev/null 2>"$W/cg-$name-$kind.log" &
  PID=$!
  for _ in $(seq 600); do ldapsearch -x -H "$url" -s base -b "" >/dev/null 2>&1 && break; sleep 0.2; done
  /usr/bin/python3 "$W/client.py" "$url" "$kind" "$n" "$W/dir.ldif" "${AS_USER:-}" >/dev/null
  callgrind_control -z "$PID" >/dev/null 2>&1
  local entries
  entries=$(/usr/bin/python3 "$W/client.py" "$url" "$kind" "$n" "$W/dir.ldif" "${AS_USER:-}")
  callgrind_control -d "$PID" >/dev/null 2>&1
  kill "$PID"; wait "$PID" 2>/dev/null || true; PID=
  local out ir
  out=$(ls -t "$W/cg-$name-$kind.out".* | head -1)
  ir=$(callgrind_annotate "$out" 2>/dev/null | awk '/PROGRAM TOTALS/ { gsub(",", "", $1); print $1; exit }')
  # (awk reads to the end: exiting early would kill callgrind_annotate with SIGPIPE,
  # which pipefail and set -e turn into a silent exit.)
  # sled's background flusher (segment cleaning after the import) runs by the clock, not
  # per search: its share grows with the wall time the pass takes on a loaded machine.
  bg=$(callgrind_annotate --inclusive=yes "$out" 2>/dev/null | awk '/sled::flusher::run/ && !d { gsub(",", "", $1); print $1; d = 1 }')
  python3 -c "import sys; ir, n, e, bg = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[6] or 0); print(f'{sys.argv[4]:7} {sys.argv[5]:9} searches {n:5}  entries {e:6}  instructions/search {ir/n/1e3:8.1f}k  /entry {ir/e/1e3:7.1f}k  without sled flusher: /search {(ir-bg)/n/1e3:8.1f}k')" \
    "$ir" "$n" "$entries" "$name" "$kind" "${bg:-0}"
  if [ -n "${KEEP:-}" ]; then mkdir -p "$KEEP"; cp "$out" "$KEEP/cg-$name-$kind.out"; fi
}

for kind in ${KINDS:-pres-and eq base}; do
  n=$N1; [ "$kind" != pres-and ] && n=$N2
  rm -rf "$W/ox-run"; cp -r "$W/ox" "$W/ox-run"
  measure oxldap 4802 "$kind" "$n" -- "$BIN" serve --data-dir "$W/ox-run"
  rm -rf "$W/sl-run"; cp -r "$W/sl" "$W/sl-run"
  sed -i "s#$W/sl/#$W/sl-run/#g; s#$W/sl\$#$W/sl-run#" "$W/sl-run/slapd.conf"
  [ -n "${NO_SLAPD:-}" ] || measure slapd 4803 "$kind" "$n" -- /usr/sbin/slapd -d 0 -f "$W/sl-run/slapd.conf"
done
rm -rf "$W"
