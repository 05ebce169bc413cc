#!/usr/bin/python3
"""Read a server's subschema with python-ldap's ldap.schema and print what it knows.

Usage: schema.py URL

Anonymous bind; reads subschemaSubentry from the root DSE (falls back to cn=Subschema),
base-searches it for the schema attributes and parses it with ldap.schema.SubSchema,
then prints (sorted):
  oc NAME                 every objectClass name (all NAMEs of each class)
  at NAME                 every attributeType name
  must CLASS: A B ...     python-ldap's MUST closure (superclasses included) for a few classes
  may CLASS: A B ...      and the MAY closure
  attr NAME: ...          syntax, equality, single-value, no-user-modification, usage of a few types
Exits 2 with "ERROR: ..." on stderr if the entry is missing or python-ldap cannot parse it.
"""
import sys

import ldap
import ldap.schema
from ldap.schema import AttributeType, ObjectClass

SCHEMA_ATTRS = ["attributeTypes", "objectClasses", "ldapSyntaxes", "matchingRules", "matchingRuleUse"]
CLASSES = ["inetOrgPerson", "groupOfNames", "organizationalUnit", "dcObject", "inetLocalMailRecipient",
           "organization"]
ATTRS = ["cn", "sn", "mail", "member", "displayName", "c", "telephoneNumber", "x121Address",
         "mailPreferenceOption", "objectClass", "entryUUID", "createTimestamp", "modifiersName",
         "structuralObjectClass", "userPassword", "dc", "postalAddress", "preferredDeliveryMethod"]


def fail(msg):
    sys.stderr.write("ERROR: %s\n" % msg)
    sys.exit(2)


def main():
    url = sys.argv[1]
    l = ldap.initialize(url)
    l.set_option(ldap.OPT_PROTOCOL_VERSION, 3)
    l.set_option(ldap.OPT_NETWORK_TIMEOUT, 10)
    l.set_option(ldap.OPT_TIMEOUT, 60)
    l.simple_bind_s("", "")
    dse = l.search_s("", ldap.SCOPE_BASE, "(objectClass=*)", ["subschemaSubentry"])
    sub = "cn=Subschema"
    if dse and dse[0][1].get("subschemaSubentry"):
        sub = dse[0][1]["subschemaSubentry"][0].decode()
    try:
        res = l.search_s(sub, ldap.SCOPE_BASE, "(objectClass=subschema)", SCHEMA_ATTRS)
    except ldap.LDAPError as e:
        fail("search of %s failed: %r" % (sub, e))
    if not res:
        fail("no entry %s" % sub)
    entry = res[0][1]
    for a in ("attributeTypes", "objectClasses"):
        if not any(k.lower() == a.lower() for k in entry):
            fail("%s has no %s" % (sub, a))
    try:
        s = ldap.schema.SubSchema(entry, check_uniqueness=2)
    except Exception as e:  # python-ldap raises several kinds on malformed descriptions
        fail("python-ldap cannot parse %s: %s: %s" % (sub, type(e).__name__, e))

    out = []
    for kind, cls in (("oc", ObjectClass), ("at", AttributeType)):
        for oid in s.listall(cls):
            obj = s.get_obj(cls, oid)
            for n in obj.names:
                out.append("%s %s" % (kind, n))
    for c in CLASSES:
        try:
            must, may = s.attribute_types([c])
        except Exception as e:
            out.append("must %s: ERROR %s" % (c, type(e).__name__))
            continue
        name = lambda oid, d: (d[oid].names[0] if d[oid] is not None and d[oid].names else oid).lower()
        out.append("must %s: %s" % (c, " ".join(sorted(name(o, must) for o in must))))
        out.append("may %s: %s" % (c, " ".join(sorted(name(o, may) for o in may))))
    for a in ATTRS:
        at = s.get_obj(AttributeType, a)
        if at is None:
            out.append("attr %s: MISSING" % a)
            continue
        # The syntax may be inherited from SUP (e.g. c from name): resolve it as clients do.
        syntax, sup = at.syntax, at
        while syntax is None and sup is not None and sup.sup:
            sup = s.get_obj(AttributeType, sup.sup[0])
            syntax = sup.syntax if sup is not None else None
        equality, sup = at.equality, at
        while equality is None and sup is not None and sup.sup:
            sup = s.get_obj(AttributeType, sup.sup[0])
            equality = sup.equality if sup is not None else None
        out.append("attr %s: syntax=%s equality=%s single=%s nousermod=%s usage=%s" % (
            a, syntax, (equality or "").lower(), at.single_value, at.no_user_mod, at.usage))
    for line in sorted(out, key=str.lower):
        print(line)


if __name__ == "__main__":
    main()
