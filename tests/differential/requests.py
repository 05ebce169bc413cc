# The schema-enforcement requests of tests/differential.rs (issue 3). run.py sends them in
# order, as the rootdn, to slapd and to oxldap, and prints "NAME: rc=N" for each one; the
# test compares the two transcripts line by line and then the stored subtree.
#
# Every DN here is relative to OU (run.py appends ",ou=diff,dc=localdomain,dc=test"; "" is
# OU itself). Requests:
#   add(NAME, RDN, (TYPE, VALUE-or-[VALUES]), ...)
#   mod(NAME, RDN, (OP, TYPE, VALUE-or-[VALUES]-or-None), ...)  OP: add delete replace increment
#   modrdn(NAME, RDN, NEWRDN, delold=True, superior=None)          superior is relative too
#   delete(NAME, RDN)
# Values are str (sent as UTF-8) or bytes. The comment after a request is what slapd 2.5
# answers, for the reader; the test takes the answer from slapd itself, never from here.
# Avoid member values naming existing entries (slapd's memberof/refint overlays would act).

OU = "ou=diff,dc=localdomain,dc=test"
NOBODY = "cn=nobody,ou=nowhere,dc=localdomain,dc=test"

REQUESTS = []


def add(name, rdn, *attrs):
    REQUESTS.append((name, "add", rdn, list(attrs)))


def mod(name, rdn, *changes):
    REQUESTS.append((name, "modify", rdn, list(changes)))


def modrdn(name, rdn, newrdn, delold=True, superior=None):
    REQUESTS.append((name, "modrdn", rdn, (newrdn, delold, superior)))


def delete(name, rdn):
    REQUESTS.append((name, "delete", rdn, None))


OC = "objectClass"
PERSON = (OC, "inetOrgPerson")

# ---- entries the later requests work on (all valid) ---------------------------------------
add("setup person p1", "cn=p1", PERSON, ("cn", "p1"), ("sn", "One"), ("displayName", "P One"),
    ("description", ["first", "second"]))
add("setup extensible ou x1", "ou=x1", (OC, ["organizationalUnit", "extensibleObject"]), ("ou", "x1"))
add("setup group g1", "cn=g1", (OC, "groupOfNames"), ("cn", "g1"), ("member", NOBODY))
add("setup ou container sub", "ou=sub", (OC, "organizationalUnit"), ("ou", "sub"))
add("setup person named by sn", "sn=Smith", PERSON, ("cn", "Smith person"), ("sn", "Smith"))
for _m in ("m1", "m2"):
    add("setup person with mail host " + _m, "cn=" + _m, (OC, ["inetOrgPerson", "inetLocalMailRecipient"]),
        ("cn", _m), ("sn", "M"), ("mailHost", "mx.localdomain.test"))
add("setup person named by sn Jones", "sn=Jones", PERSON, ("cn", "Jones person"), ("sn", "Jones"))
# One entry per request that a lax server might wrongly perform, so that one wrong answer
# does not change what the later requests find.
for _k in ("k1", "k2", "k3", "k4", "k5", "k6", "k7", "k8", "mr1", "mr2", "mr3", "mr4", "mr5"):
    add("setup person " + _k, "cn=" + _k, PERSON, ("cn", _k), ("sn", "K"), ("displayName", "D " + _k))

# ---- unknown attribute types (17) ---------------------------------------------------------
add("add undefined attribute type", "cn=u1", PERSON, ("cn", "u1"), ("sn", "x"), ("fooBarUnknown", "1"))
add("add undefined attribute given as OID", "cn=u2", PERSON, ("cn", "u2"), ("sn", "x"), ("1.2.3.4.5.6.7", "1"))
add("add undefined attribute on extensibleObject", "ou=u3", (OC, ["organizationalUnit", "extensibleObject"]),
    ("ou", "u3"), ("fooBarUnknown", "1"))
mod("modify add undefined attribute", "cn=p1", ("add", "fooBarUnknown", "1"))
mod("modify replace undefined attribute", "cn=p1", ("replace", "fooBarUnknown", "1"))
mod("modify delete undefined attribute", "cn=p1", ("delete", "fooBarUnknown", None))
mod("modify add undefined attribute on extensibleObject", "ou=x1", ("add", "fooBarUnknown", "1"))

