#![allow(clippy::unwrap_used, clippy::panic)]
//! Chunked bulk adds ([`Store::bulk_add`], issues 4 and 7) store exactly what the same
//! adds made one write at a time store: every attribute, memberOf, and with a fixed clock
//! every entryCSN and timestamp, whatever the chunk size and wherever a chunk boundary
//! falls between a group and its members. A refused entry in the middle of a chunk is
//! reported with its own tag and error; the entries before it are committed, the ones
//! after it are not.

use oxldap_proto::{Attribute, Dn, Entry, LdifReader, LdifRecord, ResultCode};
use oxldap_schema::Schema;
use oxldap_store::{Dangling, MemberOf, Overlays, Store, StoreError, StoreOptions, WriteCtx};
use std::collections::BTreeMap;
use std::sync::Arc;

const SUFFIX: &str = "dc=localdomain,dc=test";
const USERS: &str = "ou=Users,o=localdomain,dc=localdomain,dc=test";
const GROUPS: &str = "ou=Groups,o=localdomain,dc=localdomain,dc=test";

fn open(dangling: Dangling) -> Store {
    Store::open_temporary(
        Arc::new(Schema::builtin()),
        StoreOptions {
            suffixes: vec![Dn::parse(SUFFIX).unwrap()],
            server_id: 0,
            durable: false,
            fixed_clock: Some(1_700_000_000_000_000),
            overlays: Overlays {
                memberof: Some(MemberOf {
                    dangling,
                    refint: true,
                    ..MemberOf::slapd_defaults(
                        Dn::parse("cn=admin,dc=localdomain,dc=test").unwrap(),
                    )
                }),
                refint: None,
                configured: Vec::new(),
            },
            indexes: Default::default(),
            changelog_limit: None,
        },
    )
    .unwrap()
}

/// The Axigen fixture's first `users` users, its layout and its groups, with one group
/// moved before the users (so members arrive after their group, possibly in a later
/// chunk) and the others after them (members before their group).
fn entries(users: usize) -> Vec<Entry> {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../tests/fixtures/axigen-1000.ldif"
    ))
    .unwrap();
    let all: Vec<Entry> = LdifReader::new(text.as_bytes())
        .map(|r| match r.unwrap() {
            LdifRecord::Content { entry, .. } => entry,
            other => panic!("unexpected record {other:?}"),
        })
        .collect();
    let is_group = |e: &Entry| {
        e.get("objectClass")
            .is_some_and(|a| a.values.iter().any(|v| v == b"groupOfNames"))
    };
    let mut layout: Vec<Entry> = all.iter().take(4).cloned().collect();
    let people: Vec<Entry> = all
        .iter()
        .skip(4)
        .filter(|e| !is_group(e))
        .take(users)
        .cloned()
        .collect();
    let mut groups: Vec<Entry> = all.iter().filter(|e| is_group(e)).cloned().collect();
    layout.push(groups.remove(0));
    layout.extend(people);
    layout.extend(groups);
    layout
}

fn person(uid: &str) -> Entry {
    let mut e = Entry::new(Dn::parse(&format!("uid={uid},{USERS}")).unwrap());
    e.attrs = vec![
        Attribute::new(
            "objectClass",
            vec![b"inetOrgPerson".to_vec(), b"top".to_vec()],
        ),
        Attribute::new("uid", vec![uid.as_bytes().to_vec()]),
        Attribute::new("cn", vec![format!("User {uid}").into_bytes()]),
        Attribute::new("sn", vec![uid.as_bytes().to_vec()]),
    ];
    e
}

fn group(cn: &str, members: &[&str]) -> Entry {
    let mut e = Entry::new(Dn::parse(&format!("cn={cn},{GROUPS}")).unwrap());
    e.attrs = vec![
        Attribute::new("objectClass", vec![b"groupOfNames".to_vec()]),
        Attribute::new("cn", vec![cn.as_bytes().to_vec()]),
        Attribute::new(
            "member",
            members
                .iter()
                .map(|m| format!("uid={m},{USERS}").into_bytes())
                .collect(),
        ),
    ];
    e
}

