#![allow(clippy::unwrap_used, clippy::panic)]
//! A bulk load ([`Store::bulk`], used by `oxldap import` and the embedded harness's seed
//! LDIF) collects index postings in memory and writes them once. These tests check that
//! it changes nothing observable: searches during the load see every earlier write
//! (memberOf arrivals read the `member` index mid-load), and afterwards every search and
//! `verify` agree with a store loaded one write at a time.

use oxldap_proto::{Attribute, Dn, Entry, Filter, LdifReader, LdifRecord};
use oxldap_schema::Schema;
use oxldap_store::{
    IndexConfig, IndexKind, MemberOf, Overlays, Scope, SearchControl, Store, StoreOptions,
    SubstrTunables, WriteCtx,
};
use std::collections::BTreeSet;
use std::sync::Arc;

const SUFFIX: &str = "dc=localdomain,dc=test";

fn open() -> Store {
    use IndexKind::*;
    let all = |ks: &[IndexKind]| ks.iter().copied().collect::<BTreeSet<_>>();
    let mut attrs = vec![("objectClass".to_string(), all(&[Equality, Presence]))];
    for a in ["ou", "cn", "mail", "sn", "givenName"] {
        attrs.push((a.to_string(), all(&[Equality, Presence, Substrings])));
    }
    attrs.push(("memberOf".into(), all(&[Equality])));
    Store::open_temporary(
        Arc::new(Schema::builtin()),
        StoreOptions {
            suffixes: vec![Dn::parse(SUFFIX).unwrap()],
            server_id: 0,
            durable: false,
            fixed_clock: Some(1_700_000_000_000_000),
            overlays: Overlays {
                memberof: Some(MemberOf {
                    refint: true,
                    ..MemberOf::slapd_defaults(
                        Dn::parse("cn=admin,dc=localdomain,dc=test").unwrap(),
                    )
                }),
                refint: None,
                configured: Vec::new(),
            },
            indexes: IndexConfig {
                attrs,
                substr: SubstrTunables::default(),
            },
            changelog_limit: None,
        },
    )
    .unwrap()
}

/// The 1,000-user Axigen fixture, with one group moved before the users it lists, so
/// that those users' adds find their group through the `member` index (arrivals).
fn entries() -> Vec<Entry> {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../tests/fixtures/axigen-1000.ldif"
    ))
    .unwrap();
    let mut out: Vec<Entry> = LdifReader::new(text.as_bytes())
        .map(|r| match r.unwrap() {
            LdifRecord::Content { entry, .. } => entry,
            other => panic!("unexpected record {other:?}"),
        })
        .collect();
    let first_group = out
        .iter()
        .position(|e| {
            e.get("objectClass")
                .is_some_and(|a| a.values.iter().any(|v| v == b"groupOfNames"))
        })
        .unwrap();
    let group = out.remove(first_group);
    // After the suffix, o=localdomain and the two organizational units.
    out.insert(4, group);
    out
}

fn search(store: &Store, filter: &str) -> Vec<String> {
    let mut dns = Vec::new();
    store
        .search(
            &Dn::parse(SUFFIX).unwrap(),
            Scope::Sub,
            &Filter::parse(filter).unwrap(),
            |e| {
                let mut line = e.dn.to_string();
                for v in e
                    .get("memberOf")
                    .map(|a| a.values.clone())
                    .unwrap_or_default()
                {
                    line.push_str(" memberOf=");
                    line.push_str(&String::from_utf8_lossy(&v));
                }
                dns.push(line);
                SearchControl::Continue
            },
        )
        .unwrap();
    dns.sort();
    dns
}

const FILTERS: &[&str] = &[
    "(objectClass=inetOrgPerson)",
    "(objectClass=*)",
    "(cn=*horvat*)",
    "(sn=Horvat)",
    "(mail=*@localdomain.test)",
    "(givenName=sv*)",
    "(&(objectClass=groupOfNames)(cn=*))",
    "(memberOf=*)",
];

#[test]
fn bulk_load_answers_like_one_write_at_a_time() {
    let entries = entries();
    let one_by_one = open();
    for e in &entries {
        one_by_one.add(e.clone(), &WriteCtx::default()).unwrap();
    }
    let bulk = open();
    let mut people = 0usize;
    bulk.bulk(|| {
        for (i, e) in entries.iter().enumerate() {
            bulk.add(e.clone(), &WriteCtx::default()).unwrap();
            let is_person = e
                .get("objectClass")
                .is_some_and(|a| a.values.iter().any(|v| v == b"inetOrgPerson"));
            people += usize::from(is_person);
            // Mid-load reads go through the index and must see every earlier add.
            if i % 97 == 0 {
                assert_eq!(search(&bulk, "(objectClass=inetOrgPerson)").len(), people);
            }
        }
    })
    .unwrap();
    let with_member_of = search(&bulk, "(memberOf=*)");
    assert!(
        !with_member_of.is_empty(),
        "the users listed by the early group must have memberOf"
    );
    for f in FILTERS {
        assert_eq!(search(&bulk, f), search(&one_by_one, f), "filter {f}");
    }
    assert_eq!(bulk.verify().unwrap(), Vec::<String>::new());
    assert_eq!(one_by_one.verify().unwrap(), Vec::<String>::new());
}

#[test]
fn writes_after_a_bulk_load_update_its_postings() {
    let bulk = open();
    let entries = entries();
    bulk.bulk(|| {
        for e in &entries {
            bulk.add(e.clone(), &WriteCtx::default()).unwrap();
        }
    })
    .unwrap();
    let before = search(&bulk, "(sn=Horvat)").len();
    let first = search(&bulk, "(sn=Horvat)").remove(0);
    let victim = Dn::parse(first.split(' ').next().unwrap()).unwrap();
    bulk.delete(&victim, &WriteCtx::default()).unwrap();
    let mut e =
        Entry::new(Dn::parse("uid=new,ou=Users,o=localdomain,dc=localdomain,dc=test").unwrap());
    e.attrs = vec![
        Attribute::new("objectClass", vec![b"inetOrgPerson".to_vec()]),
        Attribute::new("uid", vec![b"new".to_vec()]),
        Attribute::new("cn", vec![b"New Horvat".to_vec()]),
        Attribute::new("sn", vec![b"Horvat".to_vec()]),
    ];
    bulk.add(e, &WriteCtx::default()).unwrap();
    assert_eq!(search(&bulk, "(sn=Horvat)").len(), before);
    assert_eq!(search(&bulk, "(cn=new h*)").len(), 1);
    assert_eq!(bulk.verify().unwrap(), Vec::<String>::new());
}