# ---- values violating syntaxes (21) -------------------------------------------------------
add("add empty Directory String sn", "cn=s1", PERSON, ("cn", "s1"), ("sn", ""))
mod("modify replace empty Directory String description", "cn=p1", ("replace", "description", ""))
mod("modify add Directory String not UTF-8", "cn=p1", ("add", "description", b"\xff\xfe bad"))
add("add IA5 mail with non-ASCII", "cn=s2", PERSON, ("cn", "s2"), ("sn", "x"), ("mail", "\u00e4@x.org"))
mod("modify add IA5 mail with non-ASCII", "cn=p1", ("add", "mail", "j\u00f6rg@x.org"))
mod("modify add IA5 mail valid", "cn=p1", ("add", "mail", "p1@localdomain.test"))
mod("modify add IA5 dc with non-ASCII on extensibleObject", "ou=x1", ("add", "dc", "b\u00e4d"))
mod("modify add Country String of 3 letters", "ou=x1", ("add", "c", "FRA"))
mod("modify add Country String of 2 letters", "ou=x1", ("add", "c", "FR"))
mod("modify add Printable String serialNumber with @", "ou=x1", ("add", "serialNumber", "a@b"))
mod("modify add Printable String serialNumber valid", "ou=x1", ("add", "serialNumber", "SN-42 (A)"))
mod("modify add telephoneNumber with non-printable", "cn=p1", ("add", "telephoneNumber", "+1 555 \u00e9"))
mod("modify add telephoneNumber valid", "cn=p1", ("add", "telephoneNumber", "+1 555 0100"))
mod("modify add Numeric String x121Address with letters", "cn=p1", ("add", "x121Address", "12ab"))
mod("modify add Numeric String x121Address valid", "cn=p1", ("add", "x121Address", "1234 5678"))
mod("modify add Numeric String internationaliSDNNumber with letters", "ou=x1",
    ("add", "internationaliSDNNumber", "abc"))
mod("modify add Integer mailPreferenceOption not a number", "ou=x1", ("add", "mailPreferenceOption", "abc"))
mod("modify add Integer mailPreferenceOption with leading zero", "ou=x1", ("add", "mailPreferenceOption", "007"))
mod("modify add Integer mailPreferenceOption valid", "ou=x1", ("add", "mailPreferenceOption", "42"))
mod("modify increment Integer mailPreferenceOption", "ou=x1", ("increment", "mailPreferenceOption", "3"))
mod("modify increment a Directory String", "cn=p1", ("increment", "description", "1"))
mod("modify add Delivery Method unknown", "ou=x1", ("add", "preferredDeliveryMethod", "pigeon"))
mod("modify add Delivery Method valid", "cn=p1", ("add", "preferredDeliveryMethod", "telephone $ any"))
add("add DN syntax member not a DN", "cn=s3", (OC, "groupOfNames"), ("cn", "s3"), ("member", "not a dn"))
mod("modify add DN syntax seeAlso not a DN", "cn=p1", ("add", "seeAlso", "not a dn"))
mod("modify add DN syntax manager not a DN", "cn=p1", ("add", "manager", "not a dn"))
mod("modify add DN syntax manager valid", "cn=p1", ("add", "manager", "cn=Boss,ou=nowhere,dc=localdomain,dc=test"))
mod("modify add DN syntax seeAlso with undefined type", "cn=p1", ("add", "seeAlso", "fooBarUnknown=x,dc=test"))
mod("modify add OID syntax not an OID", "ou=x1", ("add", "supportedApplicationContext", "1..2"))
mod("modify add OID syntax valid", "ou=x1", ("add", "supportedApplicationContext", "1.2.840.113549.1"))
add("add objectClass value not an OID", "cn=s4", (OC, ["inetOrgPerson", "1..2"]), ("cn", "s4"), ("sn", "x"))
add("add unknown objectClass", "cn=s5", (OC, ["inetOrgPerson", "noSuchClass"]), ("cn", "s5"), ("sn", "x"))
mod("modify add Postal Address with bad escape", "cn=p1", ("add", "postalAddress", "1 Main St\\x$Springfield"))
mod("modify add Postal Address valid", "cn=p1", ("add", "postalAddress", "1 Main St$Springfield"))
mod("modify add Bit String without quotes", "cn=p1", ("add", "x500UniqueIdentifier", "0101"))
mod("modify add Bit String valid", "cn=p1", ("add", "x500UniqueIdentifier", "'0101'B"))
add("add Name and Optional UID not a DN", "cn=s6", (OC, "groupOfUniqueNames"), ("cn", "s6"),
    ("uniqueMember", "not a dn"))
