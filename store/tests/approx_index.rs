#![allow(clippy::unwrap_used, clippy::panic)]
//! Property test of the `approx` index: an approximate search (`~=`, slapd's phonetic
//! matching, `oxldap_schema::approx`) answered with the index returns exactly the DNs the
//! same search returns without it, before and after random writes.
//!
//! Each case adds the same random people to two stores, one with `approx` (plus `eq`)
//! indexes on `cn`, `sn`, `givenName`, `mail` and `description` and one without any index
//! (every search tests every entry). Values are built from words that exercise the
//! phonetic rules (initial KN/GN/PN/WR/WH/X, GH, PH, TH, SCH, CI/CE, DGE, MB, doubled
//! letters), words that code as empty (digits, punctuation first) or code alike (`smith`,
//! `smyth`), non-ASCII letters that fold away or to ASCII (`ø`, `é`, `ß`, `ﬁ`), and runs
//! of spaces. Then random approximate filters (alone and inside AND, OR and NOT) must give
//! the same DNs from both; then random modifies (values added, removed, replaced), deletes
//! and renames go to both, and the filters run again. Values sharing a phonetic code
//! within one entry (`John Smith` and `Jane Smyth`) make sure removing one value keeps
//! the other's key; a second property draws from a dozen words that often share codes, so
//! entries often hold such values. `PROPTEST_CASES=N` runs N cases of each (default 48).

use oxldap_proto::{Attribute, Ava, Dn, Entry, Filter, Rdn};
use oxldap_schema::Schema;
use oxldap_store::{
    IndexConfig, IndexKind, Mod, ModOp, Overlays, Scope, SearchControl, Store, StoreOptions,
    SubstrTunables, WriteCtx,
};
use proptest::collection::vec;
use proptest::prelude::*;
use proptest::sample::select;
use std::collections::BTreeSet;
use std::sync::{Arc, OnceLock};

const SUFFIX: &str = "dc=localdomain,dc=test";
/// The attributes with an approx index in the indexed store (all have caseIgnoreMatch or
/// caseIgnoreIA5Match, so slapd's approximate rule).
const INDEXED: &[&str] = &["cn", "sn", "givenName", "mail", "description"];

fn schema() -> Arc<Schema> {
    static SCHEMA: OnceLock<Arc<Schema>> = OnceLock::new();
    SCHEMA.get_or_init(|| Arc::new(Schema::builtin())).clone()
}

fn suffix() -> Dn {
    Dn::parse(SUFFIX).unwrap()
}

fn open(indexes: IndexConfig) -> Store {
    Store::open_temporary(
        schema(),
        StoreOptions {
            suffixes: vec![suffix()],
            server_id: 0,
            durable: false,
            fixed_clock: Some(1_700_000_000_000_000),
            overlays: Overlays::default(),
            indexes,
            changelog_limit: None,
        },
    )
    .unwrap()
}

fn approx_indexes() -> IndexConfig {
    let kinds: BTreeSet<IndexKind> = [IndexKind::Approx, IndexKind::Equality].into();
    IndexConfig {
        attrs: INDEXED
            .iter()
            .map(|a| (a.to_string(), kinds.clone()))
            .collect(),
        substr: SubstrTunables::default(),
    }
}

/// Words chosen for the phonetic rules and their corners.
const WORDS: &[&str] = &[
    "smith", "smyth", "Smithe", "john", "jon", "jane", "knight", "night", "gnome", "nome", "pneu",
    "wright", "rite", "whale", "wale", "xavier", "savier", "axe", "phil", "fil", "thomas", "tomas",
    "schmidt", "science", "siense", "cia", "dodge", "edge", "lamb", "bob", "robert", "rort",
    "hugh", "laugh", "ghost", "judge", "gadget", "ochre", "chris", "ache", "aeon", "eon", "kneel",
    "neel", "quincy", "kwinsy", "zoe", "so", "müller", "muller", "mueller", "ørsted", "rsted",
    "straße", "strase", "ﬁnance", "finance", "café", "kafe", "3com", "9", "o'brien", "brien",
    "j.r.r.", "r2-d2", "x", "zzz", "a", "b", "e", "mb", "ahh", "yellow", "why", "tch", "ssh", "王",
];