/// Every stored entry, DN → its attributes as sorted `attr: value` lines; entryUUID
/// (random) only as present.
fn dump(store: &Store) -> BTreeMap<String, Vec<String>> {
    store
        .iter_entries()
        .map(|e| {
            let e = e.unwrap();
            let mut lines: Vec<String> = e
                .attrs
                .iter()
                .flat_map(|a| {
                    a.values.iter().map(move |v| {
                        if a.desc == "entryUUID" {
                            "entryUUID: <uuid>".to_string()
                        } else {
                            format!("{}: {}", a.desc, String::from_utf8_lossy(v))
                        }
                    })
                })
                .collect();
            lines.sort();
            (e.dn.to_string(), lines)
        })
        .collect()
}

fn one_by_one(entries: &[Entry]) -> Store {
    let store = open(Dangling::Ignore);
    for e in entries {
        store.add(e.clone(), &WriteCtx::default()).unwrap();
    }
    store
}

fn chunked(entries: &[Entry], chunk: usize) -> Store {
    let store = open(Dangling::Ignore);
    store
        .bulk(|| {
            let mut adder = store.bulk_add_chunked(WriteCtx::default(), chunk);
            for (i, e) in entries.iter().enumerate() {
                adder.push(i, e.clone()).unwrap();
            }
            assert_eq!(adder.finish().unwrap(), entries.len() as u64);
        })
        .unwrap();
    store
}

#[test]
fn chunked_adds_store_what_separate_adds_store() {
    let entries = entries(300);
    let expected = dump(&one_by_one(&entries));
    assert!(
        expected
            .values()
            .filter(|lines| lines.iter().any(|l| l.starts_with("memberOf:")))
            .count()
            > 10,
        "the fixture gives memberOf to many users"
    );
    // 7: boundaries fall between groups and their members, both ways; 1024: one chunk.
    for chunk in [1, 7, 64, 1024] {
        let store = chunked(&entries, chunk);
        let got = dump(&store);
        assert_eq!(got.len(), expected.len(), "chunk size {chunk}");
        for (dn, lines) in &expected {
            assert_eq!(got.get(dn), Some(lines), "chunk size {chunk}: {dn}");
        }
        assert_eq!(
            store.verify().unwrap(),
            Vec::<String>::new(),
            "chunk {chunk}"
        );
    }
}

#[test]
fn group_and_members_in_one_chunk_either_order() {
    let layout: Vec<Entry> = entries(0).into_iter().take(4).collect();
    let mut list = layout.clone();
    list.push(person("early"));
    list.push(group("mixed", &["early", "late", "nobody"]));
    list.push(person("late"));
    let expected = dump(&one_by_one(&list));
    let store = chunked(&list, 1024);
    assert_eq!(dump(&store), expected);
    let member_of = |uid: &str| {
        dump(&store)[&format!("uid={uid},{USERS}")]
            .iter()
            .filter(|l| l.starts_with("memberOf:"))
            .cloned()
            .collect::<Vec<_>>()
    };
    let want = vec![format!("memberOf: cn=mixed,{GROUPS}")];
    assert_eq!(member_of("early"), want);
    assert_eq!(member_of("late"), want);
    // Each entry keeps its own CSN: `early` was changed by the group's add, `late` by its
    // own, later add; all distinct and increasing in input order.
    let csn = |dn: &str| {
        dump(&store)[dn]
            .iter()
            .find(|l| l.starts_with("entryCSN:"))
            .cloned()
            .unwrap()
    };
    let early = csn(&format!("uid=early,{USERS}"));
    let g = csn(&format!("cn=mixed,{GROUPS}"));
    let late = csn(&format!("uid=late,{USERS}"));
    assert_eq!(early, g, "memberOf stamped early with the group's CSN");
    assert!(g < late, "{g} < {late}");
    // One change-log record per entry, keyed by CSN, numbered in key order.
    let log = store.changes_since(None).unwrap();
    assert_eq!(log.records.len(), list.len());
    let numbers: Vec<u64> = log.records.iter().map(|r| r.number).collect();
    let mut sorted = numbers.clone();
    sorted.sort_unstable();
    assert_eq!(numbers, sorted);
}

