//! Built-in fallback schemas and schema definition checks, through the binary and the
//! embedded builder (tester findings 9 and 10).
//!
//! * A configuration whose standard schema files are missing gets oxldap's built-in copies,
//!   which define what Debian's files define (`schema/tests/builtin_vs_debian.rs` compares
//!   them field by field); here entries of the classes the copies used to lack are served.
//! * A missing core.schema with the real cosine.schema after it starts (cosine's `pilotDSA`
//!   is a subclass of core's `dSA`); before, startup failed blaming cosine.schema.
//! * An attribute type whose SYNTAX is not a syntax slapd knows is refused by
//!   `oxldap schema check`, `oxldap serve -f` and the embedded builder, with the file and
//!   line and slaptest's words (`Syntax not found: "1.2.3.4.5"`); slaptest is run on the
//!   same file to pin that it refuses it too.
#![allow(clippy::unwrap_used, clippy::panic)]

mod common;

use std::path::Path;
use std::process::Command;

use common::{run_combined, Server};

const SUFFIX: &str = "dc=example,dc=com";

/// A slapd.conf including `schemas` (paths as written), in memory, for `dc=example,dc=com`.
fn conf(dir: &Path, schemas: &[String]) -> std::path::PathBuf {
    let mut text = String::new();
    for s in schemas {
        text.push_str(&format!("include {s}\n"));
    }
    text.push_str(&format!(
        "database mdb\nsuffix \"{SUFFIX}\"\nrootdn \"cn=admin,{SUFFIX}\"\nrootpw secret\n\
         directory {}\n",
        dir.join("data").display()
    ));
    let path = dir.join("slapd.conf");
    std::fs::write(&path, text).unwrap();
    path
}

fn serve(conf: &Path) -> Server {
    Server::start(
        &["-f", conf.to_str().unwrap(), "--memory", "--no-layout"],
        None,
    )
}

fn add(server: &Server, ldif: &str) {
    let out = server.tool(
        "ldapadd",
        &["-D", &format!("cn=admin,{SUFFIX}"), "-w", "secret"],
        Some(ldif),
    );
    assert_eq!(
        out.code, 0,
        "ldapadd failed: {}{}\n{ldif}",
        out.stdout, out.stderr
    );
}

fn search(server: &Server, filter: &str, attrs: &[&str]) -> String {
    let mut args = vec!["-LLL", "-o", "ldif-wrap=no", "-b", SUFFIX, filter];
    args.extend_from_slice(attrs);
    let out = server.tool("ldapsearch", &args, None);
    assert_eq!(out.code, 0, "ldapsearch failed: {}", out.stderr);
    out.stdout
}

/// Entries of classes and types that the built-in copies lacked before (core: dSA, pkiCA,
/// pkiUser, labeledURIObject, dmd, pseudonym, email; cosine: pilotDSA, otherMailbox,
/// mailPreferenceOption; pseudonym and email, which no class allows, through
/// extensibleObject: an undefined type would still be refused with 17).
const NEW_CLASSES_LDIF: &str = "dn: dc=example,dc=com\nobjectClass: dcObject\nobjectClass: organization\ndc: example\no: Example\n\n\
dn: cn=ca,dc=example,dc=com\nobjectClass: device\nobjectClass: pkiCA\nobjectClass: labeledURIObject\ncn: ca\nlabeledURI: http://ca.example.com/ CA\n\n\
dn: cn=dsa1,dc=example,dc=com\nobjectClass: pilotDSA\ncn: dsa1\npresentationAddress: TELEX+00726322+RFC-1006+02+10.0.0.1\nknowledgeInformation: k\n\n\
dn: dmdName=main,dc=example,dc=com\nobjectClass: dmd\ndmdName: main\n\n\
dn: cn=p,dc=example,dc=com\nobjectClass: pilotPerson\nobjectClass: pkiUser\nobjectClass: extensibleObject\ncn: p\nsn: p\npseudonym: pp\nemail: p@example.com\notherMailbox: $ p@example.com\nmailPreferenceOption: 2\n";

fn serves_new_classes(server: &Server) {
    add(server, NEW_CLASSES_LDIF);
    let out = search(server, "(objectClass=pkiCA)", &["1.1"]);
    assert!(out.contains("dn: cn=ca,dc=example,dc=com"), "{out}");
    let out = search(server, "(objectClass=dSA)", &["1.1"]);
    assert!(out.contains("dn: cn=dsa1,dc=example,dc=com"), "{out}");
    let out = search(server, "(pseudonym=pp)", &["email", "mailPreferenceOption"]);
    assert!(out.contains("email: p@example.com"), "{out}");
    assert!(out.contains("mailPreferenceOption: 2"), "{out}");
    let out = search(server, "(objectClass=dmd)", &["1.1"]);
    assert!(out.contains("dn: dmdName=main,dc=example,dc=com"), "{out}");
}

