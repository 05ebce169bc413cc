#!/usr/bin/python3
"""One RFC 4533 refreshOnly search with python-ldap's SyncreplConsumer.

Usage: refresh.py URL BASE BINDDN PASSWORD [COOKIE [FILTER]]

Prints, one per line, in the order the messages arrive:
  entry DN          an entry sent in full (Sync State add or modify)
  present UUID      an entryUUID reported present (Sync State present or a syncIdSet),
                    not counting the implicit "present" python-ldap derives from an entry
  delete UUID       an entryUUID reported deleted
  done refreshDeletes=BOOL   the end of the refresh (Sync Done)
  cookie COOKIE     the last cookie the provider sent, or the one given when the
                    provider sent none (printed last)
Exits 0 on success; on an LDAP error prints "error CLASS: INFO" and exits 1.
"""
import sys

import ldap
import ldap.ldapobject
from ldap.syncrepl import SyncreplConsumer


class Consumer(ldap.ldapobject.SimpleLDAPObject, SyncreplConsumer):
    def __init__(self, url, cookie):
        ldap.ldapobject.SimpleLDAPObject.__init__(self, url)
        self.cookie = cookie
        self.sent = set()

    def syncrepl_get_cookie(self):
        return self.cookie

    def syncrepl_set_cookie(self, cookie):
        self.cookie = cookie

    def syncrepl_entry(self, dn, attrs, uuid):
        self.sent.add(uuid)
        print("entry " + dn, flush=True)

    def syncrepl_present(self, uuids, refreshDeletes=False):
        if uuids is None:
            print("done refreshDeletes=" + str(bool(refreshDeletes)), flush=True)
            return
        for u in uuids:
            # python-ldap also calls syncrepl_present([uuid]) right after each entry of
            # the refresh phase; only report UUIDs the provider itself listed as present.
            if len(uuids) == 1 and u in self.sent:
                continue
            print("present " + u, flush=True)

    def syncrepl_delete(self, uuids):
        for u in uuids:
            print("delete " + u, flush=True)


def main():
    url, base, binddn, password = sys.argv[1:5]
    cookie = sys.argv[5] if len(sys.argv) > 5 and sys.argv[5] else None
    filterstr = sys.argv[6] if len(sys.argv) > 6 else "(objectClass=*)"
    conn = Consumer(url, cookie)
    conn.set_option(ldap.OPT_NETWORK_TIMEOUT, 10)
    try:
        conn.simple_bind_s(binddn, password)
        msgid = conn.syncrepl_search(
            base, ldap.SCOPE_SUBTREE, filterstr=filterstr, mode="refreshOnly"
        )
        while conn.syncrepl_poll(msgid=msgid, all=1, timeout=30):
            pass
    except ldap.LDAPError as e:
        print("error %s: %s" % (type(e).__name__, e), flush=True)
        return 1
    finally:
        try:
            conn.unbind_s()
        except ldap.LDAPError:
            pass
    print("cookie " + (conn.cookie.decode() if isinstance(conn.cookie, bytes) else str(conn.cookie)), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
