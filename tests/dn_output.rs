//! The escaping of the DNs the server returns, byte for byte as slapd 2.5 writes them:
//! `,+"\<>;=` as `\XX` hex pairs anywhere in a value, a leading space or `#` and a
//! trailing space as `\20`/`\23`, UTF-8 as it is. (`=` was written bare: `cn=a=b` where
//! slapd writes `cn=a\3Db`; both are valid RFC 4514 §2.4.) The same table runs against
//! Debian's slapd (`dn_escaping_matches_slapd`), so every expectation is slapd's output
//! (checked with /work/tester10-report/repro/dns.py).
#![allow(clippy::unwrap_used, clippy::panic)]

mod common;
#[path = "memberof_vs_slapd/slapd.rs"]
mod slapd;

use common::{run_tool, Server, ROOTDN, ROOTPW, USERS};

/// (DN as the client writes it under ou=Users, the cn value, the RDN as slapd returns it)
const TABLE: &[(&str, &str, &str)] = &[
    ("cn=a\\=b", "a=b", "cn=a\\3Db"),
    ("cn=a\\3db2", "a=b2", "cn=a\\3Db2"),
    ("cn=Pop\\, Ana", "Pop, Ana", "cn=Pop\\2C Ana"),
    ("cn=a\\+b", "a+b", "cn=a\\2Bb"),
    ("cn=say \\\"hi\\\"", "say \"hi\"", "cn=say \\22hi\\22"),
    ("cn=back\\\\slash", "back\\slash", "cn=back\\5Cslash"),
    ("cn=\\<tag\\>", "<tag>", "cn=\\3Ctag\\3E"),
    ("cn=a\\;b", "a;b", "cn=a\\3Bb"),
    ("cn=\\ lead", " lead", "cn=\\20lead"),
    ("cn=trail\\ ", "trail ", "cn=trail\\20"),
    ("cn=\\#hash", "#hash", "cn=\\23hash"),
    ("cn=J\\C3\\B8rn", "Jørn", "cn=Jørn"),
    ("cn=x\\3D\\3D=", "x===", "cn=x\\3D\\3D\\3D"),
];

/// base64 of `s` (LDIF `attr:: value`), so values with spaces and quotes go through as
/// they are.
fn b64(s: &str) -> String {
    use std::io::Write;
    let mut child = std::process::Command::new("base64")
        .arg("-w0")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(s.as_bytes()).unwrap();
    String::from_utf8(child.wait_with_output().unwrap().stdout).unwrap()
}

fn check(url: &str, label: &str) {
    let mut ldif = String::new();
    for (dn, cn, _) in TABLE {
        ldif.push_str(&format!(
            "dn:: {}\nobjectClass: person\ncn:: {}\nsn: s\n\n",
            b64(&format!("{dn},{USERS}")),
            b64(cn)
        ));
    }
    let out = run_tool("ldapadd", url, &["-D", ROOTDN, "-w", ROOTPW], Some(&ldif));
    assert_eq!(out.code, 0, "{label}: {}", out.stderr);
    for (dn, cn, want) in TABLE {
        let out = run_tool(
            "ldapsearch",
            url,
            &[
                "-D",
                ROOTDN,
                "-w",
                ROOTPW,
                "-LLL",
                "-o",
                "ldif-wrap=no",
                "-b",
                &format!("{dn},{USERS}"),
                "-s",
                "base",
                "1.1",
            ],
            None,
        );
        assert_eq!(out.code, 0, "{label}: {dn}: {}", out.stderr);
        // The returned DN (base64 in LDIF when it is not plain ASCII).
        assert_eq!(
            out.dns(),
            vec![format!("{want},{USERS}")],
            "{label}: {dn} ({cn})"
        );
    }
}

#[test]
fn dn_escaping_as_slapd() {
    let s = Server::memory();
    check(&s.url, "oxldap");
}

#[test]
fn dn_escaping_matches_slapd() {
    if !std::path::Path::new(slapd::SLAPD).exists() {
        eprintln!("skipping: {} is not installed", slapd::SLAPD);
        return;
    }
    let s = slapd::Slapd::start("");
    check(&s.url, "slapd");
}

/// An RDN type with options (`cn;lang-en=optcn`): slapd takes it and drops the options
/// (libldap's ldap_str2dn), in an add, a search base and a modify DN's new RDN; the
/// entry is `cn=optcn` with the plain value `cn: optcn`.
fn check_rdn_options(url: &str, label: &str) {
    let root = ["-D", ROOTDN, "-w", ROOTPW];
    let ldif = format!("dn: cn;lang-en=optcn,{USERS}\nobjectClass: person\ncn: optcn\nsn: s\n");
    let out = run_tool("ldapadd", url, &root, Some(&ldif));
    assert_eq!(out.code, 0, "{label}: add: {}", out.stderr);
    let read = |base: &str| {
        let mut a = root.to_vec();
        a.extend(["-LLL", "-o", "ldif-wrap=no", "-b", base, "-s", "base", "cn"]);
        run_tool("ldapsearch", url, &a, None)
    };
    for base in [
        format!("cn=optcn,{USERS}"),
        format!("CN;LANG-EN;x-foo=optcn,{USERS}"),
    ] {
        let out = read(&base);
        assert_eq!(out.code, 0, "{label}: {base}: {}", out.stderr);
        assert_eq!(out.dns(), vec![format!("cn=optcn,{USERS}")], "{label}");
        assert_eq!(out.values("cn"), vec!["optcn".to_string()], "{label}");
    }
    let mut a = root.to_vec();
    let old = format!("cn=optcn,{USERS}");
    a.extend(["-r", old.as_str(), "cn;lang-en=opt2"]);
    let out = run_tool("ldapmodrdn", url, &a, None);
    assert_eq!(out.code, 0, "{label}: modrdn: {}", out.stderr);
    let out = read(&format!("cn=opt2,{USERS}"));
    assert_eq!(out.dns(), vec![format!("cn=opt2,{USERS}")], "{label}");
    assert_eq!(out.values("cn"), vec!["opt2".to_string()], "{label}");
}

#[test]
fn rdn_type_options_are_dropped_as_slapd() {
    let s = Server::memory();
    check_rdn_options(&s.url, "oxldap");
}

#[test]
fn rdn_type_options_match_slapd() {
    if !std::path::Path::new(slapd::SLAPD).exists() {
        eprintln!("skipping: {} is not installed", slapd::SLAPD);
        return;
    }
    let s = slapd::Slapd::start("");
    check_rdn_options(&s.url, "slapd");
}