/// Few words, several sharing a code (`smith`, `Smyth`, `smithe`; `robert`, `rort`;
/// `x`, `zzz`; `9`, `ø` and `3com` code as nothing): entries often hold two values with
/// a shared code, so removing one must keep the other's key.
const FEW_WORDS: &[&str] = &[
    "smith", "Smyth", "smithe", "john", "jon", "jane", "robert", "rort", "x", "zzz", "9", "ø",
    "3com",
];

/// A value of one to four words of `pool`, joined by one or more spaces.
fn value_from(pool: &'static [&'static str]) -> BoxedStrategy<String> {
    (
        vec(select(pool), 1..=4),
        vec(select(vec![" ", " ", " ", "  ", "   "]), 4),
        any::<bool>(),
    )
        .prop_map(|(words, seps, pad)| {
            let mut s = String::new();
            if pad {
                s.push(' ');
            }
            for (i, w) in words.iter().enumerate() {
                if i > 0 {
                    s.push_str(seps[i % seps.len()]);
                }
                s.push_str(w);
            }
            s
        })
        .boxed()
}

/// An IA5 mail value: ASCII words joined by dots, an @ and a domain.
fn mail() -> BoxedStrategy<String> {
    let ascii: Vec<&str> = WORDS.iter().copied().filter(|w| w.is_ascii()).collect();
    (
        vec(select(ascii), 1..=2),
        select(vec!["x.test", "smith.test"]),
    )
        .prop_map(|(w, d)| format!("{}@{d}", w.join(".")))
        .boxed()
}

/// A person: `(attribute, values)` for each indexed attribute it has.
#[derive(Debug, Clone)]
struct Person {
    attrs: Vec<(&'static str, Vec<String>)>,
}

fn person(pool: &'static [&'static str]) -> BoxedStrategy<Person> {
    (
        vec(value_from(pool), 1..=3),
        value_from(pool),
        proptest::option::of(value_from(pool)),
        proptest::option::of(mail()),
        vec(value_from(pool), 0..=2),
    )
        .prop_map(|(cn, sn, given, mail, description)| {
            let mut attrs = vec![("cn", dedup(cn)), ("sn", vec![sn])];
            if let Some(g) = given {
                attrs.push(("givenName", vec![g]));
            }
            if let Some(m) = mail {
                attrs.push(("mail", vec![m]));
            }
            let d = dedup(description);
            if !d.is_empty() {
                attrs.push(("description", d));
            }
            Person { attrs }
        })
        .boxed()
}

/// Values without duplicates under caseIgnoreMatch (an add with two equal values fails).
fn dedup(values: Vec<String>) -> Vec<String> {
    let mut seen = BTreeSet::new();
    values
        .into_iter()
        .filter(|v| seen.insert(oxldap_schema::matching::case_ignore_prep(v)))
        .collect()
}

/// An assertion: a value or one word of `pool`, or an edge case.
fn assertion(pool: &'static [&'static str]) -> BoxedStrategy<String> {
    prop_oneof![
        3 => value_from(pool),
        2 => select(pool).prop_map(str::to_string),
        1 => select(vec!["", " ", "ø", "  smith  ", "smith smith", "9 x"]).prop_map(str::to_string),
    ]
    .boxed()
}

fn approx_filter(pool: &'static [&'static str]) -> BoxedStrategy<Filter> {
    let attr = select(vec!["cn", "sn", "givenName", "mail", "description", "name"]);
    let leaf = (attr, assertion(pool))
        .prop_map(|(a, v)| Filter::Approx(a.to_string(), v.into_bytes()))
        .boxed();
    leaf.prop_recursive(2, 6, 3, |inner| {
        prop_oneof![
            vec(inner.clone(), 1..=3).prop_map(Filter::And),
            vec(inner.clone(), 1..=3).prop_map(Filter::Or),
            inner.prop_map(|f| Filter::Not(Box::new(f))),
        ]
    })
    .boxed()
}

/// A write applied to both stores.
#[derive(Debug, Clone)]
enum Op {
    /// A modify of the `target`-th person: add, delete or replace values of `attr`.
    Modify {
        target: usize,
        op: u8,
        attr: &'static str,
        values: Vec<String>,
        /// Delete one of the current values instead of `values` (op 1).
        existing: usize,
    },
    Delete(usize),
    Rename(usize, String),
}

