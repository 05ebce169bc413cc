//! `oxldap import -c` (slapadd's continue mode): refused records are reported with their
//! DN, LDIF line and result code and skipped, the rest is loaded exactly as an ordinary
//! import loads it (indexes, memberOf, change log; `oxldap verify` passes), and the exit
//! status, the records refused and the entries loaded are those of `slapadd -c` on the
//! same LDIF (slapd 2.5), except for entries whose parent is missing, which slapadd adds
//! and oxldap refuses (noSuchObject).
#![allow(clippy::unwrap_used, clippy::panic)]

mod common;

use common::{slapadd_conf, Server, BASE, GROUPS, USERS};
use std::collections::BTreeSet;
use std::path::Path;
use std::process::{Command, Output};

/// Users generated; more than one `BULK_CHUNK` (1,024), so refusals fall in several
/// chunk writes and on a chunk boundary.
const USERS_N: usize = 1500;

/// An LDIF file being built, with what each record should do.
#[derive(Default)]
struct Ldif {
    text: String,
    /// (record line, DN, result code; 0 for a record that does not parse or is a change
    /// record) of every record that must be refused, in input order.
    refused: Vec<(usize, String, u32)>,
    /// DNs that must be loaded.
    added: Vec<String>,
}

impl Ldif {
    /// Appends `record` (no trailing blank line); `code` None: it must be added.
    fn push(&mut self, dn: &str, record: &str, code: Option<u32>) {
        let line = self.text.lines().count() + 1;
        self.text.push_str(record);
        self.text.push_str("\n\n");
        match code {
            None => self.added.push(dn.to_string()),
            Some(c) => self.refused.push((line, dn.to_string(), c)),
        }
    }

    fn user(&mut self, i: usize, code: Option<u32>, extra: &str) {
        let dn = format!("uid=u{i},{USERS}");
        let sn = if code == Some(65) { "" } else { "\nsn: Zyxwv" };
        self.push(
            &dn,
            &format!(
                "dn: {dn}\nobjectClass: inetOrgPerson\nuid: u{i}\ncn: User {i}{sn}\n\
                 mail: u{i}@localdomain.test{extra}"
            ),
            code,
        );
    }
}

/// The test LDIF: the Axigen layout, `USERS_N` users of which some are refused for
/// every cause slapadd -c skips (schema violations, an existing DN, an undefined
/// attribute, a record that does not parse, a change record), a group listing refused
/// and accepted members; with `orphans`, also entries whose parent is missing or was
/// refused.
fn build(orphans: bool) -> Ldif {
    let mut l = Ldif::default();
    l.push(
        BASE,
        &format!(
            "dn: {BASE}\nobjectClass: organization\nobjectClass: dcObject\no: x\ndc: localdomain"
        ),
        None,
    );
    let o = format!("o=localdomain,{BASE}");
    l.push(
        &o,
        &format!("dn: {o}\nobjectClass: organization\no: localdomain"),
        None,
    );
    for (ou, dn) in [("Users", USERS), ("Groups", GROUPS)] {
        l.push(
            dn,
            &format!("dn: {dn}\nobjectClass: organizationalUnit\nou: {ou}"),
            None,
        );
    }
    for i in 0..USERS_N {
        match i {
            // inetOrgPerson without sn: objectClassViolation.
            _ if i % 400 == 7 => l.user(i, Some(65), ""),
            // The last entry of the first chunk and the first of the second (4 layout
            // entries before): an existing DN, then an undefined attribute type.
            1019 => {
                let dn = format!("uid=u5,{USERS}");
                l.push(
                    &dn,
                    &format!("dn: {dn}\nobjectClass: inetOrgPerson\nuid: u5\ncn: Again\nsn: Again"),
                    Some(68),
                );
            }
            1020 => l.user(i, Some(17), "\nnoSuchAttributeType: x"),
            1100 if orphans => {
                let dn = format!("uid=o1,ou=Nowhere,{BASE}");
                l.push(
                    &dn,
                    &format!("dn: {dn}\nobjectClass: inetOrgPerson\nuid: o1\ncn: O\nsn: O"),
                    Some(32),
                );
                // Below an entry refused earlier (u407).
                let dn = format!("ou=child,uid=u407,{USERS}");
                l.push(
                    &dn,
                    &format!("dn: {dn}\nobjectClass: organizationalUnit\nou: child"),
                    Some(32),
                );
                l.user(i, None, "");
            }
            1200 => {
                let dn = format!("cn=staff,{GROUPS}");
                let members: String = [1, 2, 7, 1000, 1400]
                    .iter()
                    .map(|m| format!("\nmember: uid=u{m},{USERS}"))
                    .collect();
                l.push(
                    &dn,
                    &format!("dn: {dn}\nobjectClass: groupOfNames\ncn: staff{members}"),
                    None,
                );
                l.user(i, None, "");
            }
            1300 => {
                // A line that is not `type: value`.
                l.push(
                    "",
                    &format!("dn: uid=bad,{USERS}\nobjectClass: inetOrgPerson\nthis is not ldif"),
                    Some(0),
                );
                l.user(i, None, "");
            }
            1350 => {
                l.push(
                    "",
                    &format!("dn: uid=u1,{USERS}\nchangetype: delete"),
                    Some(0),
                );
                l.user(i, None, "");
            }
            _ => l.user(i, None, ""),
        }
    }
    l
}

