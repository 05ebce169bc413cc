//! Password storage through the real binary and ldap-utils: cleartext userPassword values
//! written by clients (add, modify, Password Modify) are stored hashed with the
//! `password-hash` scheme; binds verify every scheme, including values made by slapd's
//! own `slappasswd`; failed binds are logged without the password.
#![allow(clippy::unwrap_used, clippy::panic)]

mod secure;
use secure::*;

const ROOTDN: &str = "cn=admin,dc=localdomain,dc=test";
const USERS: &str = "ou=Users,o=localdomain,dc=localdomain,dc=test";

fn server(global: &str, extra: &[&str]) -> (tempfile::TempDir, Server) {
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path(), global);
    let s = Server::start(&cfg, "ldap://127.0.0.1:0/", extra);
    (dir, s)
}

fn add_user(s: &Server, uid: &str, password: &str) {
    let ldif = format!(
        "dn: uid={uid},{USERS}\nobjectClass: inetOrgPerson\nuid: {uid}\ncn: {uid}\nsn: {uid}\nuserPassword: {password}\n"
    );
    tool(
        "ldapadd",
        s.url(),
        None,
        &["-D", ROOTDN, "-w", "secret"],
        Some(&ldif),
    )
    .expect_code(0);
}

/// The stored userPassword values of `uid`, read as the rootdn.
fn stored(s: &Server, uid: &str) -> Vec<String> {
    let out = tool(
        "ldapsearch",
        s.url(),
        None,
        &[
            "-LLL",
            "-o",
            "ldif-wrap=no",
            "-D",
            ROOTDN,
            "-w",
            "secret",
            "-b",
            &format!("uid={uid},{USERS}"),
            "-s",
            "base",
            "userPassword",
        ],
        None,
    );
    out.expect_code(0);
    // userPassword is an octet string: ldapsearch prints it base64 (`::`).
    out.stdout
        .lines()
        .filter_map(|l| {
            l.strip_prefix("userPassword:: ")
                .map(|v| {
                    use base64::Engine;
                    let raw = base64::engine::general_purpose::STANDARD.decode(v).unwrap();
                    String::from_utf8(raw).unwrap()
                })
                .or_else(|| l.strip_prefix("userPassword: ").map(str::to_string))
        })
        .collect()
}

fn whoami(s: &Server, uid: &str, password: &str) -> Tool {
    tool(
        "ldapwhoami",
        s.url(),
        None,
        &["-D", &format!("uid={uid},{USERS}"), "-w", password],
        None,
    )
}

/// Each `password-hash` scheme: add with a cleartext password, check the stored value
/// is a hash of that scheme, bind with it (and fail with 49 on a wrong one), then change
/// it by modify (as the user itself, deleting the old cleartext value) and by Password
/// Modify (ldappasswd), both hashed with the same scheme.
#[test]
fn cleartext_is_hashed_with_the_configured_scheme() {
    for (directive, prefix) in [
        ("", "{SSHA}"),
        ("password-hash {SSHA256}", "{SSHA256}"),
        ("password-hash {SSHA512}", "{SSHA512}"),
        ("password-hash {PBKDF2-SHA512}", "{PBKDF2-SHA512}10000$"),
        (
            "password-hash {ARGON2}",
            "{ARGON2}$argon2id$v=19$m=4096,t=3,p=1$",
        ),
    ] {
        let (_dir, s) = server(directive, &[]);
        add_user(&s, "ana", "first-Pass1");
        let values = stored(&s, "ana");
        assert_eq!(values.len(), 1, "{directive}: {values:?}");
        assert!(values[0].starts_with(prefix), "{directive}: {values:?}");
        assert!(!values[0].contains("first-Pass1"));
        let ok = whoami(&s, "ana", "first-Pass1");
        ok.expect_code(0);
        // Who am I? answers the stored entry's DN, as slapd (RFC 4532).
        assert_eq!(ok.stdout.trim(), format!("dn:uid=ana,{USERS}"));
        whoami(&s, "ana", "first-pass1").expect_code(49);

        // The user replaces its own password the classic way: delete the old cleartext
        // value (matched against the stored hash), add the new one.
        let change = format!(
            "dn: uid=ana,{USERS}\nchangetype: modify\ndelete: userPassword\nuserPassword: first-Pass1\n-\nadd: userPassword\nuserPassword: second-Pass2\n"
        );
        tool(
            "ldapmodify",
            s.url(),
            None,
            &["-D", &format!("uid=ana,{USERS}"), "-w", "first-Pass1"],
            Some(&change),
        )
        .expect_code(0);
        let values = stored(&s, "ana");
        assert_eq!(values.len(), 1, "{directive}: {values:?}");
        assert!(values[0].starts_with(prefix), "{directive}: {values:?}");
        whoami(&s, "ana", "second-Pass2").expect_code(0);
        whoami(&s, "ana", "first-Pass1").expect_code(49);

        // Password Modify (RFC 3062) as the rootdn. With the new password given, the
        // response has no value (ldappasswd complained "ber_scanf" about an empty one).
        let passwd = tool(
            "ldappasswd",
            s.url(),
            None,
            &[
                "-D",
                ROOTDN,
                "-w",
                "secret",
                "-s",
                "third-Pass3",
                &format!("uid=ana,{USERS}"),
            ],
            None,
        );
        passwd.expect_code(0);
        assert!(
            !format!("{}{}", passwd.stdout, passwd.stderr).contains("ber_scanf"),
            "{passwd:?}"
        );
        let values = stored(&s, "ana");
        assert!(values[0].starts_with(prefix), "{directive}: {values:?}");
        whoami(&s, "ana", "third-Pass3").expect_code(0);
    }
}