fn op(pool: &'static [&'static str]) -> BoxedStrategy<Op> {
    prop_oneof![
        6 => (any::<usize>(), 0u8..3, select(INDEXED.to_vec()), vec(value_from(pool), 1..=2), any::<usize>())
            .prop_map(|(target, op, attr, values, existing)| Op::Modify {
                target,
                op,
                attr,
                values: if attr == "mail" {
                    values.iter().enumerate().map(|(i, v)| {
                        let w: String = v.chars().filter(char::is_ascii_alphabetic).collect();
                        format!("{w}{i}@x.test")
                    }).collect()
                } else {
                    dedup(values)
                },
                existing,
            }),
        1 => any::<usize>().prop_map(Op::Delete),
        1 => (any::<usize>(), value_from(pool)).prop_map(|(t, v)| Op::Rename(t, v)),
    ]
    .boxed()
}

/// The sorted DNs `filter` finds below the suffix.
fn search(store: &Store, filter: &Filter) -> Vec<String> {
    let mut out = Vec::new();
    store
        .search(&suffix(), Scope::Sub, filter, |e| {
            out.push(e.dn.to_string());
            SearchControl::Continue
        })
        .unwrap();
    out.sort();
    out
}

fn person_dn(i: usize) -> Dn {
    Dn::parse(&format!("uid=u{i},{SUFFIX}")).unwrap()
}

fn same_answers(
    plain: &Store,
    indexed: &Store,
    filters: &[Filter],
    when: &str,
) -> Result<(), TestCaseError> {
    for f in filters {
        let a = search(plain, f);
        let b = search(indexed, f);
        let plan = indexed.plan(f).map(|(_, p)| p.to_string());
        prop_assert_eq!(
            &a,
            &b,
            "{} {} (plan {:?}): without the index, then with it",
            when,
            f,
            plan
        );
    }
    Ok(())
}

fn current_values(store: &Store, dn: &Dn, attr: &str) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    store
        .search(
            dn,
            Scope::Base,
            &Filter::Present("objectClass".into()),
            |e| {
                for a in &e.attrs {
                    if a.desc.eq_ignore_ascii_case(attr) {
                        out.extend(a.values.iter().cloned());
                    }
                }
                SearchControl::Continue
            },
        )
        .ok();
    out
}

/// Loads `people` into both stores, compares `filters`, applies `ops` to both, compares
/// again and verifies the indexed store; returns `(plain, indexed)`.
fn run(people: &[Person], filters: &[Filter], ops: &[Op]) -> Result<(Store, Store), TestCaseError> {
    let plain = open(IndexConfig::default());
    let indexed = open(approx_indexes());
    let mut top = Entry::new(suffix());
    top.attrs = vec![
        Attribute::new(
            "objectClass",
            vec![b"organization".to_vec(), b"dcObject".to_vec()],
        ),
        Attribute::new("o", vec![b"localdomain.test".to_vec()]),
        Attribute::new("dc", vec![b"localdomain".to_vec()]),
    ];
    for s in [&plain, &indexed] {
        s.add(top.clone(), &WriteCtx::default()).unwrap();
    }
    for (i, p) in people.iter().enumerate() {
        let mut e = Entry::new(person_dn(i));
        e.attrs.push(Attribute::new(
            "objectClass",
            vec![b"inetOrgPerson".to_vec()],
        ));
        for (a, vs) in &p.attrs {
            e.attrs.push(Attribute::new(
                *a,
                vs.iter().map(|v| v.as_bytes().to_vec()).collect(),
            ));
        }
        let ra = plain
            .add(e.clone(), &WriteCtx::default())
            .map_err(|e| format!("{e:?}"));
        let rb = indexed
            .add(e, &WriteCtx::default())
            .map_err(|e| format!("{e:?}"));
        prop_assert_eq!(ra, rb, "adding person {}", i);
    }
    same_answers(&plain, &indexed, filters, "after the adds:")?;

    for op in ops {
        let n = people.len().max(1);
        let outcome = |s: &Store| -> String {
            let r = match op {
                Op::Modify {
                    target,
                    op,
                    attr,
                    values,
                    existing,
                } => {
                    let dn = person_dn(target % n);
                    let (mop, vals) = match op {
                        0 => (
                            ModOp::Add,
                            values.iter().map(|v| v.as_bytes().to_vec()).collect(),
                        ),
                        1 => {
                            let cur = current_values(s, &dn, attr);
                            let pick: Vec<Vec<u8>> = if cur.is_empty() {
                                Vec::new()
                            } else {
                                vec![cur[existing % cur.len()].clone()]
                            };
                            (ModOp::Delete, pick)
                        }
                        _ => (
                            ModOp::Replace,
                            values.iter().map(|v| v.as_bytes().to_vec()).collect(),
                        ),
                    };
                    s.modify(
                        &dn,
                        vec![Mod {
                            op: mop,
                            attr: Attribute::new(*attr, vals),
                        }],
                        &WriteCtx::default(),
                    )
                }
                Op::Delete(t) => s.delete(&person_dn(t % n), &WriteCtx::default()),
                Op::Rename(t, v) => {
                    let rdn = Rdn {
                        avas: vec![Ava {
                            attr: "cn".into(),
                            value: v.trim().as_bytes().to_vec(),
                        }],
                    };
                    s.modify_dn(&person_dn(t % n), &rdn, false, None, &WriteCtx::default())
                }
            };
            match r {
                Ok(()) => "ok".to_string(),
                Err(e) => format!("{e:?}"),
            }
        };
        let (a, b) = (outcome(&plain), outcome(&indexed));
        prop_assert_eq!(&a, &b, "{:?} has different outcomes", op);
    }
    same_answers(&plain, &indexed, filters, "after the writes:")?;
    let problems = indexed.verify().unwrap();
    prop_assert!(problems.is_empty(), "verify: {:?}", problems);
    Ok((plain, indexed))
}

