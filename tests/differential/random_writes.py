# Random write sequences for tests/differential.rs (`random_writes_match_slapd`): run.py
# sends them, as the rootdn, to slapd and to oxldap; the test compares every result code
# and then the stored subtree (memberOf included, volatile attributes left out).
#
# The sequence is drawn from a seeded generator, so both servers get the same requests:
# OXLDAP_DIFF_SEEDS (comma-separated, default "1,...,8") and OXLDAP_DIFF_STEPS (requests per
# seed, default 120). Each seed works in its own container (ou=sN under OU), on a few
# people, groups and containers, with values that differ only in case and spaces, so
# equality matching, duplicates, SINGLE-VALUE, RDN values, MUST attributes, object class
# changes, memberOf/refint and modify DN all meet each other (RFC 4511 §4.6-§4.9).
#
# The request format is requests.py's (see there).
import os
import random

OU = "ou=diff,dc=localdomain,dc=test"
NOBODY = "cn=nobody,ou=nowhere,dc=localdomain,dc=test"
REQUESTS = []

SEEDS = [int(s) for s in os.environ.get("OXLDAP_DIFF_SEEDS", "1,2,3,4,5,6,7,8").split(",") if s.strip()]
STEPS = int(os.environ.get("OXLDAP_DIFF_STEPS", "120"))

WORDS = ["Alpha", "alpha", "ALPHA", "alpha  beta", "Alpha Beta", "gamma", "Gamma", "x"]
MAILS = ["a@x.test", "A@X.TEST", "b@x.test", "c@y.test"]
PHONES = ["+1 555 0100", "+15550100", "+1 555 0199"]
NUMBERS = ["1", "2", "10", "007", "abc"]
CLASSES = ["inetLocalMailRecipient", "extensibleObject", "groupOfNames", "nosuchClass", "person"]


def make(seed):
    rnd = random.Random(seed)
    base = "ou=s%d" % seed
    people = ["cn=p%d,%s" % (i, base) for i in range(5)]
    groups = ["cn=g%d,%s" % (i, base) for i in range(3)]
    boxes = [base, "ou=c1," + base, "ou=c2," + base]
    n = [0]

    def name(what):
        n[0] += 1
        return "s%d-%03d %s" % (seed, n[0], what)

    def dn_variant(rdn):
        dn = rdn + "," + OU
        return rnd.choice([dn, dn.upper(), dn.replace(",", ", ")])

    REQUESTS.append((name("container"), "add", base, [("objectClass", "organizationalUnit"), ("ou", "s%d" % seed)]))
    for box in boxes[1:]:
        REQUESTS.append((name("container"), "add", box,
                         [("objectClass", "organizationalUnit"), ("ou", box.split(",")[0][3:])]))
    for p in people:
        cn = p.split(",")[0][3:]
        REQUESTS.append((name("person"), "add", p,
                         [("objectClass", "inetOrgPerson"), ("cn", cn), ("sn", "S" + cn)]))
    for g in groups:
        cn = g.split(",")[0][3:]
        REQUESTS.append((name("group"), "add", g,
                         [("objectClass", "groupOfNames"), ("cn", cn), ("member", NOBODY)]))

    def values(pool, k=None):
        k = rnd.choice([0, 1, 1, 2]) if k is None else k
        return [rnd.choice(pool) for _ in range(k)]

    def change(target):
        kind = rnd.choice(["add", "delete", "replace", "replace", "delete-all"])
        if target in groups or rnd.random() < 0.15:
            attr = rnd.choice(["member", "member", "description", "cn", "seeAlso"])
        else:
            attr = rnd.choice(["description", "description", "mail", "telephoneNumber", "displayName",
                               "employeeNumber", "sn", "cn", "givenName", "objectClass", "mailHost",
                               "title", "seeAlso", "mailPreferenceOption"])
        pool = {
            "mail": MAILS, "telephoneNumber": PHONES, "employeeNumber": NUMBERS,
            "mailPreferenceOption": NUMBERS, "objectClass": CLASSES, "mailHost": ["mx.x.test", "MX.X.TEST"],
        }.get(attr)
        if attr in ("member", "seeAlso"):
            # No group lists itself: slapd's memberof then keeps a stale memberOf on a
            # moved group (a slapd quirk, not a behaviour to match).
            others = [d for d in people + groups if d != target]
            vals = [dn_variant(rnd.choice(others)) if rnd.random() < 0.8 else NOBODY
                    for _ in range(rnd.choice([0, 1, 1, 2]))]
        else:
            vals = values(pool or WORDS)
        if kind == "delete-all":
            return ("delete", attr, None)
        if kind == "add" and not vals:
            vals = values(pool or WORDS, 1) if attr not in ("member", "seeAlso") else [dn_variant(people[0])]
        return (kind, attr, vals)

    for _ in range(STEPS):
        r = rnd.random()
        target = rnd.choice(people + groups)
        if r < 0.70:
            changes = [change(target) for _ in range(rnd.choice([1, 1, 2, 3]))]
            # One member change per request: slapd's memberof overlay derives memberOf
            # from each change against the entry before the request, so several member
            # changes in one modify leave stale memberOf values there (oxldap derives it
            # from the entry before and after the whole request, RFC 4511 §4.6).
            member_changes = [c for c in changes if c[1] == "member"]
            changes = [c for c in changes if c[1] != "member"] + member_changes[:1]
            REQUESTS.append((name("modify " + target.split(",")[0]), "modify", target, changes))
        elif r < 0.82:
            attr, old = target.split(",")[0].split("=")
            new_value = rnd.choice([old, old.upper(), old + "x", "p0", "g0", "Alpha"])
            superior = rnd.choice([None, None, rnd.choice(boxes)])
            delold = rnd.random() < 0.7
            REQUESTS.append((name("modrdn " + target.split(",")[0]), "modrdn", target,
                             ("%s=%s" % (rnd.choice([attr, attr.upper()]), new_value), delold, superior)))
        elif r < 0.90:
            REQUESTS.append((name("delete " + target.split(",")[0]), "delete", target, None))
        else:
            cn = target.split(",")[0][3:]
            if target in groups:
                attrs = [("objectClass", "groupOfNames"), ("cn", cn),
                         ("member", [dn_variant(rnd.choice(people)) for _ in range(rnd.choice([1, 2]))])]
            else:
                attrs = [("objectClass", "inetOrgPerson"), ("cn", cn), ("sn", rnd.choice(WORDS))]
                if rnd.random() < 0.5:
                    attrs.append(("description", values(WORDS, 2)))
            REQUESTS.append((name("add " + target.split(",")[0]), "add", target, attrs))


for _seed in SEEDS:
    make(_seed)
