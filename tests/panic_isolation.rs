//! A panic inside a connection's tasks is caught, logged, and ends only that connection
//! (issue 8 §5). The panics come from the debug-build test hooks
//! (`oxldap_server::testhook`), switched on by `OXLDAP_TEST_PANIC_HOOKS=1`; release
//! builds have no hook.
#![allow(clippy::unwrap_used, clippy::panic)]

mod common;
use common::*;

const IN_OPERATION: &str = "2.25.0.8.5.1";
const IN_CONNECTION: &str = "2.25.0.8.5.2";

#[test]
fn a_panic_ends_only_its_connection() {
    // The only test in this binary: the variable is inherited by the server it starts.
    std::env::set_var("OXLDAP_TEST_PANIC_HOOKS", "1");
    let s = Server::memory();
    // A second client, connected and bound before the panics, must survive them.
    let mut other = ldap3::LdapConn::new(&s.url).unwrap();
    other
        .simple_bind(ROOTDN, ROOTPW)
        .unwrap()
        .success()
        .unwrap();
    for oid in [IN_OPERATION, IN_CONNECTION, IN_OPERATION] {
        // ldapexop sees its connection closed without an answer.
        let out = s.tool("ldapexop", &[oid], None);
        assert_ne!(out.code, 0, "{oid}: {out:?}");
        assert!(
            out.stderr.contains("Can't contact") || out.stderr.contains("(-1)"),
            "{oid}: {}",
            out.stderr
        );
        // The server process is still up and answers new and old connections.
        s.search_anon(&["-b", BASE, "-s", "base", "1.1"])
            .expect_code(0);
        let (rs, _) = other
            .search(BASE, ldap3::Scope::Base, "(objectClass=*)", vec!["1.1"])
            .unwrap()
            .success()
            .unwrap();
        assert_eq!(rs.len(), 1);
    }
    let log = s.log();
    assert!(
        log.contains("operation panicked; closing the connection"),
        "{log}"
    );
    assert!(log.contains("connection task panicked"), "{log}");
    // Without the variable the hook OIDs are ordinary unknown extended operations.
    std::env::remove_var("OXLDAP_TEST_PANIC_HOOKS");
    let plain = Server::memory();
    let out = plain.tool("ldapexop", &[IN_OPERATION], None);
    assert!(out.stderr.contains("Protocol error (2)"), "{out:?}");
}
