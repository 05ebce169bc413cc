//! Service integration and upgrade safety (issue 9): `--version`, the pidfile and
//! argsfile, SIGHUP reloading the log level and limits (and saying what it did not
//! apply), the systemd unit passing `systemd-analyze verify`, and the storage format
//! check on a fixture database written by the current format.
#![allow(clippy::unwrap_used, clippy::panic)]

mod common;
use common::*;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_oxldap"))
}

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The embedded default configuration with `directory` pointing at `data`, `head`
/// prepended (global directives) and `tail` appended (database directives).
fn config(dir: &Path, data: &Path, head: &str, tail: &str) -> PathBuf {
    let text = std::fs::read_to_string(root().join("server/src/default.conf")).unwrap();
    let text = text.replace(
        "directory       ./oxldap-data",
        &format!("directory {}", data.display()),
    );
    assert!(text.contains(&format!("directory {}", data.display())));
    let path = dir.join("slapd.conf");
    std::fs::write(&path, format!("{head}\n{text}\n{tail}\n")).unwrap();
    path
}

fn wait_for(what: &str, mut ok: impl FnMut() -> bool) {
    let start = Instant::now();
    while !ok() {
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "timed out waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn version_flag_prints_the_version() {
    let out = bin().arg("--version").output().unwrap();
    assert!(out.status.success());
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        format!("oxldap {}", env!("CARGO_PKG_VERSION"))
    );
}

#[test]
fn pidfile_and_argsfile_are_written_and_removed_at_shutdown() {
    let dir = tempfile::tempdir().unwrap();
    let data = tempfile::tempdir().unwrap();
    let pid = dir.path().join("oxldap.pid");
    let args = dir.path().join("oxldap.args");
    let cfg = config(
        dir.path(),
        data.path(),
        &format!("pidfile {}\nargsfile {}", pid.display(), args.display()),
        "",
    );
    let s = Server::start(&["-f", cfg.to_str().unwrap()], Some(data));
    let text = std::fs::read_to_string(&pid).unwrap();
    let n: u32 = text.trim().parse().unwrap();
    assert!(text.ends_with('\n'));
    let cmdline = std::fs::read(format!("/proc/{n}/cmdline")).unwrap();
    let cmdline = String::from_utf8_lossy(&cmdline).replace('\0', " ");
    assert!(cmdline.contains("oxldap serve"), "{cmdline}");
    let a = std::fs::read_to_string(&args).unwrap();
    assert!(
        a.contains(" serve ") && a.contains(cfg.to_str().unwrap()),
        "{a}"
    );
    s.stop();
    assert!(!pid.exists(), "pidfile removed at a clean shutdown");
    assert!(!args.exists(), "argsfile removed at a clean shutdown");

    // --pidfile overrides the directive.
    let other = dir.path().join("other.pid");
    let s = Server::start(&["--memory", "--pidfile", other.to_str().unwrap()], None);
    assert!(other.exists());
    s.stop();
    assert!(!other.exists());
}

#[test]
fn sighup_applies_loglevel_and_sizelimit_and_reports_the_rest() {
    let dir = tempfile::tempdir().unwrap();
    let data = tempfile::tempdir().unwrap();
    let pid = dir.path().join("oxldap.pid");
    let head = format!("pidfile {}\nloglevel stats", pid.display());
    let cfg = config(dir.path(), data.path(), &head, "sizelimit 2");
    let s = Server::start(&["-f", cfg.to_str().unwrap()], Some(data));
    // The layout has 4 entries: an anonymous search stops at the size limit.
    s.search_anon(&["-b", BASE, "1.1"]).expect_code(4);
    assert!(
        !s.log().contains("accepted"),
        "stats is info: no debug lines"
    );

    // Raise the limit, make the log verbose, and change an index (needs a restart).
    let text = std::fs::read_to_string(&cfg)
        .unwrap()
        .replace("sizelimit 2", "sizelimit 10")
        .replace("loglevel stats", "loglevel -1")
        .replace(
            "index           objectClass eq,pres",
            "index objectClass eq",
        );
    std::fs::write(&cfg, text).unwrap();
    let n = std::fs::read_to_string(&pid).unwrap();
    Command::new("kill")
        .args(["-HUP", n.trim()])
        .status()
        .unwrap();
    wait_for("the reload log line", || {
        s.log().contains("SIGHUP: configuration reloaded")
    });
    let log = s.log();
    let line = log
        .lines()
        .find(|l| l.contains("SIGHUP: configuration reloaded"))
        .unwrap();
    assert!(line.contains("sizelimit 2 -> 10"), "{line}");
    assert!(line.contains("loglevel -1"), "{line}");
    let warn = log
        .lines()
        .find(|l| l.contains("not applied; restart"))
        .unwrap_or_else(|| panic!("no warning about the index:\n{log}"));
    assert!(warn.contains("database indexes"), "{warn}");
    assert!(warn.contains("WARN"), "{warn}");

    let out = s.search_anon(&["-b", BASE, "1.1"]);
    out.expect_code(0);
    assert_eq!(out.dns().len(), 4);
    // loglevel -1 is trace: connection debug lines now appear, without ANSI colours
    // (stderr is a file).
    wait_for("a debug line", || s.log().contains("accepted"));
    assert!(
        !s.log().contains('\u{1b}'),
        "no ANSI escapes when not a terminal"
    );
}

