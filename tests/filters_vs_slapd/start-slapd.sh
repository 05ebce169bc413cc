#!/usr/bin/env bash
# start-slapd.sh PORT DIR LDIF -- a throwaway Debian slapd configured as in Axigen's
# OpenLDAP integration guide (core/cosine/inetorgperson/misc schemas, back-mdb in place of
# the guide's bdb, the guide's index lines, syncprov and memberof), bulk-loaded with
# `slapadd -q -w` from LDIF before it starts. Adapted from
# /work/shared/tools/slapd-anchor/start.sh (read-only there) for tests/filters_vs_slapd.rs.
#
#   PORT  TCP port; slapd listens on ldap://127.0.0.1:PORT/ only
#   DIR   an existing, empty instance directory: DIR/slapd.conf, DIR/db/, DIR/slapd.pid,
#         DIR/slapd.log, DIR/slapadd.log
#   LDIF  the entries to load
#
# Waits (at most START_TIMEOUT seconds, default 30) until the suffix answers a search and
# prints "pid=N url=ldap://127.0.0.1:PORT/". The caller stops it: kill "$(cat DIR/slapd.pid)".
set -euo pipefail

if [[ $# -ne 3 ]]; then sed -n '2,13p' "$0" | sed 's/^# \{0,1\}//'; exit 2; fi
PORT=$1; DIR=$2; LDIF=$3
SUFFIX="dc=localdomain,dc=test"
ROOTDN="cn=admin,$SUFFIX"
ROOTPW="secret"
URL="ldap://127.0.0.1:$PORT/"
SCHEMA=/etc/ldap/schema
SLAPD=${SLAPD:-/usr/sbin/slapd}
SLAPADD=${SLAPADD:-/usr/sbin/slapadd}

DIR=$(cd "$DIR" && pwd)
mkdir -p "$DIR/db"
cat > "$DIR/slapd.conf" <<CONF
include         $SCHEMA/core.schema
include         $SCHEMA/cosine.schema
include         $SCHEMA/inetorgperson.schema
include         $SCHEMA/misc.schema

allow           bind_v2
pidfile         $DIR/slapd.pid
argsfile        $DIR/slapd.args
loglevel        none

modulepath      /usr/lib/ldap
moduleload      back_mdb
moduleload      syncprov
moduleload      memberof

database        mdb
maxsize         1073741824
suffix          "$SUFFIX"
rootdn          "$ROOTDN"
rootpw          $ROOTPW
directory       $DIR/db

index           objectClass eq,pres
index           ou,cn,mail,surname,givenname eq,pres,sub
index           entryUUID,entryCSN eq

overlay         syncprov
syncprov-checkpoint 100 30
syncprov-sessionlog 1000

overlay         memberof
memberof-refint true
CONF

"$SLAPADD" -f "$DIR/slapd.conf" -q -w -l "$LDIF" > "$DIR/slapadd.log" 2>&1 || {
  echo "start-slapd.sh: slapadd failed, see $DIR/slapadd.log" >&2; tail -5 "$DIR/slapadd.log" >&2; exit 1; }

# slapd forks into the background; the daemon writes DIR/slapd.pid itself.
"$SLAPD" -f "$DIR/slapd.conf" -h "$URL" > "$DIR/slapd.log" 2>&1 || {
  echo "start-slapd.sh: slapd failed to start, see $DIR/slapd.log" >&2; tail -5 "$DIR/slapd.log" >&2; exit 1; }

deadline=$(( $(date +%s) + ${START_TIMEOUT:-30} ))
until ldapsearch -x -LLL -H "$URL" -D "$ROOTDN" -w "$ROOTPW" -b "$SUFFIX" -s base 1.1 >/dev/null 2>&1; do
  if (( $(date +%s) > deadline )); then
    echo "start-slapd.sh: slapd did not answer on $URL within ${START_TIMEOUT:-30}s" >&2
    [[ -s $DIR/slapd.pid ]] && kill "$(cat "$DIR/slapd.pid")" 2>/dev/null || true
    tail -5 "$DIR/slapd.log" >&2; exit 1
  fi
  sleep 0.05
done
for _ in $(seq 100); do [[ -s $DIR/slapd.pid ]] && break; sleep 0.05; done
echo "pid=$(cat "$DIR/slapd.pid") url=$URL"