add("add Generalized Time createTimestamp not a time", "cn=s7", PERSON, ("cn", "s7"), ("sn", "x"),
    ("createTimestamp", "yesterday"))
add("add UUID entryUUID not a UUID", "cn=s8", PERSON, ("cn", "s8"), ("sn", "x"), ("entryUUID", "not-a-uuid"))

# ---- SINGLE-VALUE (19) --------------------------------------------------------------------
add("add two displayName values", "cn=v1", PERSON, ("cn", "v1"), ("sn", "x"), ("displayName", ["a", "b"]))
add("add two preferredLanguage values", "cn=v2", PERSON, ("cn", "v2"), ("sn", "x"), ("preferredLanguage", ["en", "fr"]))
add("add two employeeNumber values", "cn=v3", PERSON, ("cn", "v3"), ("sn", "x"), ("employeeNumber", ["1", "2"]))
mod("modify add a second displayName", "cn=p1", ("add", "displayName", "Other"))
mod("modify replace displayName with two values", "cn=p1", ("replace", "displayName", ["a", "b"]))
mod("modify replace displayName with one value", "cn=p1", ("replace", "displayName", "Person One"))
mod("modify add a second c", "ou=x1", ("add", "c", "DE"))
mod("modify add a second preferredDeliveryMethod (no equality rule)", "cn=p1", ("add", "preferredDeliveryMethod", "any"))
add("add displayName plus displayName;lang-en", "cn=v4", PERSON, ("cn", "v4"), ("sn", "x"),
    ("displayName", "a"), ("displayName;lang-en", "b"))

# ---- duplicate values under the equality rule (20) ----------------------------------------
add("add duplicate sn differing in case", "cn=d1", PERSON, ("cn", "d1"), ("sn", ["x", "X"]))
add("add same attribute listed twice", "cn=d2", PERSON, ("cn", "d2"), ("sn", "x"), ("SN", "y"))
mod("modify add existing value in other case", "cn=p1", ("add", "cn", "P1"))
mod("modify add the same value twice", "cn=p1", ("add", "title", ["Boss", "boss"]))
mod("modify add mail differing in case", "cn=p1", ("add", "mail", "P1@LocalDomain.Test"))
mod("modify add telephoneNumber differing in spaces", "cn=p1", ("add", "telephoneNumber", "+15550100"))
mod("modify add x121Address differing in spaces", "cn=p1", ("add", "x121Address", "12345678"))
mod("modify replace with duplicate values", "cn=p1", ("replace", "description", ["same", "SAME"]))
mod("modify add values with inner spaces collapsed", "cn=p1", ("add", "description", "  first  "))

# ---- deleting a missing value (16) --------------------------------------------------------
mod("modify delete missing value", "cn=p1", ("delete", "description", "nope"))
mod("modify delete missing attribute", "cn=p1", ("delete", "title", None))
mod("modify delete missing disallowed attribute", "cn=p1", ("delete", "dc", None))
mod("modify delete value in other case", "cn=p1", ("delete", "description", "SECOND"))
mod("modify replace missing attribute with nothing", "cn=p1", ("replace", "title", None))
mod("modify delete then fail keeps entry unchanged", "cn=p1", ("delete", "description", "first"),
    ("add", "fooBarUnknown", "1"))

# ---- missing MUST and disallowed attributes (65) ------------------------------------------
add("add missing MUST sn", "cn=o1", PERSON, ("cn", "o1"))
add("add groupOfNames without member", "cn=o2", (OC, "groupOfNames"), ("cn", "o2"))
mod("modify delete MUST attribute", "cn=k1", ("delete", "sn", None))
mod("modify delete the only MUST value", "cn=k2", ("delete", "sn", "K"))
mod("modify replace MUST attribute with nothing", "cn=k3", ("replace", "sn", None))
add("add disallowed attribute dc", "cn=o3", PERSON, ("cn", "o3"), ("sn", "x"), ("dc", "y"))
mod("modify add disallowed attribute dc", "cn=p1", ("add", "dc", "y"))
add("add auxiliary attribute without its class", "cn=o4", PERSON, ("cn", "o4"), ("sn", "x"),
    ("mailHost", "mx.localdomain.test"))
