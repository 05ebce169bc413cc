#!/usr/bin/python3
"""A refreshAndPersist consumer (python-ldap's SyncreplConsumer) that keeps reading.

Usage: persist.py URL BASE BINDDN PASSWORD COUNT

Prints "persist" once the refresh is done, then one line per entry pushed in the persist
phase ("entry DN") and one per cookie that came with it ("cookie COOKIE": the last entry
of each write carries the write's cookie), and exits 0 after COUNT entries. Exits 1 with "error CLASS: INFO" on an LDAP error (for
example when the provider closed the connection) or after 120 s without a message.
"""
import sys

import ldap
import ldap.ldapobject
from ldap.syncrepl import SyncreplConsumer


class Consumer(ldap.ldapobject.SimpleLDAPObject, SyncreplConsumer):
    def __init__(self, url, count):
        ldap.ldapobject.SimpleLDAPObject.__init__(self, url)
        self.cookie = None
        self.count = count
        self.persisting = False
        self.seen = 0

    def syncrepl_get_cookie(self):
        return self.cookie

    def syncrepl_set_cookie(self, cookie):
        self.cookie = cookie
        if self.persisting:
            print("cookie %s" % (cookie.decode() if isinstance(cookie, bytes) else cookie), flush=True)

    def syncrepl_refreshdone(self):
        self.persisting = True
        print("persist", flush=True)

    def syncrepl_entry(self, dn, attrs, uuid):
        if self.persisting:
            self.seen += 1
            print("entry %s" % dn, flush=True)


def main():
    url, base, binddn, password, count = sys.argv[1:6]
    conn = Consumer(url, int(count))
    conn.set_option(ldap.OPT_NETWORK_TIMEOUT, 10)
    try:
        conn.simple_bind_s(binddn, password)
        msgid = conn.syncrepl_search(
            base, ldap.SCOPE_SUBTREE, mode="refreshAndPersist", attrlist=["entryUUID"]
        )
        while conn.seen < conn.count:
            if not conn.syncrepl_poll(msgid=msgid, all=0, timeout=120):
                break
    except ldap.LDAPError as e:
        print("error %s: %s" % (type(e).__name__, e), flush=True)
        return 1
    return 0 if conn.seen >= conn.count else 1


if __name__ == "__main__":
    sys.exit(main())
