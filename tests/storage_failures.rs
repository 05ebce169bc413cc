//! Storage failures through the real binary (tester11 findings 2, 3, 7 and 13): a full
//! disk, damaged files, a data folder served under another suffix, a folder without
//! sled's `conf`. Every command and request is bounded by a timeout, so a hang fails the
//! test instead of stalling it.
#![allow(clippy::unwrap_used, clippy::panic)]

mod common;
use common::*;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// How long any one command or request may take before it counts as hung.
const BOUND: &str = "20";

/// Runs `timeout BOUND oxldap ARGS`; exit 124 means it was still running.
fn oxldap(args: &[&str]) -> Output {
    Command::new("timeout")
        .args(["-k", "5", BOUND, env!("CARGO_BIN_EXE_oxldap")])
        .args(args)
        .output()
        .unwrap()
}

/// Runs an ldap-utils tool as the rootdn under `timeout BOUND`; code 124 means no answer.
fn bounded(tool: &str, url: &str, args: &[&str], stdin: Option<&str>) -> ToolOutput {
    let mut a = vec![
        "-k", "5", BOUND, tool, "-x", "-H", url, "-D", ROOTDN, "-w", ROOTPW,
    ];
    a.extend_from_slice(args);
    let mut child = Command::new("timeout")
        .args(&a)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    {
        use std::io::Write;
        let mut input = child.stdin.take().unwrap();
        if let Some(s) = stdin {
            input.write_all(s.as_bytes()).unwrap();
        }
    }
    let out = child.wait_with_output().unwrap();
    ToolOutput {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// `bytes` pseudo-random bytes (splitmix64), so nothing compresses them.
fn noise(bytes: usize, seed: u64) -> Vec<u8> {
    let mut state = seed;
    let mut out = Vec::with_capacity(bytes + 8);
    while out.len() < bytes {
        state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        out.extend_from_slice(&(z ^ (z >> 31)).to_le_bytes());
    }
    out.truncate(bytes);
    out
}

/// An add of `uid=NAME` under ou=Users with a jpegPhoto read from `photo`.
fn big_user(name: &str, photo: &Path) -> String {
    format!(
        "dn: uid={name},{USERS}\nobjectClass: inetOrgPerson\nuid: {name}\ncn: {name}\nsn: x\n\
         jpegPhoto:< file://{}\n",
        photo.display()
    )
}

/// A tmpfs of `size` mounted on a fresh folder, unmounted when dropped (after the
/// servers using it, which are declared later and so dropped first).
struct Tmpfs {
    dir: tempfile::TempDir,
}

impl Tmpfs {
    /// None (with the reason printed) when this environment may not mount.
    fn mount(size: &str) -> Option<Tmpfs> {
        let dir = tempfile::tempdir().unwrap();
        let out = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(dir.path())
            .output();
        match out {
            Ok(o) if o.status.success() => Some(Tmpfs { dir }),
            Ok(o) => {
                eprintln!(
                    "skipped: cannot mount a tmpfs here ({})",
                    String::from_utf8_lossy(&o.stderr).trim()
                );
                None
            }
            Err(e) => {
                eprintln!("skipped: cannot run mount: {e}");
                None
            }
        }
    }

    fn resize(&self, size: &str) {
        let st = Command::new("mount")
            .args(["-o", &format!("remount,size={size}")])
            .arg(self.dir.path())
            .status()
            .unwrap();
        assert!(st.success(), "remount failed");
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(self.dir.path()).status();
    }
}

/// Finding 2: a full disk. The write that fails is answered with an error and is never
/// visible afterwards; later operations answer unavailable (52) at once (none hangs, also
/// after space is freed); the root DSE still answers; SIGTERM ends the server promptly
/// with a non-zero status; after a restart every acknowledged entry is there, the failed
/// one is not, and writes work again.
#[test]
fn a_full_disk_fails_stop_without_hanging_or_phantoms() {
    let Some(fs) = Tmpfs::mount("12m") else {
        return;
    };
    let data = fs.dir.path().join("data");
    let photo_dir = tempfile::tempdir().unwrap();
    let photo = photo_dir.path().join("photo.bin");
    std::fs::write(&photo, noise(400_000, 7)).unwrap();
    let s = Server::start(&["--data-dir", data.to_str().unwrap()], None);

    let mut acked = Vec::new();
    let mut failed = None;
    for i in 0..80 {
        let name = format!("fill{i}");
        let out = bounded("ldapadd", &s.url, &[], Some(&big_user(&name, &photo)));
        assert_ne!(out.code, 124, "add {name} hung; log:\n{}", s.log());
        if out.code == 0 {
            acked.push(name);
        } else {
            failed = Some((name, out));
            break;
        }
    }
    let (lost, out) = failed.expect("a 12 MB tmpfs never filled up");
    assert!(
        [80, 52].contains(&out.code),
        "the failing add: {}",
        out.stderr
    );
    assert!(!acked.is_empty());

    // Nothing from the database is served any more: no phantom of the failed add.
    let search = bounded(
        "ldapsearch",
        &s.url,
        &["-LLL", "-b", USERS, &format!("(uid={lost})"), "1.1"],
        None,
    );
    assert_eq!(search.code, 52, "{search:?}");
    assert!(search.stderr.contains("restart"), "{}", search.stderr);
    assert!(!search.stdout.contains(&lost), "{}", search.stdout);
    let delete = bounded(
        "ldapdelete",
        &s.url,
        &[&format!("uid={},{USERS}", acked[0])],
        None,
    );
    assert_eq!(delete.code, 52, "{delete:?}");
    // The root DSE does not need the database.
    let dse = bounded("ldapsearch", &s.url, &["-b", "", "-s", "base", "1.1"], None);
    assert_eq!(dse.code, 0, "{dse:?}");

    // Freeing space does not make anything wait forever (sled keeps its error).
    fs.resize("64m");
    let modify = bounded(
        "ldapmodify",
        &s.url,
        &[],
        Some(&format!(
            "dn: {USERS}\nchangetype: modify\nreplace: description\ndescription: x\n"
        )),
    );
    assert_eq!(modify.code, 52, "{modify:?}");
    assert!(s.log().contains("writing to the database failed"));

    let status = s.stop_status();
    assert!(!status.success(), "serve exited 0 after a storage failure");

    // After the restart: every acknowledged entry, not the failed one, writes work.
    let s = Server::start(&["--data-dir", data.to_str().unwrap()], None);
    let found = s
        .search_root(&["-b", USERS, "(uid=fill*)", "1.1"])
        .expect_code(0)
        .dns();
    let want: Vec<String> = acked.iter().map(|n| format!("uid={n},{USERS}")).collect();
    assert_eq!(sorted(found), sorted(want));
    s.modify_root("ldapdelete", "", &[&format!("uid={},{USERS}", acked[0])])
        .expect_code(0);
    drop(s);
    let v = oxldap(&["verify", "--data-dir", data.to_str().unwrap()]);
    assert!(v.status.success(), "{}", text(&v));
}

/// A data folder with one entry holding a large value (so sled writes blobs), stopped.
fn folder_with_blobs() -> tempfile::TempDir {
    let data = tempfile::tempdir().unwrap();
    let photo = data.path().join("photo.bin");
    std::fs::write(&photo, noise(300_000, 11)).unwrap();
    let s = Server::on_disk(data);
    s.modify_root("ldapadd", &big_user("big", &photo), &[])
        .expect_code(0);
    let data = s.stop().unwrap();
    std::fs::remove_file(data.path().join("photo.bin")).unwrap();
    data
}

fn copy_dir(from: &Path, to: &Path) {
    let st = Command::new("cp")
        .arg("-a")
        .arg(from)
        .arg(to)
        .status()
        .unwrap();
    assert!(st.success());
}

/// Overwrites 8 bytes at `at` (or the middle, when the file is shorter).
fn damage(file: &Path, at: u64) {
    use std::io::{Seek, SeekFrom, Write};
    let len = std::fs::metadata(file).unwrap().len();
    let mut f = std::fs::OpenOptions::new().write(true).open(file).unwrap();
    f.seek(SeekFrom::Start(if at + 8 < len { at } else { len / 2 }))
        .unwrap();
    f.write_all(b"XXXXXXXX").unwrap();
}

/// Finding 3: with any one blob damaged, verify, export and serve end (no hang, no
/// endless "failed crc check" loop), never by a panic (exit 101), and an error names the
/// damage; the damaged folder is reported as such when sled cannot open it.
#[test]
fn damaged_blobs_give_clean_errors() {
    let data = folder_with_blobs();
    let blobs: Vec<PathBuf> = std::fs::read_dir(data.path().join("blobs"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert!(!blobs.is_empty(), "no blob written");
    let work = tempfile::tempdir().unwrap();
    for blob in blobs {
        let copy = work.path().join("c");
        let _ = std::fs::remove_dir_all(&copy);
        copy_dir(data.path(), &copy);
        damage(&copy.join("blobs").join(blob.file_name().unwrap()), 5000);
        let dir = copy.to_str().unwrap();
        let out_ldif = work.path().join("out.ldif");
        for args in [
            vec!["verify", "--data-dir", dir],
            vec![
                "export",
                "--data-dir",
                dir,
                "-l",
                out_ldif.to_str().unwrap(),
            ],
        ] {
            let o = oxldap(&args);
            let code = o.status.code();
            assert_ne!(code, Some(124), "{args:?} never ended: {}", text(&o));
            assert_ne!(code, Some(101), "{args:?} panicked: {}", text(&o));
            if code != Some(0) {
                assert!(text(&o).contains("oxldap: "), "{args:?}: {}", text(&o));
            }
            if text(&o).contains("panicked") {
                assert!(text(&o).contains("is damaged"), "{}", text(&o));
            }
        }
        // serve either refuses to start (a clean error) or starts: it is then stopped.
        let o = Command::new("timeout")
            .args(["-s", "TERM", "-k", "5", "5", env!("CARGO_BIN_EXE_oxldap")])
            .args(["serve", "--data-dir", dir, "-h", "ldap://127.0.0.1:0/"])
            .output()
            .unwrap();
        assert_ne!(o.status.code(), Some(101), "serve panicked: {}", text(&o));
        if o.status.code() != Some(124) && text(&o).contains("panicked") {
            assert!(text(&o).contains("is damaged"), "{}", text(&o));
        }
    }
}

/// A configuration like the Axigen example with suffix `suffix` and data in `data`.
fn config(dir: &Path, suffix: &str, data: &Path) -> PathBuf {
    let example = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/axigen-slapd.conf"),
    )
    .unwrap();
    let conf = example.replace("dc=localdomain,dc=test", suffix).replace(
        "directory       ./oxldap-data",
        &format!("directory       {}", data.display()),
    );
    let path = dir.join(format!("{}.conf", suffix.replace(['=', ','], "_")));
    std::fs::write(&path, conf).unwrap();
    path
}

/// Finding 7: a folder written for dc=localdomain,dc=test is refused under a configuration
/// with suffix dc=example,dc=com by every command, naming both suffixes; its own
/// configuration still opens it, and a fresh folder takes the configured suffix.
#[test]
fn a_folder_is_refused_under_another_suffix() {
    let work = tempfile::tempdir().unwrap();
    let data = work.path().join("data");
    import_ok(data.to_str().unwrap(), &fixture());
    let other = config(work.path(), "dc=example,dc=com", &data);
    let own = config(work.path(), BASE, &data);
    let ldif = work.path().join("one.ldif");
    std::fs::write(
        &ldif,
        "dn: dc=example,dc=com\nobjectClass: domain\ndc: example\n\n\
         dn: ou=x,dc=example,dc=com\nobjectClass: organizationalUnit\nou: x\n",
    )
    .unwrap();
    let other_s = other.to_str().unwrap();
    for args in [
        vec!["serve", "-f", other_s, "-h", "ldap://127.0.0.1:0/"],
        vec!["verify", "-f", other_s],
        vec!["export", "-f", other_s],
        vec!["index", "-f", other_s],
        vec!["explain", "-f", other_s, "(uid=x)"],
        vec!["import", "-f", other_s, ldif.to_str().unwrap()],
    ] {
        let o = oxldap(&args);
        let t = text(&o);
        assert_eq!(o.status.code(), Some(1), "{args:?}: {t}");
        assert!(
            t.contains("dc=localdomain,dc=test") && t.contains("dc=example,dc=com"),
            "{args:?}: {t}"
        );
        assert!(t.contains(&data.display().to_string()), "{args:?}: {t}");
    }
    let o = oxldap(&["verify", "-f", own.to_str().unwrap()]);
    assert!(o.status.success(), "{}", text(&o));
    // A new folder takes the other suffix.
    let fresh = work.path().join("fresh");
    let conf = config(work.path(), "dc=example,dc=com", &fresh);
    let o = oxldap(&[
        "import",
        "-f",
        conf.to_str().unwrap(),
        ldif.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", text(&o));
    let o = oxldap(&["verify", "-f", conf.to_str().unwrap()]);
    assert!(o.status.success(), "{}", text(&o));
}

/// Finding 13: a folder holding sled's `db` but not its `conf` is refused by serve (as by
/// verify and export) instead of being served under sled's defaults.
#[test]
fn serve_refuses_a_folder_without_conf() {
    let data = tempfile::tempdir().unwrap();
    let s = Server::on_disk(data);
    let data = s.stop().unwrap();
    std::fs::remove_file(data.path().join("conf")).unwrap();
    let dir = data.path().to_str().unwrap();
    for args in [
        vec!["serve", "--data-dir", dir, "-h", "ldap://127.0.0.1:0/"],
        vec!["verify", "--data-dir", dir],
        vec!["export", "--data-dir", dir],
    ] {
        let o = oxldap(&args);
        assert_eq!(o.status.code(), Some(1), "{args:?}: {}", text(&o));
        assert!(
            text(&o).contains("no database in"),
            "{args:?}: {}",
            text(&o)
        );
    }
    assert!(!data.path().join("conf").exists());
}
