#!/usr/bin/env bash
# bench-import.sh: bulk import and re-index of the same generated Axigen-layout directory
# by `oxldap import` / `oxldap index` and by Debian's `slapadd -q -w` / `slapindex -q`
# (the slapd-anchor configuration: back-mdb, the Axigen indexes), alternating
# oxldap, slapd, oxldap, slapd... on the same disk, one line per run with wall time, CPU
# (user + system) and peak RSS from /usr/bin/time, and the load average after each run.
# Issue 4's target: import and re-index of 100,000 entries no slower than slapadd.
#
# Defaults (about 4 minutes on 2 cores): USERS=100000 GROUP_COUNT=500 ROUNDS=3.
# Needs ../shared/tools (read-only), slapd and /usr/bin/time. WORKDIR (default a new
# folder under /tmp) keeps the LDIF between runs when given.
set -euo pipefail
cd "$(dirname "$0")/.."
TOOLS=${TOOLS:-../shared/tools}
USERS=${USERS:-100000}
GROUPS_N=${GROUP_COUNT:-500}
ROUNDS=${ROUNDS:-3}
W=${WORKDIR:-$(mktemp -d /tmp/oxldap-import-bench.XXXXXX)}
mkdir -p "$W"
W=$(cd "$W" && pwd)
TIME=/usr/bin/time
[ -x $TIME ] || { echo "bench-import.sh: needs /usr/bin/time (Debian package time)" >&2; exit 2; }
LDIF="$W/dir-$USERS.ldif"
LDIF_MO="$W/dir-$USERS-memberof.ldif"
# slapadd runs no overlay: its input carries memberOf; oxldap's import computes it.
[ -s "$LDIF" ] || python3 "$TOOLS/gen-directory.py" --users "$USERS" --groups "$GROUPS_N" --seed 1 -o "$LDIF"
[ -s "$LDIF_MO" ] || python3 "$TOOLS/gen-directory.py" --users "$USERS" --groups "$GROUPS_N" --seed 1 --memberof -o "$LDIF_MO"
cargo build --release --quiet
BIN=${BIN:-target/release/oxldap}
# The anchor's slapd.conf: start it once on an empty database, stop it, reuse the file.
"$TOOLS/slapd-anchor/start.sh" 4395 "$W/slapd" >/dev/null
"$TOOLS/slapd-anchor/stop.sh" "$W/slapd" >/dev/null
CONF="$W/slapd/slapd.conf"
measure() { # NAME CMD... : one line "NAME wall=.. cpu=.. maxrss=..", then the load average
  local name=$1; shift
  $TIME -f "$name wall_s=%e cpu_s=%U+%S maxrss_kb=%M" -o "$W/time.out" "$@" >/dev/null 2>"$W/err.out" \
    || { echo "$name failed:" >&2; tail -5 "$W/err.out" >&2; exit 1; }
  echo "$(cat "$W/time.out") load=$(cut -d' ' -f1 /proc/loadavg)"
}
echo "# $USERS users, $GROUPS_N groups; $(nproc) CPUs; $(date -u +%FT%TZ); oxldap $(git rev-parse --short HEAD)"
for r in $(seq 1 "$ROUNDS"); do
  rm -rf "$W/ox"
  measure "oxldap-import" "$BIN" import --data-dir "$W/ox" "$LDIF"
  rm -rf "$W/slapd/db" && mkdir -p "$W/slapd/db"
  measure "slapadd" /usr/sbin/slapadd -q -w -f "$CONF" -l "$LDIF_MO"
  measure "oxldap-index" "$BIN" index --data-dir "$W/ox"
  measure "slapindex" /usr/sbin/slapindex -q -f "$CONF"
done
echo "# data folders: $(du -sh "$W/ox" | cut -f1) (oxldap), $(du -sh "$W/slapd/db" | cut -f1) (slapd)"
[ -n "${WORKDIR:-}" ] || rm -rf "$W"
