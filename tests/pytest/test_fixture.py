"""A pytest fixture that runs oxldap for a test, and tests that use it with python-ldap.

The binary comes from the OXLDAP_BIN environment variable (default: `oxldap` on PATH).
Run with `python3 -m pytest tests/pytest/test_fixture.py`, or without pytest as
`python3 tests/pytest/test_fixture.py` (runs the same tests with the same fixture).
"""

import contextlib
import os
import subprocess
import tempfile

import ldap
import ldap.modlist

BASE = "dc=localdomain,dc=test"
USERS = "ou=Users,o=localdomain," + BASE
ROOTDN = "cn=admin," + BASE
ROOTPW = "secret"

SEED = """dn: uid=ana,ou=Users,o=localdomain,dc=localdomain,dc=test
objectClass: inetOrgPerson
uid: ana
cn: Ana Pop
sn: Pop
mail: ana@localdomain.test
userPassword: pw-ana
"""


@contextlib.contextmanager
def oxldap_server(seed=SEED):
    """Starts `oxldap serve --memory` on an ephemeral port with `seed` loaded; yields
    its URL once it accepts connections; stops it afterwards."""
    binary = os.environ.get("OXLDAP_BIN", "oxldap")
    with tempfile.TemporaryDirectory() as tmp:
        ldif = os.path.join(tmp, "seed.ldif")
        with open(ldif, "w") as f:
            f.write(seed)
        ready = os.path.join(tmp, "ready")
        log = open(os.path.join(tmp, "stderr.log"), "w+")
        proc = subprocess.Popen(
            [binary, "serve", "--memory", "--ldif", ldif,
             "-h", "ldap://127.0.0.1:0/", "--print-url", "--ready-file", ready],
            stdout=subprocess.PIPE, stderr=log, text=True)
        try:
            url = proc.stdout.readline().strip()
            if not url.startswith("ldap://"):
                log.seek(0)
                raise RuntimeError("oxldap did not start: " + log.read())
            with open(ready) as f:
                assert f.read().strip() == url
            yield url
        finally:
            proc.terminate()
            proc.wait(timeout=20)
            log.close()


try:
    import pytest

    @pytest.fixture
    def oxldap_url():
        with oxldap_server() as url:
            yield url
except ImportError:  # plain python3: see the __main__ block
    pytest = None


def connect(url, who=ROOTDN, password=ROOTPW):
    conn = ldap.initialize(url)
    conn.protocol_version = 3
    conn.simple_bind_s(who, password)
    return conn


def test_seeded_entry_is_there(oxldap_url):
    conn = connect(oxldap_url)
    found = conn.search_s(USERS, ldap.SCOPE_ONELEVEL, "(uid=ana)", ["mail"])
    assert found == [("uid=ana," + USERS, {"mail": [b"ana@localdomain.test"]})]


def test_add_then_bind_as_the_new_user(oxldap_url):
    conn = connect(oxldap_url)
    dn = "uid=bob," + USERS
    conn.add_s(dn, ldap.modlist.addModlist({
        "objectClass": [b"inetOrgPerson"], "uid": [b"bob"], "cn": [b"Bob"],
        "sn": [b"Bob"], "userPassword": [b"pw-bob"]}))
    bob = connect(oxldap_url, dn, "pw-bob")
    # The stored entry's DN, as slapd answers Who am I? (RFC 4532).
    assert bob.whoami_s() == "dn:" + dn


def test_each_test_gets_a_fresh_server(oxldap_url):
    conn = connect(oxldap_url)
    found = conn.search_s(USERS, ldap.SCOPE_ONELEVEL, "(uid=bob)", ["1.1"])
    assert found == []


if __name__ == "__main__":
    tests = [(n, f) for n, f in sorted(globals().items()) if n.startswith("test_")]
    for name, fn in tests:
        with oxldap_server() as url:
            fn(url)
        print("PASSED", name)
    print("%d passed, 0 failed" % len(tests))
