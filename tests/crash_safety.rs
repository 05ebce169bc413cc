//! Crash safety (issue 8 §6): `kill -9` at random moments during a mixed write load from
//! several clients loses no acknowledged write and leaves nothing half-applied; and
//! `oxldap verify` finds a corrupted database (exit status 1, with what is wrong).
//!
//! `kill_9_during_mixed_writes_keeps_every_acknowledged_write` runs `CRASH_CYCLES` kill
//! cycles (default 3); `scripts/crash-test.sh` runs it with more.
#![allow(clippy::unwrap_used, clippy::panic)]

mod common;
use common::*;
use ldap3::{LdapConn, Mod, Scope, SearchEntry};
use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

const CLIENTS: usize = 4;

fn oxldap_verify(data: &Path) -> (bool, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_oxldap"))
        .args(["verify", "--data-dir", data.to_str().unwrap()])
        .output()
        .unwrap();
    (
        out.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

/// What one client knows was acknowledged: its entries with their description counter,
/// and which of them it made members of its group.
#[derive(Debug, Default, Clone)]
struct Model {
    entries: BTreeMap<String, u64>,
    members: BTreeSet<String>,
    next: u64,
}

/// The operation a client had sent when the server died (it may or may not have applied,
/// but never in part).
#[derive(Debug, Clone)]
enum Op {
    Add(String),
    Modify(String, u64),
    Delete(String),
    Join(String),
}

fn group(c: usize) -> String {
    format!("cn=crash-g{c},{GROUPS}")
}

/// splitmix64, for reproducible choices.
fn rand(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// Runs writes until the connection fails; returns the model and the op in flight.
fn client(url: &str, c: usize, mut m: Model, seed: u64) -> (Model, Option<Op>) {
    let Ok(mut ldap) = LdapConn::new(url) else {
        return (m, None);
    };
    if ldap
        .simple_bind(ROOTDN, ROOTPW)
        .and_then(|r| r.success())
        .is_err()
    {
        return (m, None);
    }
    let mut rng = seed;
    loop {
        let pick = rand(&mut rng) % 100;
        let some = |rng: &mut u64, m: &Model| -> Option<String> {
            let n = m.entries.len() as u64;
            (n > 0).then(|| {
                m.entries
                    .keys()
                    .nth((rand(rng) % n) as usize)
                    .unwrap()
                    .clone()
            })
        };
        let op = match (pick, some(&mut rng, &m)) {
            (0..=39, _) | (_, None) => {
                m.next += 1;
                Op::Add(format!("uid=c{c}-{},{USERS}", m.next))
            }
            (40..=69, Some(dn)) => {
                let v = m.entries[&dn] + 1;
                Op::Modify(dn, v)
            }
            (70..=84, Some(dn)) => Op::Delete(dn),
            (_, Some(dn)) if !m.members.contains(&dn) => Op::Join(dn),
            (_, Some(dn)) => Op::Modify(dn.clone(), m.entries[&dn] + 1),
        };
        let res = match &op {
            Op::Add(dn) => {
                let uid = dn.trim_start_matches("uid=").split(',').next().unwrap();
                ldap.add(
                    dn,
                    vec![
                        ("objectClass", HashSet::from(["inetOrgPerson"])),
                        ("uid", HashSet::from([uid])),
                        ("cn", HashSet::from([uid])),
                        ("sn", HashSet::from(["crash"])),
                        ("description", HashSet::from(["0"])),
                    ],
                )
            }
            Op::Modify(dn, v) => ldap.modify(
                dn,
                vec![Mod::Replace(
                    "description".to_string(),
                    HashSet::from([v.to_string()]),
                )],
            ),
            Op::Delete(dn) => ldap.delete(dn),
            Op::Join(dn) => ldap.modify(
                &group(c),
                vec![Mod::Add("member".to_string(), HashSet::from([dn.clone()]))],
            ),
        };
        match res {
            Ok(r) if r.rc == 0 => match op {
                Op::Add(dn) => {
                    m.entries.insert(dn, 0);
                }
                Op::Modify(dn, v) => {
                    m.entries.insert(dn, v);
                }
                Op::Delete(dn) => {
                    m.entries.remove(&dn);
                    // memberof-refint removes the member in the same write.
                    m.members.remove(&dn);
                }
                Op::Join(dn) => {
                    m.members.insert(dn);
                }
            },
            Ok(r) => panic!("client {c}: {op:?} answered {r:?} while the server was up"),
            Err(_) => return (m, Some(op)),
        }
    }
}

/// The state of client `c`'s entries and group on the server.
fn observe(ldap: &mut LdapConn, c: usize) -> (BTreeMap<String, u64>, BTreeSet<String>) {
    let (rs, _) = ldap
        .search(
            USERS,
            Scope::OneLevel,
            &format!("(uid=c{c}-*)"),
            vec!["description", "memberOf"],
        )
        .unwrap()
        .success()
        .unwrap();
    let mut entries = BTreeMap::new();
    for e in rs {
        let e = SearchEntry::construct(e);
        let d = e.attrs["description"][0].parse().unwrap();
        let member_of = e.attrs.get("memberOf").cloned().unwrap_or_default();
        assert!(
            member_of.is_empty() || member_of == [group(c)],
            "{}: memberOf {member_of:?}",
            e.dn
        );
        entries.insert(e.dn.to_ascii_lowercase(), d);
    }
    let (rs, _) = ldap
        .search(&group(c), Scope::Base, "(objectClass=*)", vec!["member"])
        .unwrap()
        .success()
        .unwrap();
    let g = SearchEntry::construct(rs.into_iter().next().unwrap());
    let members = g.attrs["member"]
        .iter()
        .filter(|m| m.starts_with("uid="))
        .map(|m| m.to_ascii_lowercase())
        .collect();
    (entries, members)
}

fn lower(m: &Model) -> Model {
    Model {
        entries: m
            .entries
            .iter()
            .map(|(k, v)| (k.to_ascii_lowercase(), *v))
            .collect(),
        members: m.members.iter().map(|k| k.to_ascii_lowercase()).collect(),
        next: m.next,
    }
}

/// Checks that what the server holds is the model, or the model with `op` applied whole.
fn check(
    c: usize,
    m: &Model,
    op: &Option<Op>,
    seen: &(BTreeMap<String, u64>, BTreeSet<String>),
) -> Model {
    let before = lower(m);
    let mut after = before.clone();
    match op {
        None => {}
        Some(Op::Add(dn)) => {
            after.entries.insert(dn.to_ascii_lowercase(), 0);
        }
        Some(Op::Modify(dn, v)) => {
            after.entries.insert(dn.to_ascii_lowercase(), *v);
        }
        Some(Op::Delete(dn)) => {
            after.entries.remove(&dn.to_ascii_lowercase());
            after.members.remove(&dn.to_ascii_lowercase());
        }
        Some(Op::Join(dn)) => {
            after.members.insert(dn.to_ascii_lowercase());
        }
    }
    let matches = |x: &Model| x.entries == seen.0 && x.members == seen.1;
    if matches(&before) {
        return m.clone();
    }
    if matches(&after) {
        // The unacknowledged op was applied, wholly: adopt it (original case kept).
        let mut m = m.clone();
        match op {
            Some(Op::Add(dn)) => {
                m.entries.insert(dn.clone(), 0);
            }
            Some(Op::Modify(dn, v)) => {
                m.entries.insert(dn.clone(), *v);
            }
            Some(Op::Delete(dn)) => {
                m.entries.remove(dn);
                m.members.remove(dn);
            }
            Some(Op::Join(dn)) => {
                m.members.insert(dn.clone());
            }
            None => {}
        }
        return m;
    }
    panic!(
        "client {c}: server state matches neither the acknowledged writes nor them plus the \
         one in flight ({op:?}).\nacknowledged: {before:?}\nserver: {seen:?}"
    );
}

#[test]
fn kill_9_during_mixed_writes_keeps_every_acknowledged_write() {
    let cycles: usize = std::env::var("CRASH_CYCLES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(3);
    let mut seed: u64 = std::env::var("CRASH_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(0x5eed);
    let mut s = Server::on_disk(tempfile::tempdir().unwrap());
    let mut models = vec![Model::default(); CLIENTS];
    {
        let mut ldap = LdapConn::new(&s.url).unwrap();
        ldap.simple_bind(ROOTDN, ROOTPW).unwrap().success().unwrap();
        for c in 0..CLIENTS {
            ldap.add(
                &group(c),
                vec![
                    ("objectClass", HashSet::from(["groupOfNames"])),
                    ("cn", HashSet::from([format!("crash-g{c}").as_str()])),
                    ("member", HashSet::from([ROOTDN])),
                ],
            )
            .unwrap()
            .success()
            .unwrap();
        }
    }
    let mut acknowledged = 0usize;
    for cycle in 0..cycles {
        let url = Arc::new(s.url.clone());
        let threads: Vec<_> = (0..CLIENTS)
            .map(|c| {
                let (url, m) = (url.clone(), models[c].clone());
                let seed = rand(&mut seed);
                std::thread::spawn(move || client(&url, c, m, seed))
            })
            .collect();
        // A random moment in the load: between 0.3 and 1.5 s.
        std::thread::sleep(Duration::from_millis(300 + rand(&mut seed) % 1200));
        let data = s.data.take().unwrap();
        drop(s); // SIGKILL (Child::kill), then reaped.
        let results: Vec<(Model, Option<Op>)> =
            threads.into_iter().map(|t| t.join().unwrap()).collect();
        let (clean, report) = oxldap_verify(data.path());
        assert!(clean, "cycle {cycle}: verify after kill -9:\n{report}");
        s = Server::on_disk(data);
        let mut ldap = LdapConn::new(&s.url).unwrap();
        ldap.simple_bind(ROOTDN, ROOTPW).unwrap().success().unwrap();
        for (c, (m, op)) in results.into_iter().enumerate() {
            acknowledged += m.entries.len();
            let seen = observe(&mut ldap, c);
            models[c] = check(c, &m, &op, &seen);
        }
        eprintln!(
            "cycle {cycle}: ok ({} entries held by the clients)",
            models.iter().map(|m| m.entries.len()).sum::<usize>()
        );
    }
    assert!(acknowledged > 0, "no write was acknowledged at all");
}

/// Copies a sled data folder (the server is stopped).
fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let target = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &target);
        } else {
            std::fs::copy(e.path(), &target).unwrap();
        }
    }
}

#[test]
fn verify_reports_corruption_and_exits_nonzero() {
    let s = Server::on_disk(tempfile::tempdir().unwrap());
    let ldif = format!(
        "dn: uid=v1,{USERS}\nobjectClass: inetOrgPerson\nuid: v1\ncn: v1\nsn: v\n\n\
         dn: uid=v2,{USERS}\nobjectClass: inetOrgPerson\nuid: v2\ncn: v2\nsn: v\n\n\
         dn: cn=grpa,{GROUPS}\nobjectClass: groupOfNames\ncn: grpa\nmember: uid=v1,{USERS}\n\n"
    );
    s.modify_root("ldapadd", &ldif, &[]).expect_code(0);
    let data = s.stop().unwrap();
    let (clean, report) = oxldap_verify(data.path());
    assert!(clean, "{report}");
    assert!(report.contains("ok:"), "{report}");

    let corrupt = |name: &str, damage: &dyn Fn(&sled::Db), expect: &str| {
        let copy = tempfile::tempdir().unwrap();
        copy_dir(data.path(), copy.path());
        {
            let db = sled::open(copy.path()).unwrap();
            damage(&db);
            db.flush().unwrap();
        }
        let (clean, report) = oxldap_verify(copy.path());
        assert!(
            !clean,
            "{name}: verify passed a damaged database:\n{report}"
        );
        assert!(report.contains(expect), "{name}: {report}");
    };
    corrupt(
        "index posting removed",
        &|db| {
            let t = db.open_tree("index").unwrap();
            let (k, _) = t.iter().next().unwrap().unwrap();
            t.remove(k).unwrap();
        },
        "postings missing",
    );
    corrupt(
        "parent link removed",
        &|db| {
            let t = db.open_tree("children").unwrap();
            let (k, _) = t.iter().last().unwrap().unwrap();
            t.remove(k).unwrap();
        },
        "missing from its parent's children",
    );
    corrupt(
        "memberOf value changed",
        &|db| {
            let t = db.open_tree("entries").unwrap();
            for kv in t.iter() {
                let (k, v) = kv.unwrap();
                let pos = v.windows(b"memberOf".len()).position(|w| w == b"memberOf");
                let grp = v.windows(7).position(|w| w == b"cn=grpa");
                if let (Some(_), Some(g)) = (pos, grp) {
                    let mut v = v.to_vec();
                    v[g + 6] = b'z'; // cn=grpz: same length, still decodes
                    t.insert(k, v).unwrap();
                    return;
                }
            }
            panic!("no entry with memberOf");
        },
        "lacks memberOf",
    );
    corrupt(
        "change-log record under the wrong key",
        &|db| {
            let t = db.open_tree("changelog").unwrap();
            let (k, v) = t.iter().last().unwrap().unwrap();
            let mut k2 = b"20991231000000.000000Z#000000#000#000000".to_vec();
            k2.extend_from_slice(&k[k.len() - 8..]);
            t.insert(k2, v).unwrap();
        },
        "record says CSN",
    );
    corrupt(
        "dn2id entry removed",
        &|db| {
            let t = db.open_tree("dn2id").unwrap();
            let (k, _) = t.iter().last().unwrap().unwrap();
            t.remove(k).unwrap();
        },
        "dn2id does not point",
    );
}
