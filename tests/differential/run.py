#!/usr/bin/python3
"""Send the requests of requests.py to one LDAP server and print its answers.

Usage: run.py URL [REQUESTS.py]

Binds as the rootdn, creates OU (ou=diff,dc=localdomain,dc=test), sends every request in
order and prints one line per request, "NAME: rc=N" (N the LDAP result code, 0 on
success). Then prints "--- dump" and the subtree below OU: entries sorted by DN,
attributes by name, values sorted, without the volatile operational attributes.
Exits 1 if OU cannot be created or the dump fails.
"""
import base64
import json
import os
import runpy
import sys
import time

import ldap

ROOTDN = "cn=admin,dc=localdomain,dc=test"
ROOTPW = "secret"
VOLATILE = {
    "entryuuid", "entrycsn", "createtimestamp", "modifytimestamp", "creatorsname", "modifiersname",
}
MOD_OPS = {
    "add": ldap.MOD_ADD,
    "delete": ldap.MOD_DELETE,
    "replace": ldap.MOD_REPLACE,
    "increment": ldap.MOD_INCREMENT,
}


def enc(v):
    return v if isinstance(v, bytes) else v.encode("utf-8")


def values(v):
    if v is None:
        return None
    return [enc(x) for x in (v if isinstance(v, list) else [v])]


def full(rdn, ou):
    return ou if rdn == "" else rdn + "," + ou


def fmt(v):
    try:
        s = v.decode("utf-8")
        if all(c.isprintable() for c in s):
            return json.dumps(s, ensure_ascii=False)
    except UnicodeDecodeError:
        pass
    return "b64:" + base64.b64encode(v).decode()


def send(l, ou, op, rdn, args):
    dn = full(rdn, ou)
    if op == "add":
        l.add_s(dn, [(t, values(v)) for t, v in args])
    elif op == "modify":
        l.modify_s(dn, [(MOD_OPS[o], t, values(v)) for o, t, v in args])
    elif op == "modrdn":
        newrdn, delold, superior = args
        sup = None if superior is None else full(superior, ou)
        l.rename_s(dn, newrdn, newsuperior=sup, delold=1 if delold else 0)
    elif op == "delete":
        l.delete_s(dn)
    else:
        raise ValueError("unknown request type %r" % op)


def main():
    url = sys.argv[1]
    path = sys.argv[2] if len(sys.argv) > 2 else os.path.join(os.path.dirname(__file__), "requests.py")
    data = runpy.run_path(path)
    ou, requests = data["OU"], data["REQUESTS"]
    names = [r[0] for r in requests]
    dup = sorted({n for n in names if names.count(n) > 1})
    if dup:
        sys.exit("duplicate request names: %s" % dup)

    l = ldap.initialize(url)
    l.set_option(ldap.OPT_PROTOCOL_VERSION, 3)
    l.set_option(ldap.OPT_REFERRALS, 0)
    l.set_option(ldap.OPT_NETWORK_TIMEOUT, 10)
    l.set_option(ldap.OPT_TIMEOUT, 60)
    l.simple_bind_s(ROOTDN, ROOTPW)
    l.add_s(ou, [("objectClass", [b"organizationalUnit"]), ("ou", [enc(ldap.dn.str2dn(ou)[0][0][1])])])

    for name, op, rdn, args in requests:
        try:
            send(l, ou, op, rdn, args)
            rc = 0
        except ldap.LDAPError as e:
            d = e.args[0] if e.args and isinstance(e.args[0], dict) else {}
            rc = d.get("result", "%s" % type(e).__name__)
        print("%s: rc=%s" % (name, rc), flush=True)

    print("--- dump")
    # slapd's refint overlay rewrites references in a background task after it answers a
    # modify DN: wait until two reads a moment apart agree (at most about 5 s).
    entries = None
    for _ in range(25):
        again = l.search_s(ou, ldap.SCOPE_SUBTREE, "(objectClass=*)", ["*", "+"])
        if again == entries:
            break
        entries = again
        time.sleep(0.2)
    for dn, attrs in sorted(entries, key=lambda x: (x[0] or "").lower()):
        print("dn: %s" % dn)
        for name in sorted(attrs, key=str.lower):
            if name.lower() in VOLATILE:
                continue
            for v in sorted(fmt(x) for x in attrs[name]):
                print("  %s: %s" % (name, v))
    l.unbind_s()


if __name__ == "__main__":
    main()