#[test]
fn builtin_schemas_serve_what_the_debian_files_define() {
    let dir = tempfile::tempdir().unwrap();
    let missing: Vec<String> = ["core", "cosine", "inetorgperson", "misc", "nis"]
        .iter()
        .map(|n| {
            dir.path()
                .join(format!("nowhere/{n}.schema"))
                .display()
                .to_string()
        })
        .collect();
    let server = serve(&conf(dir.path(), &missing));
    assert!(
        server.log().contains("using oxldap's built-in core schema"),
        "{}",
        server.log()
    );
    serves_new_classes(&server);
}

#[test]
fn missing_core_with_the_real_cosine_starts() {
    if !Path::new("/etc/ldap/schema/cosine.schema").exists() {
        eprintln!("skipping: /etc/ldap/schema/cosine.schema missing; install slapd");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let schemas = vec![
        dir.path().join("schema/core.schema").display().to_string(),
        "/etc/ldap/schema/cosine.schema".to_string(),
        "/etc/ldap/schema/inetorgperson.schema".to_string(),
    ];
    let server = serve(&conf(dir.path(), &schemas));
    serves_new_classes(&server);
}

/// The schema file of finding 10, a configuration including it after core, and
/// (status, stdout + stderr) of `oxldap ARGS`.
fn unknown_syntax_files(dir: &Path) -> (std::path::PathBuf, std::path::PathBuf) {
    let schema = dir.join("syn.schema");
    std::fs::write(
        &schema,
        "# an attribute type with a syntax nobody defines\n\
         attributetype ( 1.3.6.1.4.1.99999.1.3 NAME 'x3'\n\
         \tSYNTAX 1.2.3.4.5 )\n",
    )
    .unwrap();
    let conf = conf(
        dir,
        &[
            "/etc/ldap/schema/core.schema".to_string(),
            schema.display().to_string(),
        ],
    );
    (schema, conf)
}

fn oxldap(args: &[&str]) -> (bool, String) {
    run_combined(Command::new(env!("CARGO_BIN_EXE_oxldap")).args(args))
}

#[test]
fn unknown_syntax_is_refused_like_slaptest() {
    let dir = tempfile::tempdir().unwrap();
    let (schema, conf) = unknown_syntax_files(dir.path());
    let want = format!(
        "{}, line 2: attributetype: Syntax not found: \"1.2.3.4.5\"",
        schema.display()
    );

    let (ok, out) = oxldap(&["schema", "check", schema.to_str().unwrap()]);
    assert!(!ok, "schema check accepted it: {out}");
    assert!(out.contains(&want), "{out}");

    let (ok, out) = oxldap(&[
        "serve",
        "-f",
        conf.to_str().unwrap(),
        "--memory",
        "-h",
        "ldap://127.0.0.1:0/",
    ]);
    assert!(!ok, "serve started: {out}");
    assert!(out.contains(&want), "{out}");

    let Err(err) = oxldap::Server::builder()
        .config_file(&conf)
        .in_memory()
        .start_blocking()
    else {
        panic!("the embedded builder accepted the schema");
    };
    assert!(err.to_string().contains(&want), "{err}");

    // slaptest refuses the same file, with the same words (line of the directive's start:
    // slapd counts the directive's last line).
    if Path::new("/usr/sbin/slaptest").exists() {
        let out = Command::new("/usr/sbin/slaptest")
            .args(["-u", "-f", conf.to_str().unwrap()])
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{text}");
        assert!(
            text.contains("attributetype: Syntax not found: \"1.2.3.4.5\""),
            "{text}"
        );
    }

    // A syntax slapd knows that oxldap does not validate (Mail Preference) loads, as in
    // slapd, and the Debian files that use the rarer syntaxes load.
    let ok_schema = dir.path().join("ok.schema");
    std::fs::write(
        &ok_schema,
        "attributetype ( 1.3.6.1.4.1.99999.1.4 NAME 'x4' SYNTAX 1.3.6.1.4.1.1466.115.121.1.32 )\n",
    )
    .unwrap();
    let (ok, out) = oxldap(&["schema", "check", ok_schema.to_str().unwrap()]);
    assert!(ok, "{out}");
}