/// `password-hash {CLEARTEXT}` is how a configuration asks for cleartext storage; a
/// value that already names a scheme is stored as written whatever the configuration.
#[test]
fn cleartext_only_when_asked_and_hashes_kept() {
    let (_dir, s) = server("password-hash {CLEARTEXT}", &[]);
    add_user(&s, "bob", "plain-Pass");
    assert_eq!(stored(&s, "bob"), ["plain-Pass"]);
    whoami(&s, "bob", "plain-Pass").expect_code(0);

    let (_dir, s) = server("password-hash {SSHA512}", &[]);
    // A value naming {CLEARTEXT} is stored as written and binds with what follows the
    // scheme, as in slapd (ppolicy hashes only values without a known scheme).
    add_user(&s, "dora", "{CLEARTEXT}dora-Pass");
    assert_eq!(stored(&s, "dora"), ["{CLEARTEXT}dora-Pass"]);
    whoami(&s, "dora", "dora-Pass").expect_code(0);
    // A pre-hashed {SSHA} value (RFC 2307 §5.3 vector computed with Python's hashlib).
    let pre = "{SSHA}1G904nLkTkGWjKNnQuB/hpWXC/hzYWx0c2FsdA==";
    add_user(&s, "carla", pre);
    assert_eq!(stored(&s, "carla"), [pre]);
    whoami(&s, "carla", "secret").expect_code(0);
}

/// Values produced by slapd's `slappasswd` (Debian's slapd package) are stored as given
/// and verify in oxldap: {SSHA} built in, {CRYPT} (libxcrypt's "bigcrypt" for this
/// 10-character password), {SSHA512} from the pw-sha2 module and {ARGON2} (argon2i) from
/// the argon2 module, when the modules are installed.
#[test]
fn slappasswd_hashes_verify() {
    let slappasswd = "/usr/sbin/slappasswd";
    assert!(
        std::path::Path::new(slappasswd).exists(),
        "slappasswd not found (install the slapd package)"
    );
    let mut schemes = vec![(vec![], "{SSHA}"), (vec![], "{CRYPT}")];
    if std::path::Path::new("/usr/lib/ldap/pw-sha2.so").exists() {
        schemes.push((vec!["-o", "module-load=pw-sha2"], "{SSHA512}"));
    }
    if std::path::Path::new("/usr/lib/ldap/argon2.so").exists() {
        schemes.push((vec!["-o", "module-load=argon2"], "{ARGON2}"));
    }
    let (_dir, s) = server("", &[]);
    for (i, (opts, scheme)) in schemes.iter().enumerate() {
        let out = std::process::Command::new(slappasswd)
            .args(opts)
            .args(["-h", scheme, "-s", "from-Slapd"])
            .output()
            .unwrap();
        assert!(out.status.success(), "{out:?}");
        let hash = String::from_utf8(out.stdout).unwrap().trim().to_string();
        assert!(hash.starts_with(scheme), "{hash}");
        let uid = format!("slapd{i}");
        add_user(&s, &uid, &hash);
        assert_eq!(stored(&s, &uid), vec![hash.clone()]);
        whoami(&s, &uid, "from-Slapd").expect_code(0);
        whoami(&s, &uid, "from-slapd").expect_code(49);
    }
}

