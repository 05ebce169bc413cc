//! Content synchronization (RFC 4533) against real peers: OpenLDAP's slapd as a syncrepl
//! consumer, ldapsearch's `-E sync=...` and python-ldap's `SyncreplConsumer`.
//!
//! - `slapd_consumer_converges_refresh_only` / `..._refresh_and_persist`: a Debian slapd
//!   (back_mdb) replicates oxldap's suffix with `syncrepl type=refreshOnly` (polling every
//!   second) or `type=refreshAndPersist`; after the initial load, after more than 50 adds,
//!   modifies, deletes, renames, moves and group-membership changes, and after a consumer
//!   restart on its old database (with changes made while it was down), the consumer's
//!   content must equal oxldap's.
//! - `ldapsearch_sync_messages`: what `ldapsearch -E sync=ro`, `sync=ro/COOKIE` and
//!   `sync=rp` print: Sync State controls, the syncIdSet of the present phase, Sync Done
//!   with a `csn=` cookie, and a change pushed during the persist phase.
//! - `cookie_survives_restart`: a cookie taken before oxldap restarts still gives a correct
//!   incremental refresh afterwards.
//!
//! slapd is started by `tests/syncrepl/start-consumer.sh`, python-ldap runs
//! `tests/syncrepl/refresh.py`. The slapd tests print a message and return (pass) when
//! `/usr/sbin/slapd` is not installed (`scripts/test.sh` installs it).
#![allow(clippy::unwrap_used, clippy::panic)]

mod common;
use common::*;
use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

const SLAPD: &str = "/usr/sbin/slapd";
const PYTHON: &str = "/usr/bin/python3";
const SYNC_STATE: &str = "control: 1.3.6.1.4.1.4203.1.9.1.2 ";
const SYNC_DONE: &str = "control: 1.3.6.1.4.1.4203.1.9.1.3 ";
/// How long a consumer may take to catch up.
const CONVERGE: Duration = Duration::from_secs(30);

fn scripts() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/syncrepl")
}

/// True when slapd is installed; otherwise prints why the test is skipped.
fn slapd_installed(test: &str) -> bool {
    if Path::new(SLAPD).exists() {
        return true;
    }
    println!("SKIPPED {test}: {SLAPD} is not installed (scripts/test.sh installs Debian's slapd)");
    false
}

