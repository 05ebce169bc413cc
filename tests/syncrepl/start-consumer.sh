#!/usr/bin/env bash
# Start a throwaway OpenLDAP slapd that replicates dc=localdomain,dc=test from an RFC 4533
# provider (oxldap) with syncrepl. Used by tests/syncrepl.rs.
# Usage: tests/syncrepl/start-consumer.sh PORT DIR PROVIDER_URL TYPE
#   PORT: a free TCP port on 127.0.0.1 (may differ between restarts);
#   DIR: the consumer's folder (config, db, pid, log); when DIR/slapd.conf exists the
#        consumer is restarted on it unchanged, so it resumes from the cookie it stored;
#   PROVIDER_URL: e.g. ldap://127.0.0.1:3389/;
#   TYPE: refreshOnly or refreshAndPersist.
# Prints "url=ldap://127.0.0.1:PORT/ pid=N" once it answers; stop it with
# kill "$(cat DIR/slapd.pid)".
set -eu
PORT="$1"
T="$2"
PROVIDER="$3"
TYPE="$4"
SLAPD="${SLAPD:-/usr/sbin/slapd}"
mkdir -p "$T/db"
rm -f "$T/slapd.pid"
case "$TYPE" in
refreshOnly) SCHEDULE="interval=00:00:00:01" ;;
refreshAndPersist) SCHEDULE='retry="1 +"' ;;
*) echo "TYPE must be refreshOnly or refreshAndPersist" >&2; exit 2 ;;
esac
if [ ! -e "$T/slapd.conf" ]; then
    # `moduleload memberof` without `overlay memberof`: loading the module registers the
    # memberOf attribute type (which the provider sends, as an operational attribute, with
    # attrs="*,+"), but without the overlay the consumer does not maintain memberOf itself,
    # so what it holds is exactly what the provider replicated and memberOf can be compared.
    # Without the module slapd answers 80 (other) to the replicated add of any member entry
    # ("UNKNOWN attributeDescription MEMBEROF") and the refresh never completes.
    cat > "$T/slapd.conf" <<CONF
include /etc/ldap/schema/core.schema
include /etc/ldap/schema/cosine.schema
include /etc/ldap/schema/inetorgperson.schema
include /etc/ldap/schema/misc.schema
pidfile $T/slapd.pid
argsfile $T/slapd.args
modulepath /usr/lib/ldap
moduleload back_mdb
moduleload memberof
database mdb
maxsize 67108864
suffix "dc=localdomain,dc=test"
rootdn "cn=admin,dc=localdomain,dc=test"
rootpw secret
directory $T/db
index objectClass eq
index entryUUID,entryCSN eq
syncrepl rid=001
  provider=$PROVIDER
  type=$TYPE
  $SCHEDULE
  searchbase="dc=localdomain,dc=test"
  bindmethod=simple
  binddn="cn=admin,dc=localdomain,dc=test"
  credentials=secret
  schemachecking=off
  scope=sub
  attrs="*,+"
CONF
fi
# -d sync keeps slapd in the foreground with its replication log; detach it here.
nohup "$SLAPD" -f "$T/slapd.conf" -h "ldap://127.0.0.1:$PORT/" -d sync >>"$T/slapd.log" 2>&1 </dev/null &
for _ in $(seq 1 100); do [ -s "$T/slapd.pid" ] && break; sleep 0.1; done
[ -s "$T/slapd.pid" ] || { echo "slapd did not write its pid file" >&2; tail -50 "$T/slapd.log" >&2; exit 1; }
for _ in $(seq 1 100); do
    ldapsearch -x -H "ldap://127.0.0.1:$PORT/" -s base -b "" -LLL 1.1 >/dev/null 2>&1 && break
    sleep 0.1
done
ldapsearch -x -H "ldap://127.0.0.1:$PORT/" -s base -b "" -LLL 1.1 >/dev/null 2>&1 ||
    { echo "slapd does not answer on port $PORT" >&2; tail -50 "$T/slapd.log" >&2; exit 1; }
echo "url=ldap://127.0.0.1:$PORT/ pid=$(cat "$T/slapd.pid")"
