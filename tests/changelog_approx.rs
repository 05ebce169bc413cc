//! The change log view (`cn=changelog`) evaluates `~=` with the same approximate
//! matching as the main tree (slapd's phonetic rule, `oxldap_schema::approx`) on types
//! whose equality rule has one, where it used to compare case-insensitively.
#![allow(clippy::unwrap_used, clippy::panic)]

mod common;
use common::*;

#[test]
fn changelog_view_approx_is_phonetic() {
    let s = Server::memory();
    let base = |filter: &str| {
        let out = s.search_root(&["-s", "base", "-b", "cn=changelog", filter, "1.1"]);
        out.expect_code(0);
        out.dns()
    };
    let container = vec!["cn=changelog".to_string()];
    // The main tree's rule: "chengelog" sounds like "changelog" (as slapd) (not equal as text).
    assert_eq!(base("(cn~=chengelog)"), container);
    assert_eq!(base("(cn~=changelog)"), container);
    assert!(base("(cn~=records)").is_empty());
    // The same assertion on an entry of the main tree gives the same answer.
    let ldif = format!("dn: cn=changelog,{USERS}\nobjectClass: person\ncn: changelog\nsn: s\n");
    s.modify_root("ldapadd", &ldif, &[]).expect_code(0);
    let out = s.search_root(&["-b", USERS, "(cn~=chengelog)", "1.1"]);
    assert_eq!(out.dns(), vec![format!("cn=changelog,{USERS}")]);
}
