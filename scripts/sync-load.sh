#!/usr/bin/env bash
# sync-load.sh: the content-sync load check of issue 6 (not a timed test).
#
# Runs WRITES modifies (default 10,000) through one ldapmodify against oxldap (or slapd: see
# TARGET below) twice: once
# with no consumer, once while CONSUMERS (default 16) persistent sync searches
# (`ldapsearch -E sync=rp`, refreshAndPersist) are open. Checks that every consumer received
# every change exactly once and in CSN order (the cookies of its persisted Sync State
# messages strictly increase and there are exactly WRITES of them, all "modified", the same
# CSNs for every consumer), and prints the writer throughput of both runs.
#
# Bounded: each run stops by itself (consumers are given at most WAIT seconds to catch up).
# Loopback only. Needs ldap-utils and python3 (scripts/test.sh installs them).
# Usage: scripts/sync-load.sh            (builds the release binary if needed)
#        BIN=target/debug/oxldap CONSUMERS=4 WRITES=1000 scripts/sync-load.sh
#        NICE=19 scripts/sync-load.sh   (consumer processes niced: on a small machine the
#                                         16 ldapsearch processes otherwise compete with
#                                         the server for CPU, which is not the server's cost)
#        TARGET=both NICE=19 scripts/sync-load.sh
#        SYSCALLS=1 ...                 (also counts the server's write/send system calls and
#                                         context switches per write with `perf stat`)
#
# TARGET picks the server: oxldap (default), slapd, or both (oxldap's two runs, then
# slapd's, in one go, and both ratios at the end). slapd is the Axigen-guide "anchor" of
# ../shared/tools/slapd-anchor/start.sh (back-mdb, syncprov with `syncprov-checkpoint 100
# 30` and `syncprov-sessionlog 1000`, memberof), or tests/tools/start-slapd.sh (plain
# syncprov) when ../shared is not beside the repo (SLAPD_ANCHOR names another folder
# holding start.sh and stop.sh). Like with like: oxldap runs with --memory (no fsync), and
# slapd's instance directory is on a tmpfs (SLAPD_DIR_ROOT, default /dev/shm), where
# back-mdb's commit-time fsync costs nothing, so neither server pays for durability.
set -euo pipefail
cd "$(dirname "$0")/.."
CONSUMERS=${CONSUMERS:-16}
WRITES=${WRITES:-10000}
USERS=${USERS:-200}
WAIT=${WAIT:-120}
NICE=${NICE:-0}
SYSCALLS=${SYSCALLS:-0}
TARGET=${TARGET:-oxldap}
BIN=${BIN:-target/release/oxldap}
SLAPD_DIR_ROOT=${SLAPD_DIR_ROOT:-/dev/shm}
case "$TARGET" in
  oxldap) TARGETS=(oxldap) ;;
  slapd) TARGETS=(slapd) ;;
  both) TARGETS=(oxldap slapd) ;;
  *) echo "TARGET must be oxldap, slapd or both" >&2; exit 2 ;;
esac
if [ "$TARGET" != slapd ]; then
  [ -x "$BIN" ] || cargo build --release --quiet --bin oxldap
fi
ANCHOR=${SLAPD_ANCHOR:-../shared/tools/slapd-anchor}
W=$(mktemp -d /tmp/oxldap-syncload.XXXXXX)
SD=
PIDS=()
OX_PID=
SLAPD_RUN=
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  [ -n "$OX_PID" ] && [ -z "$SLAPD_RUN" ] && kill "$OX_PID" 2>/dev/null || true
  stop_slapd
  [ -n "$SD" ] && rm -rf "$SD"
}
trap cleanup EXIT
AUTH=(-x -D "cn=admin,dc=localdomain,dc=test" -w secret)
USERS_DN="ou=Users,o=localdomain,dc=localdomain,dc=test"

python3 - "$USERS" "$WRITES" "$W" "$USERS_DN" <<'EOF'
import sys
users, writes, w, base = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4]
with open(f"{w}/users.ldif", "w") as f:
    for n in range(users):
        f.write(f"dn: uid=load{n},{base}\nobjectClass: inetOrgPerson\nuid: load{n}\n"
                f"cn: Load {n}\nsn: S{n}\n\n")