#[test]
fn a_refused_entry_mid_chunk_keeps_the_ones_before_it() {
    let layout: Vec<Entry> = entries(0).into_iter().take(4).collect();
    let mut list = layout.clone();
    list.push(person("a"));
    list.push(person("b"));
    let mut bad = person("c");
    bad.push_value("noSuchAttribute", b"x".to_vec());
    list.push(bad);
    list.push(person("d"));
    let store = open(Dangling::Ignore);
    let err = store
        .bulk(|| {
            let mut adder = store.bulk_add_chunked(WriteCtx::default(), 64);
            for (i, e) in list.iter().enumerate() {
                adder.push(i + 1, e.clone()).unwrap();
            }
            adder.finish().unwrap_err()
        })
        .unwrap();
    assert_eq!(err.tag, 7, "the third user is the seventh entry");
    assert!(
        matches!(err.error, StoreError::UndefinedAttributeType { .. }),
        "{:?}",
        err.error
    );
    let dns: Vec<String> = dump(&store).into_keys().collect();
    assert_eq!(dns.len(), 6, "{dns:?}");
    assert!(dns.contains(&format!("uid=b,{USERS}")));
    assert!(!dns.contains(&format!("uid=d,{USERS}")));
    assert_eq!(store.verify().unwrap(), Vec::<String>::new());
    // The next entry gets the next id: nothing of the refused chunk tail was allocated.
    store.add(person("d"), &WriteCtx::default()).unwrap();
    assert_eq!(store.verify().unwrap(), Vec::<String>::new());
}

#[test]
fn outcomes_follow_slapd_order_and_see_the_chunk() {
    let layout: Vec<Entry> = entries(0).into_iter().take(4).collect();
    // A duplicate inside one chunk is entryAlreadyExists, as a second add of the same DN
    // is; with an undefined attribute too, the request's own error comes first (slapd's
    // frontend: 17), and with an attribute its classes do not allow, the schema's (65).
    for (extra, code) in [
        (None, ResultCode::EntryAlreadyExists),
        (Some("noSuchAttribute"), ResultCode::UndefinedAttributeType),
        (Some("mailHost"), ResultCode::ObjectClassViolation),
    ] {
        let mut list = layout.clone();
        list.push(person("twice"));
        let mut again = person("twice");
        if let Some(attr) = extra {
            again.push_value(attr, b"x".to_vec());
        }
        list.push(again);
        let store = open(Dangling::Ignore);
        let mut adder = store.bulk_add(WriteCtx::default());
        for (i, e) in list.iter().enumerate() {
            adder.push(i, e.clone()).unwrap();
        }
        let err = adder.finish().unwrap_err();
        assert_eq!((err.tag, err.error.code()), (5, code), "{extra:?}");
    }
    // A missing parent names the deepest entry staged so far as matchedDN.
    let store = open(Dangling::Ignore);
    let mut adder = store.bulk_add(WriteCtx::default());
    for (i, e) in layout.iter().enumerate() {
        adder.push(i, e.clone()).unwrap();
    }
    let orphan = Entry {
        dn: Dn::parse(&format!("uid=x,ou=Nowhere,{USERS}")).unwrap(),
        attrs: person("x").attrs,
    };
    adder.push(9, orphan).unwrap();
    let err = adder.finish().unwrap_err();
    assert_eq!(err.tag, 9);
    match err.error {
        StoreError::NoSuchObject { matched } => {
            assert_eq!(matched.unwrap().to_string(), USERS)
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn dangling_error_is_judged_per_entry_as_separate_writes() {
    // With memberof-dangling error, a group listing a member that comes later is refused
    // at the group, as separate writes do (the loader then writes one entry at a time).
    let layout: Vec<Entry> = entries(0).into_iter().take(4).collect();
    let mut list = layout;
    list.push(person("here"));
    list.push(group("g", &["here", "later"]));
    list.push(person("later"));
    let store = open(Dangling::Error);
    let mut adder = store.bulk_add(WriteCtx::default());
    let mut refused = None;
    for (i, e) in list.iter().enumerate() {
        if let Err(e) = adder.push(i, e.clone()) {
            refused = Some(e);
            break;
        }
    }
    let err = match refused {
        Some(e) => e,
        None => adder.finish().unwrap_err(),
    };
    assert_eq!(
        (err.tag, err.error.code()),
        (5, ResultCode::ConstraintViolation)
    );
    assert_eq!(store.len(), 5);
}
