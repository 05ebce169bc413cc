//! The real-world regression corpus (`tests/cases`, copied from `../shared/cases`): each
//! script runs against a fresh oxldap with the reference configuration and its output is
//! compared with what OpenLDAP slapd 2.5 answered. Cases whose features belong to later
//! issues are listed in `LATER` with the issue that covers them; every other case must pass.
#![allow(clippy::unwrap_used, clippy::panic)]

mod common;
use common::*;
use std::path::Path;
use std::process::Command;

/// Cases that need features of later issues, and which issue (none left: case 09 needed
/// the assertion, read-entry and matched values controls, `server/src/controls.rs`).
const LATER: &[(&str, &str)] = &[];

#[test]
fn regression_cases_match_slapd() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/cases");
    let conf = dir.join("oxldap-reference.conf");
    let s = Server::start(&["--memory", "-f", conf.to_str().unwrap()], None);
    let out = Command::new("bash")
        .arg(dir.join("run-all.sh"))
        .arg(&s.url)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    println!("{text}");
    let mut unexpected = Vec::new();
    for line in text.lines() {
        if let Some(case) = line.strip_prefix("FAIL ") {
            if !LATER.iter().any(|(c, _)| *c == case) {
                unexpected.push(case.to_string());
            }
        }
    }
    assert!(
        text.lines()
            .any(|l| l.starts_with("PASS ") || l.starts_with("FAIL ")),
        "run-all.sh ran no case:\n{text}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        unexpected.is_empty(),
        "cases failing that this issue covers: {unexpected:?}"
    );
}
