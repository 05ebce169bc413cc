//! Differential test of the assertion (RFC 4528), pre-read / post-read (RFC 4527) and
//! matched values (RFC 3876) controls, and of a simple paged results control (RFC 2696)
//! given twice: `tests/controls_vs_slapd/controls.py` (python-ldap)
//! sends the same requests to a throwaway Debian slapd 2.5 and to oxldap with the reference
//! configuration, and the transcripts (result codes, the entries carried by the read-entry
//! response controls, the entries and values a search returned) must be equal.
//!
//! Deliberate deviations from slapd, applied to slapd's transcript by [`deviations`]:
//! - matched values: slapd returns the attributes it computes after filtering (entryDN,
//!   hasSubordinates, subschemaSubentry) with *no values* when no value matched; oxldap
//!   leaves them out like every other attribute without a matching value (RFC 3876 §2);
//! - matched values with an approximate item (`(sn~=uno)`): slapd never returns a value,
//!   although the same search filter matches the entry; oxldap matches values with the
//!   rule the search filter uses.
//!
//! `access_denied_read_entry_controls` (oxldap only) covers read-entry controls a client
//! may not read: slapd 2.5 answers success there *without applying the write*, critical or
//! not (observed with `ldapmodify -e '!preread=description'` as a `=w` writer); oxldap
//! fails a critical control with insufficientAccessRights (50) and nothing changes, and
//! applies the write without the response control when it is not critical.
#![allow(clippy::unwrap_used, clippy::panic)]

mod common;
#[path = "memberof_vs_slapd/slapd.rs"]
mod slapd;

use common::Server;
use std::path::{Path, PathBuf};
use std::process::Command;

const PYTHON: &str = "/usr/bin/python3";

fn script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/controls_vs_slapd/controls.py")
}

fn reference_conf() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/cases/oxldap-reference.conf")
}

/// Runs controls.py against `url` (with `extra` arguments); returns its stdout lines.
fn transcript(server: &str, url: &str, extra: &[&str]) -> Vec<String> {
    let out = Command::new(PYTHON)
        .arg(script())
        .arg(url)
        .args(extra)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {PYTHON} (install python3-ldap): {e}"));
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "controls.py against {server} failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout.lines().map(str::to_string).collect()
}

/// slapd's transcript with the deliberate deviations (module docs) rewritten to oxldap's
/// answer.
fn deviations(slapd: Vec<String>) -> Vec<String> {
    let mut out = Vec::new();
    let mut section = String::new();
    for line in slapd {
        if !line.starts_with(' ') {
            section = line.clone();
        }
        let mv = section.starts_with("mv ") && !section.starts_with("mv typesOnly");
        // "    entryDN:" — an attribute returned with no values.
        let empty_attr = line.starts_with("    ") && line.trim_end().ends_with(':');
        if mv && empty_attr {
            continue;
        }
        out.push(line.clone());
        if section.starts_with("mv (sn~=uno)") && line.starts_with("  dn: ") {
            out.push("    sn: uno".to_string());
        }
    }
    out
}

fn first_difference(want: &[String], got: &[String]) -> String {
    let i = want
        .iter()
        .zip(got)
        .position(|(a, b)| a != b)
        .unwrap_or(want.len().min(got.len()));
    let from = i.saturating_sub(5);
    format!(
        "first difference at line {}\n--- slapd (deviations applied)\n{}\n--- oxldap\n{}",
        i + 1,
        want.get(from..(i + 5).min(want.len()))
            .unwrap_or_default()
            .join("\n"),
        got.get(from..(i + 5).min(got.len()))
            .unwrap_or_default()
            .join("\n"),
    )
}

#[test]
fn controls_match_slapd() {
    if !Path::new(slapd::SLAPD).exists() {
        println!(
            "SKIPPED controls_match_slapd: {} is not installed",
            slapd::SLAPD
        );
        return;
    }
    let overlays =
        "overlay memberof\nmemberof-refint true\noverlay refint\nrefint_attributes member\noverlay sssvlv\n";
    let reference = slapd::Slapd::start(overlays);
    let want = deviations(transcript("slapd", &reference.url, &[]));
    drop(reference);
    let conf = reference_conf();
    let ox = Server::start(&["--memory", "-f", conf.to_str().unwrap()], None);
    let got = transcript("oxldap", &ox.url, &[]);
    assert!(
        want.len() > 150,
        "slapd transcript too short:\n{}",
        want.join("\n")
    );
    // The transcript must show the controls at work, not only agree.
    for needle in [
        "rc=122",
        "  pre-read:",
        "  post-read:",
        "mv (mail=*@x.test): rc=0",
        "sorted cn by 5 page 2: rc=0 paged cookie=empty sortResult=0",
        "sorted cn limit 3 page 0: rc=4 Apple banana Cherry",
    ] {
        assert!(
            got.iter().any(|l| l.contains(needle)),
            "no {needle:?} in the transcript"
        );
    }
    assert!(want == got, "{}", first_difference(&want, &got));
}

#[test]
fn access_denied_read_entry_controls() {
    let dir = tempfile::tempdir().unwrap();
    let conf = dir.path().join("acl.conf");
    let mut text = std::fs::read_to_string(reference_conf()).unwrap();
    text.push_str(
        "access to attrs=userPassword by anonymous auth by * none\n\
         access to dn.subtree=\"ou=acl,dc=localdomain,dc=test\" \
         by dn.exact=\"cn=writer,ou=acl,dc=localdomain,dc=test\" =w by * none\n\
         access to * by * read\n",
    );
    std::fs::write(&conf, text).unwrap();
    let ox = Server::start(&["--memory", "-f", conf.to_str().unwrap()], None);
    let got = transcript("oxldap", &ox.url, &["acl"]);
    let tail: Vec<&str> = got
        .iter()
        .skip_while(|l| !l.starts_with("add acl ou"))
        .map(String::as_str)
        .collect();
    assert_eq!(
        tail,
        [
            "add acl ou: rc=0",
            "add writer: rc=0",
            "add target: rc=0",
            "writer modify: rc=0",
            "writer modify critical pre-read: rc=50",
            "writer modify critical post-read: rc=50",
            "writer modify non-critical pre/post-read: rc=0",
            "writer modify assertion on unsearchable attr: rc=122",
            "target after: rc=0 entries=1",
            "  dn: cn=target,ou=acl,dc=localdomain,dc=test",
            "    description: d4",
        ]
    );
}