mod("modify delete auxiliary class still used", "cn=m1", ("delete", OC, "inetLocalMailRecipient"))
mod("modify delete auxiliary class and its attribute", "cn=m2", ("delete", OC, "inetLocalMailRecipient"),
    ("delete", "mailHost", None))

# ---- object class rules (65, 69) -----------------------------------------------------------
add("add no objectClass at all", "cn=c1", ("cn", "c1"), ("sn", "x"))
add("add only abstract class top", "cn=c2", (OC, "top"), ("cn", "c2"))
add("add only auxiliary class extensibleObject", "cn=c3", (OC, "extensibleObject"), ("cn", "c3"))
add("add two unrelated structural classes", "cn=c4", (OC, ["inetOrgPerson", "organizationalUnit"]),
    ("cn", "c4"), ("sn", "x"), ("ou", "y"))
add("add structural class with its superclass chain", "cn=c5",
    (OC, ["top", "person", "organizationalPerson", "inetOrgPerson"]), ("cn", "c5"), ("sn", "x"))
add("add attributes of superclasses only", "cn=c6", PERSON, ("cn", "c6"), ("sn", "x"), ("title", "t"),
    ("ou", "o"), ("userPassword", "pw"), ("telephoneNumber", "+1 555 0101"))
add("add objectClass given as OID", "cn=c7", (OC, "2.5.6.6"), ("cn", "c7"), ("sn", "x"))
add("add structural with auxiliary class", "cn=c8", (OC, ["inetOrgPerson", "inetLocalMailRecipient"]),
    ("cn", "c8"), ("sn", "x"), ("mailHost", "mx.localdomain.test"))
add("add organizationalUnit with dcObject", "ou=c9", (OC, ["organizationalUnit", "dcObject"]), ("ou", "c9"),
    ("dc", "c9"))
add("add extensibleObject allows anything", "ou=c10", (OC, ["organizationalUnit", "extensibleObject"]),
    ("ou", "c10"), ("sn", "x"), ("mail", "c10@localdomain.test"), ("uid", "c10"), ("dc", "c10"))
add("add extensibleObject still refuses operational attributes", "ou=c11",
    (OC, ["organizationalUnit", "extensibleObject"]), ("ou", "c11"), ("modifiersName", "cn=x"))
mod("modify add a second structural class", "cn=k4", ("add", OC, "organizationalUnit"), ("add", "ou", "u"))
mod("modify replace structural class", "cn=k5", ("replace", OC, "organizationalUnit"), ("replace", "ou", "u"))
mod("modify replace structural class with its superclass", "cn=k6",
    ("replace", OC, ["top", "person", "organizationalPerson"]))
mod("modify replace objectClass with the same chain plus auxiliary", "cn=c5",
    ("replace", OC, ["top", "person", "organizationalPerson", "inetOrgPerson", "inetLocalMailRecipient"]))
mod("modify delete a superclass value", "cn=c5", ("delete", OC, "person"))
mod("modify delete the structural class", "cn=c6", ("delete", OC, "inetOrgPerson"))
mod("modify add extensibleObject then dc", "cn=c7", ("add", OC, "extensibleObject"), ("add", "dc", "c7"))
mod("modify add unknown objectClass", "cn=c7", ("add", OC, "noSuchClass"))

# ---- RDN values (server adds them; 64 on removal) -----------------------------------------
add("add RDN value not among the attributes", "cn=r1", PERSON, ("cn", "someone else"), ("sn", "x"))
add("add RDN type not among the attributes", "uid=r2", PERSON, ("cn", "r2"), ("sn", "x"))
add("add RDN with a disallowed attribute", "dc=r3", PERSON, ("cn", "r3"), ("sn", "x"))
add("add RDN with an undefined attribute", "fooBarUnknown=r4", PERSON, ("cn", "r4"), ("sn", "x"))
add("add multi-valued RDN", "cn=r5+sn=r5s", PERSON, ("cn", "r5"), ("sn", "other"))
add("add RDN value violating the syntax", "mail=r\u00f6@x.org", PERSON, ("cn", "r6"), ("sn", "x"))
mod("modify delete the RDN value", "cn=k7", ("delete", "cn", "k7"))
mod("modify replace away the RDN value", "cn=k8", ("replace", "cn", "Person One"))
mod("modify replace keeping the RDN value", "cn=p1", ("replace", "cn", ["p1", "Person One"]))
mod("modify delete the RDN attribute", "cn=r1", ("delete", "cn", None))

