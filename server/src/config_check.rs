//! The configuration checks that need the schema, run once the schema is loaded and
//! before anything else uses the configuration (`Directory::open`), so that every error
//! names the file and line of the directive at fault, as `slaptest -f` does
//! (`FILE: line N: message` there; `FILE:LINE: "directive": message` here, the shape of
//! every other [`ConfigError`]).
//!
//! slapd checks these while it parses (the schema comes from the `include` lines read
//! before); oxldap parses the file first (`crate::config`, syntax only) and loads the
//! schema after, so the checks run here, on the parsed configuration and the
//! [`DirectiveSite`]s the parser kept. What is checked, with slapd 2.5's wording:
//! - `index`: attributes undefined (`index attribute "x" undefined`), attributes computed
//!   on read, and index kinds the attribute's matching rules cannot serve
//!   (`substr index of attribute "objectClass" disallowed`), through the store's own
//!   rules ([`IndexConfig::check`]); an `index` line with no kinds and no `index
//!   default` (`no indexes selected`).
//! - `access`: DNs that do not normalize and attribute names the schema does not know
//!   (`unknown attr "x" in to clause`), through the ACL parser's own resolution.
//! - overlay options: `memberof-group-oc` (object class), `memberof-member-ad`,
//!   `memberof-memberof-ad` and `refint_attributes` (attribute types), and the DNs of
//!   `memberof-dn`, `refint_nothing` and `refint_modifiersName`.
//! - `suffix` and `rootdn`: DNs that do not normalize against the schema.
//!
//! Each database section is checked, not only the one oxldap serves, as slaptest does.
//! This module must not change the configuration; it only refuses it.

use crate::config::{Config, ConfigError, DatabaseConfig, DirectiveSite};
use oxldap_proto::Dn;
use oxldap_schema::Schema;
use oxldap_store::{IndexConfig, IndexKind};
use std::collections::BTreeSet;

/// Checks `config` against `schema` (see the module documentation).
///
/// # Errors
///
/// [`ConfigError::Malformed`] naming the first directive at fault, in file order within
/// each kind of check.
pub fn check(config: &Config, schema: &Schema) -> Result<(), ConfigError> {
    let sections = Sections::of(&config.sites);
    check_access(schema, &config.access, &sections.global)?;
    for (db, sites) in config.databases.iter().zip(&sections.databases) {
        check_database(schema, db, sites)?;
    }
    Ok(())
}

/// The directives of the global section and of each database section, in order.
struct Sections<'c> {
    global: Vec<&'c DirectiveSite>,
    databases: Vec<Vec<&'c DirectiveSite>>,
}

impl<'c> Sections<'c> {
    fn of(sites: &'c [DirectiveSite]) -> Sections<'c> {
        let mut s = Sections {
            global: Vec::new(),
            databases: Vec::new(),
        };
        for site in sites {
            if site.name == "database" {
                s.databases.push(Vec::new());
            }
            match s.databases.last_mut() {
                Some(db) => db.push(site),
                None => s.global.push(site),
            }
        }
        s
    }
}

/// The error for `site`.
fn at(site: &DirectiveSite, reason: impl Into<String>) -> ConfigError {
    ConfigError::Malformed {
        file: site.file.clone(),
        line: site.line,
        directive: site.name.clone(),
        reason: reason.into(),
    }
}

/// The directives named `name` among `sites`, in order.
fn named<'a, 'c>(
    sites: &'a [&'c DirectiveSite],
    name: &'a str,
) -> impl Iterator<Item = &'c DirectiveSite> + 'a {
    sites.iter().copied().filter(move |s| s.name == name)
}

/// The last directive named `name` (the one whose value counts), if any.
fn last<'c>(sites: &[&'c DirectiveSite], name: &str) -> Option<&'c DirectiveSite> {
    named(sites, name).last()
}

fn check_database(
    schema: &Schema,
    db: &DatabaseConfig,
    sites: &[&DirectiveSite],
) -> Result<(), ConfigError> {
    for (directive, value) in [("suffix", Some(&db.suffix)), ("rootdn", db.rootdn.as_ref())] {
        if let (Some(value), Some(site)) = (value, last(sites, directive)) {
            check_dn(schema, site, value)?;
        }
    }
    check_indexes(schema, db, sites)?;
    check_access(schema, &db.access, sites)?;
    check_overlays(schema, db, sites)
}

/// `<directive> invalid DN "value": reason` unless `value` parses and normalizes.
fn check_dn(schema: &Schema, site: &DirectiveSite, value: &str) -> Result<(), ConfigError> {
    let invalid = |reason: String| {
        at(
            site,
            format!("<{}> invalid DN {value:?}: {reason}", site.name),
        )
    };
    let dn = Dn::parse(value).map_err(|e| invalid(e.to_string()))?;
    schema
        .normalize_dn(&dn)
        .map(|_| ())
        .map_err(|e| invalid(e.to_string()))
}