with open(f"{w}/mods.ldif", "w") as f:
    for i in range(writes):
        f.write(f"dn: uid=load{i % users},{base}\nchangetype: modify\n"
                f"replace: description\ndescription: write {i}\n\n")
EOF

# stop_slapd: stops the slapd of the current run, if any.
stop_slapd() {
  [ -n "$SLAPD_RUN" ] || return 0
  if [ -d "$ANCHOR" ]; then
    "$ANCHOR/stop.sh" "$SLAPD_RUN" >/dev/null 2>&1 || true
  elif [ -s "$SLAPD_RUN/slapd.pid" ]; then
    local p
    p=$(cat "$SLAPD_RUN/slapd.pid")
    kill "$p" 2>/dev/null || true
    for _ in $(seq 1 100); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
  fi
  SLAPD_RUN=
}

# start_server KIND NAME: starts a fresh server holding only the Axigen base entries;
# sets URL and OX_PID (the server process, whose CPU is counted).
start_server() {
  if [ "$1" = oxldap ]; then
    "$BIN" serve --memory -h ldap://127.0.0.1:0/ >"$W/$2.url" 2>"$W/$2.log" &
    OX_PID=$!
    for _ in $(seq 1 100); do grep -qs ldap:// "$W/$2.url" && break; sleep 0.1; done
    URL=$(head -1 "$W/$2.url")
    return
  fi
  [ -n "$SD" ] || SD=$(mktemp -d "$SLAPD_DIR_ROOT/oxldap-syncload-slapd.XXXXXX")
  SLAPD_RUN="$SD/$2"
  mkdir -p "$SLAPD_RUN"
  local port
  port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  if [ -d "$ANCHOR" ]; then
    python3 "$ANCHOR/../gen-directory.py" --users 0 --groups 0 -o "$W/base.ldif"
    SLAPD_MAXSIZE=1073741824 "$ANCHOR/start.sh" "$port" "$SLAPD_RUN" "$W/base.ldif" >"$W/$2.log"
  else
    tests/tools/start-slapd.sh "$port" "$SLAPD_RUN" >"$W/$2.log"
  fi
  OX_PID=$(cat "$SLAPD_RUN/slapd.pid")
  URL="ldap://127.0.0.1:$port/"
}

# cpu_ms PID: user+system CPU time of a process so far, in ms (from /proc/PID/stat).
cpu_ms() {
  awk -v hz="$(getconf CLK_TCK)" '{ print int(($14 + $15) * 1000 / hz) }' "/proc/$1/stat"
}

# clients_cpu_ms: CPU time of the consumer processes so far, in ms.
clients_cpu_ms() {
  local sum=0 p
  for p in "${PIDS[@]}"; do sum=$((sum + $(cpu_ms "$p" 2>/dev/null || echo 0))); done
  echo "$sum"
}

stop_server() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  PIDS=()
  if [ -n "$SLAPD_RUN" ]; then
    stop_slapd
  else
    kill "$OX_PID" 2>/dev/null || true
    wait "$OX_PID" 2>/dev/null || true
  fi
  OX_PID=
}