/// Failed and successful binds, adds and password changes never put a password in the
/// log, even at the most verbose level.
#[test]
fn passwords_never_reach_the_log() {
    let (_dir, s) = server("", &["-d", "trace"]);
    add_user(&s, "dana", "Log-Canary-Add-7731");
    whoami(&s, "dana", "Log-Canary-Wrong-4417").expect_code(49);
    whoami(&s, "dana", "Log-Canary-Add-7731").expect_code(0);
    tool(
        "ldapwhoami",
        s.url(),
        None,
        &["-D", ROOTDN, "-w", "Log-Canary-Root-9902"],
        None,
    )
    .expect_code(49);
    tool(
        "ldappasswd",
        s.url(),
        None,
        &[
            "-D",
            &format!("uid=dana,{USERS}"),
            "-w",
            "Log-Canary-Add-7731",
            "-s",
            "Log-Canary-New-5150",
        ],
        None,
    )
    .expect_code(0);
    let log = s.log();
    assert!(log.contains("bind failed"), "the failure is logged:\n{log}");
    assert!(
        !log.contains("Log-Canary"),
        "a password reached the log:\n{log}"
    );
}

/// The other direction: Debian's slapd with its argon2 module (slapd-pw-argon2(5)) accepts
/// a bind against an `{ARGON2}` value that oxldap wrote. Skipped (with a message) when
/// slapd or the module is not installed.
#[test]
fn slapd_verifies_oxldap_argon2() {
    let (slapd, module) = ("/usr/sbin/slapd", "/usr/lib/ldap/argon2.so");
    if !std::path::Path::new(slapd).exists() || !std::path::Path::new(module).exists() {
        println!("SKIPPED: {slapd} or {module} is not installed");
        return;
    }
    let (_dir, s) = server("password-hash {ARGON2}", &[]);
    add_user(&s, "eve", "cross-Check1");
    let hash = stored(&s, "eve").remove(0);
    assert!(hash.starts_with("{ARGON2}$argon2id$"), "{hash}");

    let t = tempfile::tempdir().unwrap();
    std::fs::create_dir(t.path().join("db")).unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let conf = t.path().join("slapd.conf");
    std::fs::write(
        &conf,
        format!(
            "include /etc/ldap/schema/core.schema\npidfile {dir}/slapd.pid\nmodulepath /usr/lib/ldap\n\
             moduleload back_mdb\nmoduleload argon2\ndatabase mdb\nmaxsize 67108864\n\
             suffix \"dc=example,dc=com\"\nrootdn \"cn=admin,dc=example,dc=com\"\nrootpw secret\n\
             directory {dir}/db\n",
            dir = t.path().display()
        ),
    )
    .unwrap();
    let url = format!("ldap://127.0.0.1:{port}/");
    let status = std::process::Command::new(slapd)
        .arg("-f")
        .arg(&conf)
        .args(["-h", &url])
        .status()
        .unwrap();
    assert!(status.success(), "slapd did not start");
    let pidfile = t.path().join("slapd.pid");
    // slapd daemonizes; stop it whatever happens below.
    struct Kill(std::path::PathBuf);
    impl Drop for Kill {
        fn drop(&mut self) {
            if let Ok(pid) = std::fs::read_to_string(&self.0) {
                let _ = std::process::Command::new("kill").arg(pid.trim()).status();
            }
        }
    }
    for _ in 0..100 {
        if pidfile.exists() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let _kill = Kill(pidfile);
    let root = ["-D", "cn=admin,dc=example,dc=com", "-w", "secret"];
    let ldif = format!(
        "dn: dc=example,dc=com\nobjectClass: dcObject\nobjectClass: organization\no: x\ndc: example\n\n\
         dn: cn=eve,dc=example,dc=com\nobjectClass: person\ncn: eve\nsn: eve\nuserPassword: {hash}\n"
    );
    let mut added = tool("ldapadd", &url, None, &root, Some(&ldif));
    for _ in 0..50 {
        if added.code != 255 {
            break;
        }
        // Not listening yet.
        std::thread::sleep(std::time::Duration::from_millis(100));
        added = tool("ldapadd", &url, None, &root, Some(&ldif));
    }
    added.expect_code(0);
    let dn = "cn=eve,dc=example,dc=com";
    tool(
        "ldapwhoami",
        &url,
        None,
        &["-D", dn, "-w", "cross-Check1"],
        None,
    )
    .expect_code(0);
    tool(
        "ldapwhoami",
        &url,
        None,
        &["-D", dn, "-w", "cross-check1"],
        None,
    )
    .expect_code(49);
}
