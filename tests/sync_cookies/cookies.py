#!/usr/bin/python3
"""Sends RFC 4533 refreshOnly searches with hand-made cookies to one server and prints
what came back, one line per cookie, so that two servers' transcripts can be compared
(tests/sync_cookies.rs). CSNs in the output are replaced by <csn>.

Usage: cookies.py URL

Before the probes it reads the server's current CSN (a sync search without a cookie)
and then modifies one entry, so a cookie the server accepts gets that one change (an
incremental refresh) and a cookie it does not accept gets every entry (a full refresh).
"""
import re
import sys

import ldap
from ldap.syncrepl import SyncDoneControl, SyncRequestControl, SyncStateControl

BASE = "dc=localdomain,dc=test"
CSN = re.compile(r"\d{14}\.\d{6}Z#[0-9a-f]{6}#[0-9a-f]{3}#[0-9a-f]{6}")

# {csn}: the CSN read before the change. Each as sent (UTF-8).
COOKIES = [
    None,
    "",
    "abc",
    "rid=",
    "rid=5",
    "garbage",
    "csn={csn}",
    "sid=000,csn={csn}",
    "csn={csn};{csn}",
    "rid=001,csn={csn}",
    "rid=1,csn={csn}",
    "rid=+1,csn={csn}",
    "rid= 1,csn={csn}",
    "junk,rid=001,csn={csn}",
    "csn={csn},rid=001",
    "rid=-5,csn={csn}",
    "rid=abc,csn={csn}",
    "rid=01x,csn={csn}",
    "rid=001;csn={csn}",
    "rid=1000,csn={csn}",
    "rid=999,csn={csn}",
    "rid=001,sid=zz,csn={csn}",
    "rid=001,sid=1000,csn={csn}",
    "rid=001,csn={csn};garbage,junk=1",
    "rid=001,csn=garbage;{csn}",
    "rid=001,delcsn={csn},csn={csn}",
]


def refresh(conn, cookie):
    """(entries not in the present state, the Sync Done cookie) of a refreshOnly search."""
    ctrl = SyncRequestControl(criticality=True, cookie=cookie, mode="refreshOnly")
    msgid = conn.search_ext(BASE, ldap.SCOPE_SUBTREE, "(objectClass=*)", ["1.1"],
                            serverctrls=[ctrl])
    changed = 0
    done = "no-control"
    while True:
        rtype, rdata, _, rctrls = conn.result3(msgid, all=0)
        if rtype == ldap.RES_SEARCH_ENTRY:
            for _dn, _attrs, ctrls in (r if len(r) == 3 else (r[0], r[1], []) for r in rdata):
                states = [c.state for c in ctrls if isinstance(c, SyncStateControl)]
                if states != ["present"]:
                    changed += 1
        elif rtype == ldap.RES_SEARCH_RESULT:
            for c in rctrls:
                if isinstance(c, SyncDoneControl):
                    done = c.cookie
            return changed, done


def main():
    conn = ldap.initialize(sys.argv[1])
    conn.simple_bind_s("cn=admin," + BASE, "secret")
    _, first = refresh(conn, None)
    csn = CSN.search(first).group(0)
    conn.modify_s("ou=Users,o=localdomain," + BASE,
                  [(ldap.MOD_REPLACE, "description", [b"changed"])])
    for template in COOKIES:
        cookie = None if template is None else template.format(csn=csn).encode()
        changed, done = refresh(conn, cookie)
        if isinstance(done, bytes):
            done = done.decode()
        if isinstance(done, str):
            done = repr(CSN.sub("<csn>", done))
        print(f"{template!r}: entries={changed} cookie={done}")


main()