fn oxldap(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_oxldap"))
        .args(args)
        .output()
        .unwrap()
}

/// The `(line=N)` numbers of slapadd's or oxldap's report lines, in order.
fn reported_lines(stderr: &str) -> Vec<usize> {
    stderr
        .lines()
        .filter_map(|l| {
            let rest = l.split("(line=").nth(1)?;
            rest.split(')').next()?.parse().ok()
        })
        .collect()
}

/// The embedded default configuration with a change log long enough for every add.
fn config(dir: &Path) -> std::path::PathBuf {
    let text = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("server/src/default.conf"),
    )
    .unwrap()
    .replace("syncprov-sessionlog 1000", "syncprov-sessionlog 10000");
    assert!(text.contains("syncprov-sessionlog 10000"));
    let path = dir.join("oxldap.conf");
    std::fs::write(&path, text).unwrap();
    path
}

#[test]
fn import_c_reports_and_skips_refused_records_and_loads_the_rest_consistently() {
    let dir = tempfile::tempdir().unwrap();
    let l = build(true);
    let file = dir.path().join("mixed.ldif");
    std::fs::write(&file, &l.text).unwrap();
    let conf = config(dir.path());
    let data = dir.path().join("db");
    let (conf, data) = (conf.to_str().unwrap(), data.to_str().unwrap());
    let out = oxldap(&[
        "import",
        "-c",
        "-f",
        conf,
        "--data-dir",
        data,
        file.to_str().unwrap(),
    ]);
    let err = String::from_utf8_lossy(&out.stderr);
    // slapadd -c: exit status 1 when any record was refused.
    assert_eq!(out.status.code(), Some(1), "{err}");
    // One report per refused record, in input order, with slapadd's shape.
    let reports: Vec<&str> = err.lines().filter(|l| l.contains("(line=")).collect();
    assert_eq!(reports.len(), l.refused.len(), "{err}");
    // An entry whose parent never appears is held back for it and refused at the end of
    // the input (oxldap_store::BulkAdd::parent_first), after the others.
    let (mut expected, orphans): (Vec<_>, Vec<_>) =
        l.refused.iter().partition(|r| !r.1.contains("ou=Nowhere"));
    expected.extend(orphans);
    for (report, (line, dn, code)) in reports.iter().zip(expected) {
        if *code == 0 {
            assert!(
                report.starts_with(&format!(
                    "oxldap import: could not parse entry (line={line}): "
                )),
                "{report}"
            );
        } else {
            assert!(
                report.starts_with(&format!(
                    "oxldap import: dn=\"{dn}\" (line={line}): ({code}) "
                )),
                "{report}"
            );
        }
    }
    assert!(
        err.contains(&format!("imported {} entries", l.added.len())),
        "{err}"
    );

    let v = oxldap(&["verify", "-f", conf, "--data-dir", data]);
    assert!(
        v.status.success(),
        "verify: {}",
        String::from_utf8_lossy(&v.stdout)
    );

    let s = Server::start(&["-f", conf, "--data-dir", data], None);
    // Everything accepted is there, and nothing refused.
    let all = s.search_root(&["-b", BASE, "(objectClass=*)", "1.1"]);
    all.expect_code(0);
    let lower = |v: &[String]| v.iter().map(|d| d.to_lowercase()).collect::<BTreeSet<_>>();
    assert_eq!(lower(&all.dns()), lower(&l.added));
    // Indexed: equality, substrings and presence answers count the loaded users only.
    let users = l.added.iter().filter(|d| d.starts_with("uid=u")).count();
    assert_eq!(
        s.search_root(&["-b", BASE, "(sn=zyxwv)", "1.1"])
            .dns()
            .len(),
        users
    );
    let subs = s.search_root(&["-b", BASE, "(cn=user 10*)", "1.1"]).dns();
    // u10, u100–u109, u1000–u1099, less u1019 (its record repeats u5's DN) and u1020.
    assert_eq!(subs.len(), 1 + 10 + 100 - 2, "{subs:?}");
    assert_eq!(
        s.search_root(&["-b", BASE, "(mail=*)", "1.1"]).dns().len(),
        users
    );
    // memberOf: the accepted members (u1400 arrived after its group), not the refused u7.
    let staff = s.search_root(&["-b", USERS, &format!("(memberOf=cn=staff,{GROUPS})"), "1.1"]);
    let want: Vec<String> = [1, 2, 1000, 1400]
        .iter()
        .map(|m| format!("uid=u{m},{USERS}"))
        .collect();
    assert_eq!(lower(&staff.dns()), lower(&want));
    // The change log holds one add per loaded entry and nothing of the refused ones.
    let log = s.search_root(&["-b", "cn=changelog", "(changeType=add)", "targetDN"]);
    log.expect_code(0);
    assert_eq!(lower(&log.values("targetDN")), lower(&l.added));
}