#[test]
fn systemd_unit_passes_systemd_analyze_verify() {
    let analyze = Command::new("systemd-analyze").arg("--version").output();
    assert!(
        analyze.is_ok_and(|o| o.status.success()),
        "systemd-analyze is missing: install Debian's systemd package (scripts/test.sh does)"
    );
    let unit = std::fs::read_to_string(root().join("contrib/oxldap.service")).unwrap();
    assert!(unit.contains("DynamicUser=yes") && unit.contains("StateDirectory=oxldap"));
    assert!(unit.contains("AmbientCapabilities=CAP_NET_BIND_SERVICE"));
    // verify checks that ExecStart's binary exists: point it at the one just built.
    let dir = tempfile::tempdir().unwrap();
    let verify = |text: &str| {
        let path = dir.path().join("oxldap.service");
        std::fs::write(&path, text).unwrap();
        let out = Command::new("systemd-analyze")
            .arg("verify")
            .arg(&path)
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr).into_owned();
        // Unknown or malformed keys are only warnings: count them as failures too.
        out.status.success() && !err.contains("oxldap.service:")
    };
    let here = unit.replace("/usr/local/bin/oxldap", env!("CARGO_BIN_EXE_oxldap"));
    assert!(
        verify(&here),
        "systemd-analyze verify fails on contrib/oxldap.service"
    );
    // The check can fail: a misspelt key is caught.
    assert!(!verify(
        &here.replace("NoNewPrivileges=", "NoNewPrivilegs=")
    ));
}

/// A copy of the committed fixture database (format 1, written by `oxldap import` of
/// tests/fixtures/format1-db.ldif), since opening a sled database writes to it. It was
/// written before index postings became chunked bitmaps and change records got change
/// numbers, so opening it also proves those upgrades: the indexes are rebuilt at open and
/// the older change records still read.
fn fixture_copy() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for f in ["conf", "db"] {
        std::fs::copy(
            root().join("tests/fixtures/format1-db").join(f),
            dir.path().join(f),
        )
        .unwrap();
    }
    std::fs::create_dir_all(dir.path().join("blobs")).unwrap();
    dir
}

#[test]
fn fixture_database_of_the_current_format_opens() {
    let data = fixture_copy();
    let d = data.path().to_str().unwrap().to_string();
    let out = bin().args(["verify", "--data-dir", &d]).output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let s = Server::on_disk(data);
    let out = s.search_root(&["-b", BASE, "(uid=fixture)", "mail", "entryUUID"]);
    out.expect_code(0);
    assert_eq!(out.values("mail"), vec!["fixture@localdomain.test"]);
    assert_eq!(out.values("entryUUID").len(), 1);
}

/// Sets the `format` key of the fixture copy's `meta` tree.
fn set_format(dir: &Path, v: u8) {
    let db = sled::open(dir).unwrap();
    db.open_tree("meta")
        .unwrap()
        .insert("format", &[v])
        .unwrap();
    db.flush().unwrap();
}

#[test]
fn other_storage_formats_are_refused_with_a_clear_message() {
    for (v, says) in [
        (2u8, "written by a newer oxldap"),
        (0u8, "older than this binary"),
    ] {
        let data = fixture_copy();
        set_format(data.path(), v);
        let d = data.path().to_str().unwrap();
        let out = bin().args(["export", "--data-dir", d]).output().unwrap();
        assert!(!out.status.success());
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(&format!("storage format {v}")), "{err}");
        assert!(err.contains(says), "{err}");
        assert!(err.contains("oxldap backup"), "{err}");
    }
}

/// `loglevel stats` logs slapd's stats lines: the connection, each request with its
/// arguments, and each result with its code (and the entries a search sent); without it,
/// none (server/src/stats.rs).
#[test]
fn stats_level_logs_each_operation_and_its_result() {
    let dir = tempfile::tempdir().unwrap();
    let data = tempfile::tempdir().unwrap();
    let cfg = config(dir.path(), data.path(), "loglevel stats", "sizelimit 2");
    let s = Server::start(&["-f", cfg.to_str().unwrap()], Some(data));
    s.search_anon(&["-b", BASE, "(objectClass=*)", "cn"])
        .expect_code(4);
    s.search_root(&["-b", BASE, "-s", "base", "(objectClass=*)"])
        .expect_code(0);
    wait_for("the search's result line", || {
        s.log().matches("SEARCH RESULT").count() == 2
    });
    let log = s.log();
    for want in [
        "ACCEPT from IP=127.0.0.1:",
        "op=1 BIND dn=\"\" method=128",
        "op=1 RESULT tag=97 err=0",
        &format!("op=2 SRCH base=\"{BASE}\" scope=2 deref=0 filter=\"(objectClass=*)\""),
        "op=2 SRCH attr=cn",
        "op=2 SEARCH RESULT tag=101 err=4 nentries=2",
        "op=2 SEARCH RESULT tag=101 err=0 nentries=1",
        "BIND dn=\"cn=admin,dc=localdomain,dc=test\" method=128",
        "UNBIND",
        " closed",
    ] {
        assert!(log.contains(want), "no {want:?} in:\n{log}");
    }
    assert!(
        !log.contains("secret"),
        "passwords are never logged:\n{log}"
    );

    // The default level logs no stats lines.
    let data = tempfile::tempdir().unwrap();
    let cfg = config(dir.path(), data.path(), "", "");
    let s = Server::start(&["-f", cfg.to_str().unwrap()], Some(data));
    s.search_anon(&["-b", BASE, "1.1"]).expect_code(0);
    assert!(!s.log().contains("SRCH"), "{}", s.log());
}
