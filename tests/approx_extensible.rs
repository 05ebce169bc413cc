//! slapd's approximate matching rules named in an extensible match
//! (`(cn:directoryStringApproxMatch:=x)`, `(mail:1.3.6.1.4.1.4203.666.4.5:=x)`): slapd 2.5
//! takes them by name or OID (its subschema does not list them) and applies each to the
//! types of its syntax. The same filters run against Debian's slapd and oxldap on the same
//! entries and must select the same DNs.
#![allow(clippy::unwrap_used, clippy::panic)]

mod common;
#[path = "memberof_vs_slapd/slapd.rs"]
mod slapd;

use common::{run_tool, sorted, Server, ROOTDN, ROOTPW, USERS};

const FILTERS: &[&str] = &[
    "(cn:1.3.6.1.4.1.4203.666.4.4:=chengelog)",
    "(cn:directoryStringApproxMatch:=chengelog)",
    "(cn:directorystringapproxmatch:=jon smith)",
    "(cn:1.3.6.1.4.1.4203.666.4.5:=chengelog)",
    "(cn:IA5StringApproxMatch:=smith)",
    "(mail:1.3.6.1.4.1.4203.666.4.5:=jon)",
    "(mail:IA5StringApproxMatch:=smyth)",
    "(mail:directoryStringApproxMatch:=smyth)",
    "(:directoryStringApproxMatch:=smyth)",
    "(:IA5StringApproxMatch:=smyth)",
    "(:dn:directoryStringApproxMatch:=chengelog)",
    "(!(cn:directoryStringApproxMatch:=smith))",
];

fn answers(url: &str, label: &str) -> Vec<(i32, Vec<String>)> {
    let ldif = format!(
        "dn: cn=changelog,{USERS}\nobjectClass: inetOrgPerson\ncn: changelog\nsn: s\n\n\
         dn: cn=John Smyth,{USERS}\nobjectClass: inetOrgPerson\ncn: John Smyth\nsn: Smyth\n\
         mail: smyth@example.com\n\n\
         dn: cn=Other,{USERS}\nobjectClass: inetOrgPerson\ncn: Other\nsn: Other\nmail: jon@example.com\n"
    );
    let out = run_tool("ldapadd", url, &["-D", ROOTDN, "-w", ROOTPW], Some(&ldif));
    assert_eq!(out.code, 0, "{label}: {}", out.stderr);
    FILTERS
        .iter()
        .map(|f| {
            let out = run_tool(
                "ldapsearch",
                url,
                &[
                    "-D", ROOTDN, "-w", ROOTPW, "-LLL", "-b", USERS, "-s", "one", f, "1.1",
                ],
                None,
            );
            (out.code, sorted(out.dns()))
        })
        .collect()
}

#[test]
fn approx_rules_in_extensible_match_as_slapd() {
    let ox = Server::memory();
    let got = answers(&ox.url, "oxldap");
    // Fixed expectations (slapd's, see the differential test below).
    let cl = format!("cn=changelog,{USERS}");
    let js = format!("cn=John Smyth,{USERS}");
    assert_eq!(got[0], (0, vec![cl.clone()]), "{}", FILTERS[0]);
    assert_eq!(got[1], (0, vec![cl.clone()]), "{}", FILTERS[1]);
    assert_eq!(got[2], (0, vec![js.clone()]), "{}", FILTERS[2]);
    assert_eq!(got[3], (0, vec![]), "{}", FILTERS[3]);
    if std::path::Path::new(slapd::SLAPD).exists() {
        let s = slapd::Slapd::start("");
        let want = answers(&s.url, "slapd");
        for ((f, g), w) in FILTERS.iter().zip(&got).zip(&want) {
            assert_eq!(g, w, "{f}: oxldap vs slapd");
        }
    }
}