/// Each `index` line, with the kinds of `index default` for a line without kinds, as
/// the store resolves them ([`IndexConfig::check`]).
fn check_indexes(
    schema: &Schema,
    db: &DatabaseConfig,
    sites: &[&DirectiveSite],
) -> Result<(), ConfigError> {
    let defaults: Vec<(String, BTreeSet<IndexKind>)> = db
        .indexes
        .iter()
        .filter(|spec| spec.attrs.iter().any(|a| a.eq_ignore_ascii_case("default")))
        .map(|spec| ("default".to_string(), store_kinds(&spec.kinds)))
        .collect();
    for (spec, site) in db.indexes.iter().zip(named(sites, "index")) {
        if spec.attrs.iter().any(|a| a.eq_ignore_ascii_case("default")) {
            continue;
        }
        let kinds = store_kinds(&spec.kinds);
        // slapd: "no indexes selected" for a line whose kinds (its own, else the
        // defaults) index nothing. `notags` and the like alone select nothing either.
        let selected = !kinds.is_empty()
            || (spec.kinds.is_empty() && defaults.iter().any(|(_, k)| !k.is_empty()));
        if !selected {
            return Err(at(site, "no indexes selected"));
        }
        let mut attrs = defaults.clone();
        attrs.extend(spec.attrs.iter().map(|a| (a.clone(), kinds.clone())));
        IndexConfig {
            attrs,
            substr: db.substr_tunables,
        }
        .check(schema)
        .map_err(|e| at(site, e.to_string()))?;
    }
    Ok(())
}

/// The store's index kinds for the configuration's (the substring variants are one
/// kind in the store; `notags`, `nolang` and `nosubtypes` are none).
pub(crate) fn store_kinds(kinds: &BTreeSet<crate::config::IndexKind>) -> BTreeSet<IndexKind> {
    use crate::config::IndexKind as K;
    kinds
        .iter()
        .filter_map(|k| match k {
            K::Equality => Some(IndexKind::Equality),
            K::Presence => Some(IndexKind::Presence),
            K::Substring | K::SubInitial | K::SubAny | K::SubFinal => Some(IndexKind::Substrings),
            K::Approx => Some(IndexKind::Approx),
            K::NoTags | K::NoLang | K::NoSubtypes => None,
        })
        .collect()
}

/// Each `access` line's DNs and attribute names, as the ACL parser resolves them.
fn check_access(
    schema: &Schema,
    rules: &[String],
    sites: &[&DirectiveSite],
) -> Result<(), ConfigError> {
    for (text, site) in rules.iter().zip(named(sites, "access")) {
        crate::acl::AccessRule::parse(text)
            .and_then(|mut rule| rule.resolve(schema))
            .map_err(|e| at(site, e.0))?;
    }
    Ok(())
}

/// The options of the memberof and refint overlays that name schema elements or DNs.
fn check_overlays(
    schema: &Schema,
    db: &DatabaseConfig,
    sites: &[&DirectiveSite],
) -> Result<(), ConfigError> {
    let attribute = |site: &DirectiveSite, name: &str| {
        if schema.attribute_type(name).is_none() {
            return Err(at(
                site,
                format!(
                    "<{}> invalid AttributeDescription {name:?}: attribute type undefined",
                    site.name
                ),
            ));
        }
        Ok(())
    };
    if let Some(m) = db.memberof() {
        if let Some(site) = last(sites, "memberof-group-oc") {
            if schema.object_class(&m.group_oc).is_none() {
                return Err(at(
                    site,
                    format!(
                        "<memberof-group-oc> unable to find objectClass {:?}",
                        m.group_oc
                    ),
                ));
            }
        }
        if let Some(site) = last(sites, "memberof-member-ad") {
            attribute(site, &m.member_ad)?;
        }
        if let Some(site) = last(sites, "memberof-memberof-ad") {
            attribute(site, &m.memberof_ad)?;
        }
        if let (Some(dn), Some(site)) = (&m.dn, last(sites, "memberof-dn")) {
            check_dn(schema, site, dn)?;
        }
    }
    if let Some(r) = db.refint() {
        for site in named(sites, "refint_attributes") {
            for name in &site.args {
                if schema.attribute_type(name).is_none() {
                    // slapd 2.5: "refint_attributes <x>: attribute type undefined".
                    return Err(at(
                        site,
                        format!("refint_attributes <{name}>: attribute type undefined"),
                    ));
                }
            }
        }
        if let (Some(dn), Some(site)) = (&r.nothing, last(sites, "refint_nothing")) {
            check_dn(schema, site, dn)?;
        }
        if let (Some(dn), Some(site)) = (&r.modifiers_name, last(sites, "refint_modifiersname")) {
            check_dn(schema, site, dn)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    /// The configuration `text` after the Axigen default's schema and database lines,
    /// checked against the built-in schema; the error's text.
    fn err(extra: &str) -> String {
        let text = format!(
            "include /etc/ldap/schema/core.schema\ndatabase mdb\nsuffix \"dc=x\"\n{extra}\n"
        );
        let cfg = crate::config::parse_str(&text, Path::new("t.conf")).expect("parses");
        match check(&cfg, &Schema::builtin()) {
            Ok(()) => String::new(),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn each_error_names_its_line() {
        let cases = [
            ("index cn eq\nindex nosuchattr eq", "t.conf:5: \"index\": index attribute \"nosuchattr\" undefined"),
            ("index objectClass sub", "t.conf:4: \"index\": substr index of attribute \"objectClass\" disallowed"),
            ("index cn", "t.conf:4: \"index\": no indexes selected"),
            ("access to attrs=nosuch by * read", "t.conf:4: \"access\": unknown attr \"nosuch\" in to clause"),
            ("overlay memberof\nmemberof-group-oc nosuchclass", "t.conf:5: \"memberof-group-oc\": <memberof-group-oc> unable to find objectClass \"nosuchclass\""),
            ("overlay refint\nrefint_attributes member nosuch", "t.conf:5: \"refint_attributes\": refint_attributes <nosuch>: attribute type undefined"),
        ];
        for (extra, want) in cases {
            let got = err(extra);
            assert!(got.starts_with(want), "{extra:?}: {got}");
        }
        assert_eq!(err("index default eq\nindex cn\nindex mail pres"), "");
    }
}