#[test]
fn import_c_refuses_and_loads_what_slapadd_c_does() {
    let dir = tempfile::tempdir().unwrap();
    // Without orphans: slapadd adds an entry whose parent is missing, oxldap does not.
    let l = build(false);
    let file = dir.path().join("mixed.ldif");
    std::fs::write(&file, &l.text).unwrap();

    let data = dir.path().join("db");
    let ox = oxldap(&[
        "import",
        "-c",
        "--data-dir",
        data.to_str().unwrap(),
        file.to_str().unwrap(),
    ]);
    let ox_err = String::from_utf8_lossy(&ox.stderr).to_string();
    let exported = oxldap(&["export", "--data-dir", data.to_str().unwrap()]);
    assert!(exported.status.success());

    let conf = slapadd_conf(dir.path());
    let sa = Command::new("/usr/sbin/slapadd")
        .args([
            "-c",
            "-f",
            conf.to_str().unwrap(),
            "-l",
            file.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    let sa_err = String::from_utf8_lossy(&sa.stderr).to_string();
    let slapcat = Command::new("/usr/sbin/slapcat")
        .args(["-f", conf.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(slapcat.status.success());

    assert_eq!(
        ox.status.code(),
        sa.status.code(),
        "oxldap:\n{ox_err}\nslapadd:\n{sa_err}"
    );
    assert_eq!(sa.status.code(), Some(1));
    // The same records refused (by their first line), in the same order.
    let want: Vec<usize> = l.refused.iter().map(|r| r.0).collect();
    assert_eq!(reported_lines(&sa_err), want, "slapadd:\n{sa_err}");
    assert_eq!(reported_lines(&ox_err), want, "oxldap:\n{ox_err}");
    // The same entries loaded.
    let dns = |o: &Output| -> BTreeSet<String> {
        String::from_utf8_lossy(&o.stdout)
            .lines()
            .filter_map(|l| l.strip_prefix("dn: "))
            .map(str::to_lowercase)
            .collect()
    };
    assert_eq!(dns(&exported), dns(&slapcat));
    assert_eq!(dns(&exported).len(), l.added.len());

    // Nothing refused: exit status 0 for both.
    let clean = dir.path().join("clean.ldif");
    let head: String = l
        .text
        .split("\n\n")
        .take(10)
        .map(|r| format!("{r}\n\n"))
        .collect();
    std::fs::write(&clean, head).unwrap();
    let again = dir.path().join("db2");
    let ox = oxldap(&[
        "import",
        "-c",
        "--data-dir",
        again.to_str().unwrap(),
        clean.to_str().unwrap(),
    ]);
    assert_eq!(
        ox.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&ox.stderr)
    );
    // An empty database for the second slapadd (the same path slapadd_conf made).
    let mdb = dir.path().join("mdb");
    std::fs::remove_dir_all(&mdb).unwrap();
    std::fs::create_dir_all(&mdb).unwrap();
    let sa = Command::new("/usr/sbin/slapadd")
        .args([
            "-c",
            "-f",
            conf.to_str().unwrap(),
            "-l",
            clean.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert_eq!(
        sa.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&sa.stderr)
    );
}