/// A port that was free a moment ago.
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn alive(pid: &str) -> bool {
    Command::new("kill")
        .args(["-0", pid])
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// A running slapd consumer on a folder owned by the test (so it can be restarted on the
/// same database). Stopped with SIGTERM (then SIGKILL) on drop, even when the test fails.
struct Consumer {
    url: String,
    pid: String,
    dir: PathBuf,
}

impl Consumer {
    /// Starts (or restarts, when `dir` already holds a slapd.conf) a consumer of `provider`.
    fn start(dir: &Path, provider: &str, kind: &str) -> Consumer {
        let mut last = String::new();
        for _ in 0..3 {
            let port = free_port();
            let out = Command::new("bash")
                .arg(scripts().join("start-consumer.sh"))
                .arg(port.to_string())
                .arg(dir)
                .arg(provider)
                .arg(kind)
                .output()
                .unwrap();
            let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
            let pid = std::fs::read_to_string(dir.join("slapd.pid"))
                .unwrap_or_default()
                .trim()
                .to_string();
            let started = !pid.is_empty() && pid.chars().all(|c| c.is_ascii_digit());
            let consumer = started.then(|| Consumer {
                url: format!("ldap://127.0.0.1:{port}/"),
                pid,
                dir: dir.to_path_buf(),
            });
            if out.status.success() {
                if let Some(c) = consumer {
                    return c;
                }
            }
            // `consumer` drops here and stops whatever did start.
            last = format!(
                "stdout:\n{stdout}\nstderr:\n{}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        panic!("could not start the slapd consumer with tests/syncrepl/start-consumer.sh:\n{last}");
    }

    /// The end of the consumer's `-d sync` log, for failure messages.
    fn log_tail(&self) -> String {
        let log = std::fs::read_to_string(self.dir.join("slapd.log")).unwrap_or_default();
        let lines: Vec<&str> = log
            .lines()
            .filter(|l| !l.contains("slap_get_csn") && !l.contains("_commit_csn"))
            .collect();
        lines[lines.len().saturating_sub(60)..].join("\n")
    }

    /// Stops the consumer and waits until it is gone (it must release its database
    /// before it is restarted on it).
    fn stop(self) {
        drop(self);
    }
}

impl Drop for Consumer {
    fn drop(&mut self) {
        let _ = Command::new("kill").args(["-TERM", &self.pid]).status();
        let start = Instant::now();
        while alive(&self.pid) && start.elapsed() < Duration::from_secs(10) {
            std::thread::sleep(Duration::from_millis(50));
        }
        if alive(&self.pid) {
            let _ = Command::new("kill").args(["-KILL", &self.pid]).status();
            std::thread::sleep(Duration::from_millis(200));
        }
    }
}

/// The subtree under BASE as the rootdn sees it: every user attribute, entryUUID and
/// memberOf (the consumer stores memberOf as replicated, see start-consumer.sh),
/// normalized to a map from DN to sorted "attr: value" lines (attribute names lowercased,
/// values exact). None when the search fails (e.g. the consumer has no suffix yet).
fn content(url: &str) -> Option<BTreeMap<String, Vec<String>>> {
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
            BASE,
            "*",
            "entryUUID",
            "memberOf",
        ],
        None,
    );
    if out.code != 0 {
        return None;
    }
    let mut map = BTreeMap::new();
    for block in out.stdout.split("\n\n") {
        let mut dn = None;
        let mut lines = Vec::new();
        for line in block.lines().filter(|l| !l.is_empty()) {
            if line.starts_with("dn:") {
                dn = Some(line.to_string());
                continue;
            }
            let (name, rest) = line.split_once(':').unwrap();
            lines.push(format!("{}:{rest}", name.to_ascii_lowercase()));
        }
        if let Some(dn) = dn {
            lines.sort();
            map.insert(dn, lines);
        }
    }
    Some(map)
}

/// What differs between two contents, for failure messages.
fn diff(
    provider: &BTreeMap<String, Vec<String>>,
    consumer: &BTreeMap<String, Vec<String>>,
) -> String {
    let mut out = String::new();
    let dns: BTreeSet<&String> = provider.keys().chain(consumer.keys()).collect();
    for dn in dns {
        match (provider.get(dn), consumer.get(dn)) {
            (Some(_), None) => out.push_str(&format!("only on oxldap:   {dn}\n")),
            (None, Some(_)) => out.push_str(&format!("only on consumer: {dn}\n")),
            (Some(p), Some(c)) if p != c => {
                out.push_str(&format!("differs: {dn}\n"));
                for l in p.iter().filter(|l| !c.contains(l)) {
                    out.push_str(&format!("   oxldap:   {l}\n"));
                }
                for l in c.iter().filter(|l| !p.contains(l)) {
                    out.push_str(&format!("   consumer: {l}\n"));
                }
            }
            _ => {}
        }
    }
    out
}

/// Waits (at most CONVERGE) until the consumer holds exactly oxldap's content.
fn assert_converges(provider: &Server, consumer: &Consumer, stage: &str) {
    let expected = content(&provider.url).expect("search oxldap");
    let start = Instant::now();
    let mut last = None;
    while start.elapsed() < CONVERGE {
        let got = content(&consumer.url);
        if got.as_ref() == Some(&expected) {
            println!(
                "{stage}: converged on {} entries in {:?}",
                expected.len(),
                start.elapsed()
            );
            return;
        }
        last = got;
        std::thread::sleep(Duration::from_millis(250));
    }
    let d = match &last {
        Some(c) => diff(&expected, c),
        None => "the consumer's search of the suffix failed".to_string(),
    };
    panic!(
        "{stage}: the slapd consumer did not converge within {CONVERGE:?}:\n{d}\n\
         consumer log (end):\n{}\n\noxldap log (end):\n{}",
        consumer.log_tail(),
        tail(&provider.log(), 30)
    );
}

fn tail(s: &str, n: usize) -> String {
    let lines: Vec<&str> = s.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

fn user(p: &str, n: u32) -> String {
    format!("uid={p}-u{n:02},{USERS}")
}

fn group(p: &str, n: u32) -> String {
    format!("cn={p}-g{n},{GROUPS}")
}

fn add_user(p: &str, n: u32, under: &str) -> String {
    format!(
        "dn: uid={p}-u{n:02},{under}\nchangetype: add\nobjectClass: inetOrgPerson\n\
         uid: {p}-u{n:02}\ncn: User {p} {n}\nsn: S{n}\nmail: {p}{n}@localdomain.test\n\
         userPassword: pw-{p}-{n}\n\n"
    )
}

/// A scripted sequence of 52 writes whose names all start with `p` (so it can be run
/// several times on one server): adds, modifies, member changes, renames with and
/// without deleteoldrdn, moves, a rename-and-move, deletes (of members too, so memberOf
/// and member values follow), a subtree rename and a subtree move, and a group delete.
fn scenario(p: &str) -> (String, usize) {
    let mut ops: Vec<String> = Vec::new();
    let staff = format!("ou={p}-Staff,o=localdomain,{BASE}");
    ops.push(format!(
        "dn: {staff}\nchangetype: add\nobjectClass: organizationalUnit\nou: {p}-Staff\n\n"
    ));
    for n in 0..16 {
        ops.push(add_user(p, n, USERS));
    }
    for g in 0..3 {
        let members: String = (g * 2..g * 2 + 4)
            .map(|n| format!("member: {}\n", user(p, n)))
            .collect();
        ops.push(format!(
            "dn: {}\nchangetype: add\nobjectClass: groupOfNames\ncn: {p}-g{g}\n{members}\n",
            group(p, g)
        ));
    }
    for n in 8..16 {
        ops.push(format!(
            "dn: {}\nchangetype: modify\nreplace: mail\nmail: {p}.{n}@example.test\n-\n\
             add: description\ndescription: changed {n}\ndescription: Zoë {n}\n-\n\
             add: telephoneNumber\ntelephoneNumber: +40 21 {n}\n\n",
            user(p, n)
        ));
    }
    let g0 = group(p, 0);
    let g2 = group(p, 2);
    ops.push(format!(
        "dn: {g0}\nchangetype: modify\nadd: member\nmember: {}\nmember: {}\n\n",
        user(p, 7),
        user(p, 11)
    ));
    ops.push(format!(
        "dn: {g0}\nchangetype: modify\ndelete: member\nmember: {}\n\n",
        user(p, 0)
    ));
    ops.push(format!(
        "dn: {g2}\nchangetype: modify\nreplace: member\nmember: {}\nmember: {}\n\n",
        user(p, 12),
        user(p, 13)
    ));
    ops.push(format!(
        "dn: {}\nchangetype: modify\nadd: member\nmember: {}\n\n",
        group(p, 1),
        user(p, 14)
    ));
    ops.push(format!(
        "dn: {}\nchangetype: modify\ndelete: description\ndescription: changed 12\n\n",
        user(p, 12)
    ));
    ops.push(format!(
        "dn: {}\nchangetype: modify\ndelete: telephoneNumber\n\n",
        user(p, 13)
    ));
    // Renames: u01 drops its old RDN value, u02 keeps it.
    ops.push(format!(
        "dn: {}\nchangetype: modrdn\nnewrdn: uid={p}-u01r\ndeleteoldrdn: 1\n\n",
        user(p, 1)
    ));
    ops.push(format!(
        "dn: {}\nchangetype: modrdn\nnewrdn: uid={p}-u02r\ndeleteoldrdn: 0\n\n",
        user(p, 2)
    ));
    for n in 3..6 {
        ops.push(format!(
            "dn: {}\nchangetype: modrdn\nnewrdn: uid={p}-u{n:02}\ndeleteoldrdn: 1\n\
             newsuperior: {staff}\n\n",
            user(p, n)
        ));
    }
    ops.push(format!(
        "dn: {}\nchangetype: modrdn\nnewrdn: uid={p}-u06m\ndeleteoldrdn: 1\nnewsuperior: {staff}\n\n",
        user(p, 6)
    ));
    for n in [8, 9, 10, 7] {
        ops.push(format!("dn: {}\nchangetype: delete\n\n", user(p, n)));
    }
    // A subtree rename, then a subtree move (members of groups among the children).
    let team = format!("ou={p}-Team,o=localdomain,{BASE}");
    ops.push(format!(
        "dn: {staff}\nchangetype: modrdn\nnewrdn: ou={p}-Team\ndeleteoldrdn: 1\n\n"
    ));
    ops.push(format!(
        "dn: {team}\nchangetype: modrdn\nnewrdn: ou={p}-Team\ndeleteoldrdn: 1\nnewsuperior: {USERS}\n\n"
    ));
    let team = format!("ou={p}-Team,{USERS}");
    for n in [3, 4] {
        ops.push(format!(
            "dn: uid={p}-u{n:02},{team}\nchangetype: modify\nreplace: sn\nsn: Moved {n}\n\n"
        ));
    }
    ops.push(format!("dn: {}\nchangetype: delete\n\n", group(p, 1)));
    ops.push(add_user(p, 16, &team));
    ops.push(format!(
        "dn: {g0}\nchangetype: modify\nadd: member\nmember: uid={p}-u16,{team}\n\n"
    ));
    ops.push(format!(
        "dn: o=localdomain,{BASE}\nchangetype: modify\nadd: description\ndescription: round {p}\n\n"
    ));
    ops.push(format!(
        "dn: {}\nchangetype: modify\nreplace: cn\ncn: Ünïcödé {p}\ncn: User {p} 15\n\n",
        user(p, 15)
    ));
    let n = ops.len();
    (ops.concat(), n)
}

/// Runs LDIF change records against oxldap as the rootdn; every one must succeed.
fn apply(server: &Server, ldif: &str) {
    let out = server.modify_root("ldapmodify", ldif, &[]);
    assert_eq!(
        out.code, 0,
        "ldapmodify failed; stdout:\n{}\nstderr:\n{}",
        out.stdout, out.stderr
    );
}

/// Some initial data: users, a group with members, an entry with a binary-ish value.
fn initial_data(server: &Server) {
    let mut ldif = String::new();
    for n in 0..10 {
        ldif.push_str(&add_user("init", n, USERS));
    }
    ldif.push_str(&format!(
        "dn: cn=init-staff,{GROUPS}\nchangetype: add\nobjectClass: groupOfNames\n\
         cn: init-staff\nmember: {}\nmember: {}\nmember: {}\n\n",
        user("init", 0),
        user("init", 1),
        user("init", 2)
    ));
    apply(server, &ldif);
}

/// Changes made while the consumer is stopped: the next scenario round plus changes to
/// entries the consumer already holds (deletes must be found by the present phase).
fn offline_changes(server: &Server) -> usize {
    let (ldif, n) = scenario("c");
    apply(server, &ldif);
    let extra = format!(
        "dn: {}\nchangetype: delete\n\n\
         dn: {}\nchangetype: modify\nreplace: sn\nsn: Offline\n\n\
         dn: {}\nchangetype: modrdn\nnewrdn: uid=init-u05r\ndeleteoldrdn: 1\n\n\
         dn: cn=init-staff,{GROUPS}\nchangetype: modify\ndelete: member\nmember: {}\n\n\
         dn: {}\nchangetype: delete\n\n",
        user("init", 4),
        user("init", 3),
        user("init", 5),
        user("init", 1),
        group("b", 0),
    );
    apply(server, &extra);
    n + 5
}

fn consumer_converges(test: &str, kind: &str) {
    if !slapd_installed(test) {
        return;
    }
    // The embedded default configuration: overlay syncprov and overlay memberof.
    let server = Server::start(&["--memory"], None);
    initial_data(&server);
    let dir = tempfile::tempdir().unwrap();
    let consumer = Consumer::start(dir.path(), &server.url, kind);
    assert_converges(&server, &consumer, "initial load");

    let (ldif, n) = scenario("b");
    assert!(n >= 50, "the scenario has only {n} writes");
    apply(&server, &ldif);
    assert_converges(&server, &consumer, &format!("after {n} writes"));

    consumer.stop();
    let n = offline_changes(&server);
    let consumer = Consumer::start(dir.path(), &server.url, kind);
    assert_converges(
        &server,
        &consumer,
        &format!("after a consumer restart and {n} writes while it was down"),
    );

    // And the restarted consumer keeps following.
    let (ldif, n) = scenario("d");
    apply(&server, &ldif);
    assert_converges(&server, &consumer, &format!("after {n} more writes"));
}

/// The consumer is stopped twice against a provider with a small session log
/// (`syncprov-sessionlog 150` change records): first fewer changes than the log holds are
/// made while it is down (it must converge through the delete phase), then more (through
/// the present phase). Which phase served it is read from oxldap's log.
fn consumer_converges_with_sessionlog(test: &str, kind: &str) {
    if !slapd_installed(test) {
        return;
    }
    let (server, _conf) = reference_server_with_syncprov("syncprov-sessionlog 150\n");
    initial_data(&server);
    let dir = tempfile::tempdir().unwrap();
    let consumer = Consumer::start(dir.path(), &server.url, kind);
    assert_converges(&server, &consumer, "initial load");

    let count = |needle: &str| server.log().matches(needle).count();
    let deletes_before = count("sync refresh: delete phase");
    consumer.stop();
    // A handful of writes: well within the session log.
    let few = format!(
        "dn: {}\nchangetype: modify\nreplace: sn\nsn: Few\n\n\
         dn: {}\nchangetype: delete\n\n\
         dn: {}\nchangetype: modrdn\nnewrdn: uid=init-u06r\ndeleteoldrdn: 1\n\n\
         dn: cn=init-staff,{GROUPS}\nchangetype: modify\ndelete: member\nmember: {}\n\n{}",
        user("init", 3),
        user("init", 4),
        user("init", 6),
        user("init", 1),
        add_user("few", 1, USERS),
    );
    apply(&server, &few);
    let consumer = Consumer::start(dir.path(), &server.url, kind);
    assert_converges(
        &server,
        &consumer,
        "after 5 writes (fewer than the session log)",
    );
    assert!(
        count("sync refresh: delete phase") > deletes_before,
        "the restarted consumer was not served by the delete phase:\n{}",
        tail(&server.log(), 30)
    );

    let presents_before = count("sync refresh: present phase");
    consumer.stop();
    let mut n = 0;
    for round in ["s1", "s2", "s3"] {
        let (ldif, k) = scenario(round);
        apply(&server, &ldif);
        n += k;
    }
    let consumer = Consumer::start(dir.path(), &server.url, kind);
    assert_converges(
        &server,
        &consumer,
        &format!("after {n} writes (more than the session log)"),
    );
    assert!(
        count("sync refresh: present phase") > presents_before,
        "the restarted consumer was not served by the present phase:\n{}",
        tail(&server.log(), 30)
    );
}

#[test]
fn slapd_consumer_sessionlog_refresh_only() {
    consumer_converges_with_sessionlog("slapd_consumer_sessionlog_refresh_only", "refreshOnly");
}

#[test]
fn slapd_consumer_sessionlog_refresh_and_persist() {
    consumer_converges_with_sessionlog(
        "slapd_consumer_sessionlog_refresh_and_persist",
        "refreshAndPersist",
    );
}

#[test]
fn slapd_consumer_converges_refresh_only() {
    consumer_converges("slapd_consumer_converges_refresh_only", "refreshOnly");
}

#[test]
fn slapd_consumer_converges_refresh_and_persist() {
    consumer_converges(
        "slapd_consumer_converges_refresh_and_persist",
        "refreshAndPersist",
    );
}

/// One entry of ldapsearch's (non -LLL) output of a sync search.
#[derive(Debug)]
struct SyncEntry {
    dn: String,
    /// added, modified, deleted or present, from ldapsearch's comment.
    state: String,
    uuid: String,
    cookie: Option<String>,
}

/// What ldapsearch printed for a sync search.
#[derive(Debug, Default)]
struct SyncOutput {
    entries: Vec<SyncEntry>,
    /// UUIDs listed in "SyncInfo Received: ID Set" messages of the present phase.
    id_set: Vec<String>,
    /// UUIDs listed in ID Set messages with refreshDeletes TRUE (delete phase), which
    /// ldapsearch prints as "following UUIDs no longer match the search".
    id_deletes: Vec<String>,
    /// The refreshDeletes flag of the Sync Done control, as ldapsearch prints it.
    refresh_deletes: Option<bool>,
    /// Whether a SyncDone control came with the result.
    done: bool,
    /// The cookies of SyncInfo and SyncDone messages, in order.
    cookies: Vec<String>,
    switched_to_persist: bool,
}

fn parse_sync(text: &str) -> SyncOutput {
    let mut out = SyncOutput::default();
    let mut dn = String::new();
    let mut in_id_set = false;
    let mut deletes = false;
    let mut lines = text.lines().peekable();
    while let Some(line) = lines.next() {
        if let Some(d) = line.strip_prefix("dn: ") {
            dn = d.to_string();
        }
        if let Some(rest) = line.strip_prefix("# SyncState control, UUID ") {
            let (uuid, state) = rest.split_once(' ').unwrap();
            let cookie = lines
                .peek()
                .and_then(|l| l.strip_prefix("# cookie: "))
                .map(str::to_string);
            out.entries.push(SyncEntry {
                dn: dn.clone(),
                state: state.to_string(),
                uuid: uuid.to_string(),
                cookie,
            });
            continue;
        }
        if line.starts_with("# SyncInfo Received: ID Set") {
            in_id_set = true;
            deletes = false;
            continue;
        }
        if in_id_set {
            if let Some(u) = line.strip_prefix("#\t") {
                let list = if deletes {
                    &mut out.id_deletes
                } else {
                    &mut out.id_set
                };
                list.push(u.trim().to_string());
                continue;
            }
            if line.starts_with("# following UUIDs no longer match") {
                deletes = true;
                continue;
            }
            if line.starts_with("# syncUUIDs:")
                || line.starts_with("# refreshDeletes")
                || line.starts_with("# following UUIDs")
            {
                continue;
            }
            in_id_set = false;
        }
        if let Some(flag) = line.strip_prefix("# SyncDone control refreshDeletes=") {
            out.refresh_deletes = Some(flag.trim() == "1");
        }
        if line.starts_with(SYNC_DONE) {
            out.done = true;
        }
        if line.starts_with("# refresh done, switching to persist stage") {
            out.switched_to_persist = true;
        }
        if let Some(c) = line.strip_prefix("# cookie: ") {
            if !out
                .entries
                .last()
                .is_some_and(|e| e.cookie.as_deref() == Some(c))
            {
                out.cookies.push(c.to_string());
            }
        }
    }
    out
}

/// The `csn=` part of a cookie.
fn csn_of_cookie(cookie: &str) -> String {
    cookie
        .split(',')
        .find_map(|p| p.strip_prefix("csn="))
        .unwrap_or_else(|| panic!("cookie without csn=: {cookie}"))
        .to_string()
}

/// ldapsearch as the rootdn with `-E sync=MODE` (no -LLL, so the controls are shown).
fn sync_search(server: &Server, mode: &str) -> (ToolOutput, SyncOutput) {
    let out = server.sync_search(mode, None, &["-b", BASE, "entryUUID"]);
    out.expect_code(0);
    let parsed = parse_sync(&out.stdout);
    (out, parsed)
}

/// DN → entryUUID and DN → entryCSN of the whole subtree.
fn uuids_and_csns(server: &Server) -> (BTreeMap<String, String>, BTreeMap<String, String>) {
    let out = server.search_root(&["-b", BASE, "entryUUID", "entryCSN"]);
    out.expect_code(0);
    let (mut u, mut c) = (BTreeMap::new(), BTreeMap::new());
    for block in out.stdout.split("\n\n") {
        let get = |p: &str| {
            block
                .lines()
                .find_map(|l| l.strip_prefix(p))
                .map(str::to_string)
        };
        if let Some(dn) = get("dn: ") {
            u.insert(dn.clone(), get("entryUUID: ").unwrap());
            c.insert(dn, get("entryCSN: ").unwrap());
        }
    }
    (u, c)
}

#[test]
fn ldapsearch_sync_messages() {
    let server = Server::memory();
    initial_data(&server);
    let (uuids, csns) = uuids_and_csns(&server);
    let total = uuids.len();

    // A full refreshOnly: every entry with a Sync State "add", then Sync Done with a
    // cookie whose CSN is the newest entryCSN.
    let (out, full) = sync_search(&server, "ro");
    let states = out
        .stdout
        .lines()
        .filter(|l| l.starts_with(SYNC_STATE))
        .count();
    assert_eq!(
        states, total,
        "one Sync State control per entry:\n{}",
        out.stdout
    );
    assert_eq!(full.entries.len(), total, "{}", out.stdout);
    for e in &full.entries {
        assert_eq!(e.state, "added", "refresh entries are adds: {e:?}");
        assert_eq!(
            uuids.get(&e.dn),
            Some(&e.uuid),
            "Sync State UUID of {}",
            e.dn
        );
    }
    assert!(full.id_set.is_empty(), "no syncIdSet without a cookie");
    assert!(full.done, "no Sync Done control:\n{}", out.stdout);
    assert_eq!(full.cookies.len(), 1, "{}", out.stdout);
    let cookie = full.cookies[0].clone();
    assert!(cookie.contains("csn="), "cookie without csn=: {cookie}");
    let newest = csns.values().max().unwrap().clone();
    assert_eq!(
        csn_of_cookie(&cookie),
        newest,
        "the cookie's CSN is the newest entryCSN"
    );

    // A change, then an incremental refresh from the cookie: the change log covers it,
    // so the delete phase: only the changed entry is sent, the deleted one is listed in
    // a syncIdSet with refreshDeletes TRUE, nothing is listed as present, and Sync Done
    // says refreshDeletes (RFC 4533 §3.3.2).
    let changed = user("init", 3);
    let gone = user("init", 9);
    apply(
        &server,
        &format!(
            "dn: {changed}\nchangetype: modify\nreplace: sn\nsn: Changed\n\n\
             dn: {gone}\nchangetype: delete\n\n"
        ),
    );
    let (_, csns2) = uuids_and_csns(&server);
    let (out, inc) = sync_search(&server, &format!("ro/{cookie}"));
    let sent: Vec<&str> = inc.entries.iter().map(|e| e.dn.as_str()).collect();
    assert_eq!(sent, vec![changed.as_str()], "{}", out.stdout);
    assert!(inc.id_set.is_empty(), "no present phase:\n{}", out.stdout);
    assert_eq!(inc.id_deletes, vec![uuids[&gone].clone()], "{}", out.stdout);
    assert!(inc.done, "{}", out.stdout);
    assert_eq!(inc.refresh_deletes, Some(true), "{}", out.stdout);
    let cookie2 = inc.cookies.last().unwrap().clone();
    assert!(
        csn_of_cookie(&cookie2) > csn_of_cookie(&cookie),
        "{cookie2} after {cookie}"
    );
    assert!(
        csn_of_cookie(&cookie2) >= csns2[&changed],
        "the new cookie {cookie2} is older than the change {}",
        csns2[&changed]
    );

    // Nothing changed since: no entry, no UUID, and (as slapd) a Sync Done with
    // refreshDeletes and no new cookie.
    let (out, none) = sync_search(&server, &format!("ro/{cookie2}"));
    assert!(none.entries.is_empty(), "{}", out.stdout);
    assert!(
        none.id_set.is_empty() && none.id_deletes.is_empty(),
        "{}",
        out.stdout
    );
    assert!(none.cookies.is_empty(), "{}", out.stdout);
    assert_eq!(none.refresh_deletes, Some(true), "{}", out.stdout);

    // A cookie that does not parse is no cookie: a full refresh, as slapd 2.5 answers
    // (checked against slapd: "garbage", "csn=garbage", "rid=abc,csn=<valid>" and
    // "sid=zz,csn=<valid>" all get every entry). A bad CSN next to a good one is skipped,
    // so the cookie still counts ("rid=001,csn=<newest>;garbage,junk=1": nothing new).
    let (_, now) = sync_search(&server, "ro");
    let mut want: Vec<&str> = now.entries.iter().map(|e| e.dn.as_str()).collect();
    want.sort_unstable();
    assert!(want.len() > 1, "{want:?}");
    for bad in [
        "garbage".to_string(),
        "csn=garbage".to_string(),
        format!("rid=abc,{cookie2}"),
        format!("sid=zz,csn={}", csn_of_cookie(&cookie2)),
    ] {
        let (out, full) = sync_search(&server, &format!("ro/{bad}"));
        let mut got: Vec<&str> = full.entries.iter().map(|e| e.dn.as_str()).collect();
        got.sort_unstable();
        assert_eq!(got, want, "cookie {bad:?}:\n{}", out.stdout);
        assert!(full.entries.iter().all(|e| e.state == "added"), "{bad:?}");
        assert!(full.done, "{bad:?}: {}", out.stdout);
    }
    let (out, none) = sync_search(
        &server,
        &format!("ro/rid=001,csn={};garbage,junk=1", csn_of_cookie(&cookie2)),
    );
    assert!(none.entries.is_empty(), "{}", out.stdout);

    // refreshAndPersist: the refresh, the switch to persist, then the changes made while
    // the search is open (modify, add, delete), each with a cookie.
    let mut child = Command::new("timeout")
        .args(["8", "stdbuf", "-oL", "ldapsearch", "-x", "-H", &server.url])
        .args(["-D", ROOTDN, "-w", ROOTPW, "-o", "ldif-wrap=no", "-b", BASE])
        .args(["-E", "sync=rp", "entryUUID"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let (ltx, lrx) = mpsc::channel::<String>();
    let reader = BufReader::new(child.stdout.take().unwrap());
    let pump = std::thread::spawn(move || {
        for line in reader.lines().map_while(Result::ok) {
            if ltx.send(line).is_err() {
                break;
            }
        }
    });
    let mut text = String::new();
    let deadline = Instant::now() + Duration::from_secs(6);
    let wait_for = |text: &mut String, needle: &str| {
        while !text.contains(needle) {
            let left = deadline.saturating_duration_since(Instant::now());
            match lrx.recv_timeout(left) {
                Ok(l) => {
                    text.push_str(&l);
                    text.push('\n');
                }
                Err(_) => return false,
            }
        }
        true
    };
    assert!(
        wait_for(&mut text, "switching to persist stage"),
        "no refreshPresent/refreshDone from sync=rp:\n{text}"
    );
    let persisted = user("init", 4);
    let added = user("rp", 1);
    apply(
        &server,
        &format!(
            "dn: {persisted}\nchangetype: modify\nreplace: sn\nsn: Persisted\n\n{}\
             dn: {added}\nchangetype: delete\n\n",
            add_user("rp", 1, USERS)
        ),
    );
    let saw = wait_for(&mut text, "deleted");
    let _ = child.wait();
    pump.join().unwrap();
    text.extend(lrx.try_iter().map(|l| l + "\n"));
    assert!(saw, "the persist phase did not show the changes:\n{text}");
    let rp = parse_sync(&text);
    assert!(rp.switched_to_persist);
    assert_eq!(rp.entries.len(), total - 1 + 3, "{text}");
    let pushed: Vec<(&str, &str)> = rp.entries[total - 1..]
        .iter()
        .map(|e| (e.dn.as_str(), e.state.as_str()))
        .collect();
    assert_eq!(
        pushed,
        vec![
            (persisted.as_str(), "modified"),
            (added.as_str(), "added"),
            (added.as_str(), "deleted"),
        ],
        "{text}"
    );
    let mut last = String::new();
    for e in &rp.entries[total - 1..] {
        let c = e
            .cookie
            .as_deref()
            .unwrap_or_else(|| panic!("persisted change without cookie: {e:?}\n{text}"));
        let csn = csn_of_cookie(c);
        assert!(
            csn > last,
            "cookies must increase: {csn} after {last}\n{text}"
        );
        last = csn;
    }
}

/// What refresh.py reported: entries sent (DNs), UUIDs present, UUIDs deleted, the cookie.
type Refresh = (Vec<String>, Vec<String>, Vec<String>, String);

/// Runs tests/syncrepl/refresh.py (one refreshOnly with `filter`) as the rootdn; returns
/// the lines it printed, one per message, in order.
fn py_refresh_lines(server: &Server, cookie: Option<&str>, filter: &str) -> Vec<String> {
    let out = Command::new(PYTHON)
        .arg(scripts().join("refresh.py"))
        .args([
            server.url.as_str(),
            BASE,
            ROOTDN,
            ROOTPW,
            cookie.unwrap_or(""),
            filter,
        ])
        .output()
        .unwrap_or_else(|e| panic!("cannot run {PYTHON} (install python3-ldap): {e}"));
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "refresh.py failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout.lines().map(str::to_string).collect()
}

/// Runs tests/syncrepl/refresh.py (one refreshOnly of the whole suffix) as the rootdn.
fn py_refresh(server: &Server, cookie: Option<&str>) -> Refresh {
    let stdout = py_refresh_lines(server, cookie, "(objectClass=*)").join("\n");
    let (mut entries, mut present, mut deleted, mut last) =
        (Vec::new(), Vec::new(), Vec::new(), String::new());
    for line in stdout.lines() {
        let (kind, rest) = line.split_once(' ').unwrap();
        match kind {
            "entry" => entries.push(rest.to_string()),
            "present" => present.push(rest.to_string()),
            "delete" => deleted.push(rest.to_string()),
            "cookie" => last = rest.to_string(),
            _ => {}
        }
    }
    assert!(last.contains("csn="), "no cookie with csn=:\n{stdout}");
    (entries, present, deleted, last)
}

#[test]
fn cookie_survives_restart() {
    if !Path::new(PYTHON).exists() {
        println!("SKIPPED cookie_survives_restart: {PYTHON} is not installed");
        return;
    }
    let server = Server::on_disk(tempfile::tempdir().unwrap());
    initial_data(&server);
    let (entries, present, deleted, cookie) = py_refresh(&server, None);
    let (uuids, _) = uuids_and_csns(&server);
    assert_eq!(
        sorted(entries.clone()),
        uuids.keys().cloned().collect::<Vec<_>>()
    );
    assert!(present.is_empty() && deleted.is_empty());

    // One change before the stop, more after the restart.
    let before = user("init", 1);
    apply(
        &server,
        &format!("dn: {before}\nchangetype: modify\nreplace: sn\nsn: Before\n\n"),
    );
    let data = server.stop().unwrap();
    let server = Server::on_disk(data);
    let after = user("init", 2);
    let gone = user("init", 3);
    let added = user("new", 1);
    apply(
        &server,
        &format!(
            "dn: {after}\nchangetype: modify\nreplace: sn\nsn: After\n\n\
             dn: {gone}\nchangetype: delete\n\n{}",
            add_user("new", 1, USERS)
        ),
    );
    let (_, csns) = uuids_and_csns(&server);

    // The change log survived the restart: a delete phase with exactly the changes,
    // checked message by message (deletes first, then entries in CSN order, then the
    // end of the refresh with refreshDeletes TRUE and the new cookie).
    let lines = py_refresh_lines(&server, Some(&cookie), "(objectClass=*)");
    let newest = csns.values().max().unwrap();
    let cookie2 = lines
        .last()
        .unwrap()
        .strip_prefix("cookie ")
        .unwrap()
        .to_string();
    assert_eq!(
        lines,
        vec![
            format!("delete {}", uuids[&gone]),
            format!("entry {before}"),
            format!("entry {after}"),
            format!("entry {added}"),
            "done refreshDeletes=True".to_string(),
            format!("cookie {cookie2}"),
        ],
        "the incremental refresh after a restart"
    );
    assert_eq!(&csn_of_cookie(&cookie2), newest, "cookie after the restart");
    assert!(csn_of_cookie(&cookie2) > csn_of_cookie(&cookie));

    // And the new cookie is up to date: nothing at all is sent, the cookie stays.
    let lines = py_refresh_lines(&server, Some(&cookie2), "(objectClass=*)");
    assert_eq!(
        lines,
        vec![
            "done refreshDeletes=True".to_string(),
            format!("cookie {cookie2}")
        ]
    );
}

/// The delete phase message by message with python-ldap's SyncreplConsumer, on a filtered
/// search: an entry modified out of the filter and a deleted entry are reported deleted
/// (syncIdSet, refreshDeletes TRUE); an entry added and deleted since the cookie is not
/// mentioned; modified, added and renamed entries are sent in full, in CSN order.
#[test]
fn python_delete_phase_messages() {
    if !Path::new(PYTHON).exists() {
        println!("SKIPPED python_delete_phase_messages: {PYTHON} is not installed");
        return;
    }
    let server = Server::memory();
    initial_data(&server);
    let filter = "(!(description=hidden))";
    let first = py_refresh_lines(&server, None, filter);
    let cookie = first
        .last()
        .unwrap()
        .strip_prefix("cookie ")
        .unwrap()
        .to_string();
    let (uuids, _) = uuids_and_csns(&server);
    let (u1, u5, u6, u7) = (
        user("init", 1),
        user("init", 5),
        user("init", 6),
        user("init", 7),
    );
    let u7r = format!("uid=init-u07r,{USERS}");
    let (tmp, new) = (user("new", 1), user("new", 2));
    apply(
        &server,
        &format!(
            "dn: {u1}\nchangetype: modify\nreplace: sn\nsn: Changed\n\n{}\
             dn: {tmp}\nchangetype: delete\n\n{}\
             dn: {u5}\nchangetype: modify\nadd: description\ndescription: hidden\n\n\
             dn: {u6}\nchangetype: delete\n\n\
             dn: {u7}\nchangetype: modrdn\nnewrdn: uid=init-u07r\ndeleteoldrdn: 1\n\n",
            add_user("new", 1, USERS),
            add_user("new", 2, USERS),
        ),
    );
    let lines = py_refresh_lines(&server, Some(&cookie), filter);
    let cookie2 = lines
        .last()
        .unwrap()
        .strip_prefix("cookie ")
        .unwrap()
        .to_string();
    assert_eq!(
        lines,
        vec![
            format!("delete {}", uuids[&u5]),
            format!("delete {}", uuids[&u6]),
            format!("entry {u1}"),
            format!("entry {new}"),
            format!("entry {u7r}"),
            "done refreshDeletes=True".to_string(),
            format!("cookie {cookie2}"),
        ]
    );
    assert!(csn_of_cookie(&cookie2) > csn_of_cookie(&cookie));
}

/// `syncprov-nopresent` with `syncprov-reloadhint`: a cookie older than the (tiny) session
/// log gets e-syncRefreshRequired (4096) when the consumer did not set reloadHint, and a
/// full reload (every entry in full, no syncIdSet) when it did; a cookie the log covers
/// still gets the delete phase.
#[test]
fn nopresent_reloadhint() {
    if !Path::new(PYTHON).exists() {
        println!("SKIPPED nopresent_reloadhint: {PYTHON} is not installed");
        return;
    }
    let (server, _conf) = reference_server_with_syncprov(
        "syncprov-sessionlog 4\nsyncprov-nopresent\nsyncprov-reloadhint TRUE\n",
    );
    initial_data(&server);
    let (_, full) = sync_search(&server, "ro");
    let cookie = full.cookies.last().unwrap().clone();

    // One change: covered by the log, delete phase.
    let u1 = user("init", 1);
    apply(
        &server,
        &format!("dn: {u1}\nchangetype: modify\nreplace: sn\nsn: One\n\n"),
    );
    let (out, inc) = sync_search(&server, &format!("ro/{cookie}"));
    assert_eq!(inc.entries.len(), 1, "{}", out.stdout);
    assert_eq!(inc.refresh_deletes, Some(true), "{}", out.stdout);

    // 70 writes: the log (4 records, trimmed every 64 writes) no longer reaches the cookie.
    let mods: String = (0..70)
        .map(|i| {
            format!(
                "dn: {}\nchangetype: modify\nreplace: description\ndescription: w{i}\n\n",
                user("init", i % 10)
            )
        })
        .collect();
    apply(&server, &mods);
    let stale = server.sync_search("ro", Some(&cookie), &["-b", BASE, "1.1"]);
    assert!(
        stale.stdout.contains("result: 4096"),
        "expected e-syncRefreshRequired:\n{}{}",
        stale.stdout,
        stale.stderr
    );
    assert!(!stale.stdout.contains("\ndn: "), "{}", stale.stdout);

    // With reloadHint TRUE: a full reload instead.
    let script = "import sys, ldap\n\
        from ldap.syncrepl import SyncRequestControl, SyncDoneControl\n\
        url, base, dn, pw, cookie = sys.argv[1:6]\n\
        l = ldap.initialize(url)\n\
        l.simple_bind_s(dn, pw)\n\
        c = SyncRequestControl(cookie=cookie, mode='refreshOnly', reloadHint=True)\n\
        msgid = l.search_ext(base, ldap.SCOPE_SUBTREE, serverctrls=[c])\n\
        t, data, _, ctrls = l.result3(msgid)\n\
        done = [x for x in ctrls if x.controlType == SyncDoneControl.controlType]\n\
        print(len(data), done[0].refreshDeletes)\n";
    let out = Command::new(PYTHON)
        .args(["-c", script, &server.url, BASE, ROOTDN, ROOTPW, &cookie])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let (uuids, _) = uuids_and_csns(&server);
    assert_eq!(
        stdout.trim(),
        format!("{} False", uuids.len()),
        "a full reload: every entry, refreshDeletes FALSE"
    );
}
