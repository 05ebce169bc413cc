#!/usr/bin/env bash
# Start a throwaway OpenLDAP slapd with the reference (Axigen-like) configuration of
# /work/shared/cases/start-reference-slapd.sh and load tests/cases/base.ldif.
# Usage: tests/tools/start-slapd.sh PORT DIR
#   PORT: a free TCP port on 127.0.0.1; DIR: an existing, empty directory (config, db, pid).
# Prints "url=ldap://127.0.0.1:PORT/ pid=N" on success; stop it with: kill "$(cat DIR/slapd.pid)"
set -eu
PORT="$1"
T="$2"
HERE="$(cd "$(dirname "$0")/.." && pwd)"
SLAPD="${SLAPD:-/usr/sbin/slapd}"
mkdir -p "$T/db"
cat > "$T/slapd.conf" <<CONF
include /etc/ldap/schema/core.schema
include /etc/ldap/schema/cosine.schema
include /etc/ldap/schema/inetorgperson.schema
include /etc/ldap/schema/misc.schema
pidfile $T/slapd.pid
argsfile $T/slapd.args
modulepath /usr/lib/ldap
moduleload back_mdb
moduleload syncprov
moduleload memberof
moduleload refint
database mdb
maxsize 67108864
suffix "dc=localdomain,dc=test"
rootdn "cn=admin,dc=localdomain,dc=test"
rootpw secret
directory $T/db
index objectClass eq,pres
index ou,cn,mail,sn,givenName eq,pres,sub
index entryUUID,entryCSN eq
overlay syncprov
overlay memberof
memberof-refint true
overlay refint
refint_attributes member
CONF
"$SLAPD" -f "$T/slapd.conf" -h "ldap://127.0.0.1:$PORT/" 2>"$T/slapd.log"
for _ in $(seq 1 100); do [ -s "$T/slapd.pid" ] && break; sleep 0.1; done
[ -s "$T/slapd.pid" ] || { echo "slapd did not write its pid file" >&2; cat "$T/slapd.log" >&2; exit 1; }
# Wait until it answers, then load the base layout.
for _ in $(seq 1 100); do
    ldapsearch -x -H "ldap://127.0.0.1:$PORT/" -s base -b "" -LLL 1.1 >/dev/null 2>&1 && break
    sleep 0.1
done
ldapadd -x -H "ldap://127.0.0.1:$PORT/" -D cn=admin,dc=localdomain,dc=test -w secret \
    -f "$HERE/cases/base.ldif" >/dev/null
echo "url=ldap://127.0.0.1:$PORT/ pid=$(cat "$T/slapd.pid")"