# ---- NO-USER-MODIFICATION (19) ------------------------------------------------------------
add("add with entryUUID", "cn=n1", PERSON, ("cn", "n1"), ("sn", "x"),
    ("entryUUID", "8b9b2cd2-0d52-4c4a-9a49-2a0f5d1e1c01"))
add("add with createTimestamp", "cn=n2", PERSON, ("cn", "n2"), ("sn", "x"), ("createTimestamp", "20200101000000Z"))
add("add with modifiersName", "cn=n3", PERSON, ("cn", "n3"), ("sn", "x"), ("modifiersName", "cn=x"))
add("add with structuralObjectClass", "cn=n4", PERSON, ("cn", "n4"), ("sn", "x"),
    ("structuralObjectClass", "inetOrgPerson"))
add("add with hasSubordinates", "cn=n5", PERSON, ("cn", "n5"), ("sn", "x"), ("hasSubordinates", "FALSE"))
mod("modify replace entryUUID", "cn=p1", ("replace", "entryUUID", "8b9b2cd2-0d52-4c4a-9a49-2a0f5d1e1c02"))
mod("modify add modifiersName", "cn=p1", ("add", "modifiersName", "cn=x"))
mod("modify replace createTimestamp", "cn=p1", ("replace", "createTimestamp", "20200101000000Z"))
mod("modify replace structuralObjectClass", "cn=p1", ("replace", "structuralObjectClass", "person"))
mod("modify delete entryCSN", "cn=p1", ("delete", "entryCSN", None))
mod("modify replace entryDN", "cn=p1", ("replace", "entryDN", "cn=x"))
mod("modify replace subschemaSubentry", "cn=p1", ("replace", "subschemaSubentry", "cn=x"))

# ---- attribute options --------------------------------------------------------------------
add("add language tag option", "cn=t1", PERSON, ("cn", "t1"), ("cn;lang-en", "tee one"), ("sn", "x"))
mod("modify add language tag option", "cn=t1", ("add", "sn;lang-fr", "ix"))
mod("modify add language tag option in other case", "cn=t1", ("add", "sn;LANG-FR", "IX"))
mod("modify add binary option on a string attribute", "cn=t1", ("add", "sn;binary", "y"))
mod("modify add unknown option", "cn=t1", ("add", "sn;x-foo", "y"))
mod("modify add certificate without binary option", "cn=t1", ("add", "userCertificate", b"\x01\x02"))
mod("modify delete language tag option value", "cn=t1", ("delete", "cn;lang-en", "TEE ONE"))
mod("modify delete base type removes tagged values too", "cn=t1", ("delete", "sn", None))

# ---- modify DN ----------------------------------------------------------------------------
modrdn("modrdn keeping the old RDN value", "cn=c8", "cn=c8 renamed", delold=False)
modrdn("modrdn deleting the old RDN value", "cn=c8 renamed", "cn=c8 again", delold=True)
modrdn("modrdn deleteoldrdn removes a MUST value", "sn=Smith", "cn=Smith person", delold=True)
modrdn("modrdn keeping a MUST value", "sn=Jones", "cn=Jones person", delold=False)
modrdn("modrdn to a disallowed attribute", "cn=mr1", "dc=mr1")
modrdn("modrdn to an undefined type", "cn=mr2", "fooBarUnknown=mr2")
modrdn("modrdn to a value violating the syntax", "ou=x1", "c=FRA")
modrdn("modrdn to a second single value", "cn=mr5", "displayName=Somebody", delold=False)
modrdn("modrdn to the single value already present", "cn=v4", "displayName=a", delold=False)
modrdn("modrdn to an operational attribute", "cn=mr3", "entryUUID=8b9b2cd2-0d52-4c4a-9a49-2a0f5d1e1c03")
modrdn("modrdn to an existing entry", "cn=c6", "cn=p1")
modrdn("modrdn with newSuperior", "cn=c7", "cn=c7", delold=True, superior="ou=sub")
modrdn("modrdn to an auxiliary attribute without its class", "cn=mr4", "mailHost=mx")
modrdn("modrdn to a multi-valued RDN", "cn=c6", "cn=c6+title=t", delold=False)
modrdn("modrdn of a missing entry", "cn=missing", "cn=still missing")
mod("modify a missing entry", "cn=missing", ("add", "description", "x"))

# ---- deletes (the subtree dump shows what is left) ----------------------------------------
delete("delete a leaf", "cn=t1")
