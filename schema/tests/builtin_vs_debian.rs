//! The built-in fallback sets (`core`, `cosine`, `inetorgperson`, `misc`, `nis`) against the
//! schema files Debian's slapd package installs in /etc/ldap/schema/.
//!
//! oxldap uses a built-in set when a configuration includes one of these files and the file
//! is missing (server `config.rs` `BUILTIN_SCHEMAS`), so a built-in set must define exactly
//! what the file defines, with the same key fields. For each set this loads the real files it
//! depends on, then either the real file or the built-in set, and compares what that last
//! step added: the OIDs, names, and for attribute types SUP, SYNTAX (with its length bound),
//! EQUALITY, ORDERING, SUBSTR, SINGLE-VALUE, COLLECTIVE, NO-USER-MODIFICATION and USAGE; for
//! object classes SUP, kind, MUST and MAY (as OIDs, so `userid` and `uid` compare equal).
//! DESC texts may differ (the built-ins quote the RFCs).
//!
//! Skipped (with a message) when the Debian files are not installed.
#![allow(clippy::unwrap_used, clippy::panic)]

use std::collections::{BTreeMap, BTreeSet};

use oxldap_schema::{Schema, SchemaSource};

/// Each set with the files it needs loaded before it (slapd.conf(5) include order).
const SETS: &[(&str, &[&str])] = &[
    ("core", &[]),
    ("cosine", &["core"]),
    ("inetorgperson", &["core", "cosine"]),
    ("misc", &["core", "cosine", "inetorgperson"]),
    ("nis", &["core", "cosine"]),
];

fn real(name: &str) -> Option<SchemaSource> {
    let path = format!("/etc/ldap/schema/{name}.schema");
    match std::fs::read_to_string(&path) {
        Ok(text) => Some(SchemaSource::File {
            origin: path,
            text,
            ldif: false,
        }),
        Err(e) => {
            eprintln!("skipping: {path} not readable ({e}); install slapd to run this test");
            None
        }
    }
}

/// The key fields of every attribute type and object class, by OID, one string each.
fn key_fields(s: &Schema) -> BTreeMap<String, String> {
    let oid_of_type = |n: &str| {
        s.attribute_type(n)
            .map_or(format!("?{n}"), |a| a.oid.clone())
    };
    let oid_of_class = |n: &str| s.object_class(n).map_or(format!("?{n}"), |c| c.oid.clone());
    let lower =
        |v: &[String]| -> BTreeSet<String> { v.iter().map(|n| n.to_ascii_lowercase()).collect() };
    let mut out = BTreeMap::new();
    for at in s.attribute_types() {
        let rule = |r: &Option<String>| {
            r.as_deref()
                .map(|n| oxldap_schema::matching_rule(n).map_or(n.to_string(), |r| r.oid.into()))
        };
        out.insert(
            format!("attributetype {}", at.oid),
            format!(
                "names={:?} sup={:?} syntax={:?}{{{:?}}} eq={:?} ord={:?} sub={:?} single={} collective={} nousermod={} usage={:?}",
                lower(&at.names),
                at.sup.as_deref().map(oid_of_type),
                at.syntax,
                at.syntax_len,
                rule(&at.equality),
                rule(&at.ordering),
                rule(&at.substr),
                at.single_value,
                at.collective,
                at.no_user_modification,
                at.usage,
            ),
        );
    }
    for oc in s.object_classes() {
        let oids =
            |v: &[String]| -> BTreeSet<String> { v.iter().map(|n| oid_of_type(n)).collect() };
        out.insert(
            format!("objectclass {}", oc.oid),
            format!(
                "names={:?} sup={:?} kind={:?} must={:?} may={:?}",
                lower(&oc.names),
                oc.sup
                    .iter()
                    .map(|n| oid_of_class(n))
                    .collect::<BTreeSet<_>>(),
                oc.kind,
                oids(&oc.must),
                oids(&oc.may),
            ),
        );
    }
    out
}

/// What `last` adds on top of `before`: key → fields.
fn added(before: &[SchemaSource], last: SchemaSource) -> BTreeMap<String, String> {
    let base = Schema::from_includes(before).expect("the real dependencies load");
    let mut all = before.to_vec();
    let origin = match &last {
        SchemaSource::File { origin, .. } => origin.clone(),
        SchemaSource::Builtin(n) => format!("built-in {n}"),
    };
    all.push(last);
    let full = Schema::from_includes(&all).unwrap_or_else(|e| panic!("{origin} loads: {e}"));
    let old = key_fields(&base);
    key_fields(&full)
        .into_iter()
        .filter(|(k, _)| !old.contains_key(k))
        .collect()
}

#[test]
fn builtin_sets_equal_the_debian_schema_files() {
    let mut problems = Vec::new();
    for (name, deps) in SETS {
        let Some(deps): Option<Vec<SchemaSource>> = deps.iter().map(|d| real(d)).collect() else {
            return;
        };
        let Some(file) = real(name) else { return };
        let want = added(&deps, file);
        let have = added(&deps, SchemaSource::Builtin((*name).to_string()));
        assert!(!want.is_empty(), "{name}.schema defines something");
        for (k, v) in &want {
            match have.get(k) {
                None => problems.push(format!("{name}: built-in lacks {k}: {v}")),
                Some(h) if h != v => problems.push(format!(
                    "{name}: {k} differs:\n  file:     {v}\n  built-in: {h}"
                )),
                Some(_) => {}
            }
        }
        for (k, v) in &have {
            if !want.contains_key(k) {
                problems.push(format!(
                    "{name}: built-in has {k} that the file has not: {v}"
                ));
            }
        }
    }
    assert!(
        problems.is_empty(),
        "{} differences:\n{}",
        problems.len(),
        problems.join("\n")
    );
}