fn config() -> ProptestConfig {
    ProptestConfig {
        cases: std::env::var("PROPTEST_CASES")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(48),
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn approx_index_never_changes_an_answer(
        people in vec(person(WORDS), 1..=24),
        filters in vec(approx_filter(WORDS), 1..=24),
        ops in vec(op(WORDS), 0..=12),
    ) {
        run(&people, &filters, &ops)?;
    }

    #[test]
    fn approx_index_with_shared_codes_never_changes_an_answer(
        people in vec(person(FEW_WORDS), 1..=8),
        filters in vec(approx_filter(FEW_WORDS), 1..=12),
        ops in vec(op(FEW_WORDS), 0..=16),
    ) {
        run(&people, &filters, &ops)?;
    }
}

/// Two values of one entry share a code (`Smith`, `Smyth`: SM0): deleting one keeps the
/// entry under the shared key. (An index maintained value by value, as the equality index
/// is, would drop the key with the first value.)
#[test]
fn removing_one_of_two_values_with_the_same_code_keeps_the_key() {
    let people = vec![Person {
        attrs: vec![
            ("cn", vec!["John Smith".into(), "Jane Smyth".into()]),
            ("sn", vec!["Smith".into()]),
        ],
    }];
    let filters = vec![
        Filter::Approx("cn".into(), b"smith".to_vec()),
        Filter::Approx("cn".into(), b"jane smith".to_vec()),
        Filter::Approx("cn".into(), b"john smith".to_vec()),
    ];
    let ops = vec![Op::Modify {
        target: 0,
        op: 1,
        attr: "cn",
        values: vec![],
        existing: 0,
    }];
    let (_, indexed) = run(&people, &filters, &ops).unwrap();
    assert_eq!(
        search(&indexed, &filters[0]),
        [format!("uid=u0,{SUFFIX}")],
        "Jane Smyth is still found"
    );
}

/// An assertion made only of words with the empty code (`9`, `3com`) matches values with
/// such a word; the index cannot narrow it and must not answer "nothing" as slapd's does.
#[test]
fn words_with_the_empty_code_are_not_looked_up() {
    let people = vec![
        Person {
            attrs: vec![
                ("cn", vec!["3Com Systems".into()]),
                ("sn", vec!["x".into()]),
            ],
        },
        Person {
            attrs: vec![("cn", vec!["a ø b".into()]), ("sn", vec!["y".into()])],
        },
        Person {
            attrs: vec![("cn", vec!["Smith".into()]), ("sn", vec!["z".into()])],
        },
    ];
    let filters = vec![
        Filter::Approx("cn".into(), b"9".to_vec()),
        Filter::Approx("cn".into(), b"9 systems".to_vec()),
        Filter::Approx("cn".into(), "ø".as_bytes().to_vec()),
    ];
    let (_, indexed) = run(&people, &filters, &[]).unwrap();
    assert_eq!(
        search(&indexed, &filters[0]),
        [format!("uid=u0,{SUFFIX}"), format!("uid=u1,{SUFFIX}")]
    );
    assert_eq!(search(&indexed, &filters[1]), [format!("uid=u0,{SUFFIX}")]);
    assert!(search(&indexed, &filters[2]).is_empty());
}