# run KIND NAME CONSUMERS: prints the writer's modifies per second.
run() {
  local kind=$1 name=$2 n=$3
  start_server "$kind" "$name"
  ldapadd -H "$URL" "${AUTH[@]}" -f "$W/users.ldif" >/dev/null
  for i in $(seq 1 "$n"); do
    nice -n "$NICE" stdbuf -oL ldapsearch -H "$URL" "${AUTH[@]}" -o ldif-wrap=no -b "$USERS_DN" \
      -E sync=rp entryUUID >"$W/$name.c$i.out" 2>&1 &
    PIDS+=($!)
  done
  for i in $(seq 1 "$n"); do
    for _ in $(seq 1 600); do
      grep -qs "switching to persist stage" "$W/$name.c$i.out" && break
      sleep 0.1
    done
  done
  local t0 t1 c0 c1
  c0=$(cpu_ms "$OX_PID")
  local k0 perf_pid=
  k0=$(clients_cpu_ms)
  if [ "$SYSCALLS" = 1 ]; then
    # Counts the server's socket sends and context switches over the measured interval.
    perf stat -x, -o "$W/$name.perf" -p "$OX_PID" \
      -e syscalls:sys_enter_sendto,syscalls:sys_enter_write,syscalls:sys_enter_writev,sched:sched_switch &
    perf_pid=$!
  fi
  t0=$(date +%s%N)
  ldapmodify -H "$URL" "${AUTH[@]}" -f "$W/mods.ldif" >/dev/null
  t1=$(date +%s%N)
  if [ "$n" -gt 0 ]; then
    local deadline=$((SECONDS + WAIT))
    for i in $(seq 1 "$n"); do
      while [ "$(grep -c '^# cookie:' "$W/$name.c$i.out" || true)" -le "$WRITES" ] &&
        [ $SECONDS -lt $deadline ]; do
        sleep 0.2
      done
    done
    sleep 0.5
  fi
  # Server CPU from the first write until every consumer has every change.
  c1=$(cpu_ms "$OX_PID")
  local k1 counts=
  k1=$(clients_cpu_ms)
  if [ -n "$perf_pid" ]; then
    kill -INT "$perf_pid" 2>/dev/null || true
    wait "$perf_pid" 2>/dev/null || true
    counts=$(awk -F, -v w="$WRITES" '$3 ~ /sched_switch/ { sw = $1 } $3 ~ /sys_enter_(sendto|write|writev)$/ { wr += $1 }
      END { printf "; server: %.1f send/write syscalls and %.1f context switches per write", wr / w, sw / w }' "$W/$name.perf")
  fi
  echo "$name: $WRITES modifies in $(((t1 - t0) / 1000000)) ms =" \
    "$((WRITES * 1000000000 / (t1 - t0))) writes/s with $n persistent searches;" \
    "$kind CPU $((c1 - c0)) ms = $(((c1 - c0) * 1000 / WRITES)) µs per write," \
    "consumers' CPU $((k1 - k0)) ms$counts" | tee -a "$W/summary"
  echo "$((WRITES * 1000000000 / (t1 - t0)))" >"$W/$name.rate"
  stop_server
}

for kind in "${TARGETS[@]}"; do
  run "$kind" "$kind-baseline" 0
  run "$kind" "$kind-consumers" "$CONSUMERS"
done

for kind in "${TARGETS[@]}"; do
  python3 - "$W" "$CONSUMERS" "$WRITES" "$kind" <<'EOF'
import sys
w, n, writes, kind = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
reference = None
for i in range(1, n + 1):
    text = open(f"{w}/{kind}-consumers.c{i}.out").read()
    _, _, persisted = text.partition("switching to persist stage")
    states, csns = [], []
    for line in persisted.splitlines():
        if line.startswith("# SyncState control, UUID "):
            states.append(line.rsplit(" ", 1)[1])
        elif line.startswith("# cookie: "):
            csns.append(line.split("csn=", 1)[1].split(",")[0])
    problems = []
    if len(states) != writes or len(csns) != writes:
        problems.append(f"{len(states)} changes and {len(csns)} cookies, expected {writes}")
    if any(s != "modified" for s in states):
        problems.append("a change that is not 'modified'")
    if any(b <= a for a, b in zip(csns, csns[1:])):
        problems.append("cookies not strictly increasing (duplicate or out of CSN order)")
    if reference is None:
        reference = csns
    elif csns != reference:
        problems.append("different CSNs than consumer 1")
    if problems:
        print(f"{kind} consumer {i}: FAILED: " + "; ".join(problems))
        sys.exit(1)
base = int(open(f"{w}/{kind}-baseline.rate").read())
with_n = int(open(f"{w}/{kind}-consumers.rate").read())
print(f"{kind}: all {n} consumers received all {writes} changes exactly once, in CSN order;"
      f" writer throughput with {n} consumers / with none = {with_n} / {base} = {with_n / base:.2f}")
EOF
done
echo "logs and consumer outputs: $W"
