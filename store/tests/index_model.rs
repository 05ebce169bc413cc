#![allow(clippy::unwrap_used, clippy::panic)]
//! Model test of the attribute indexes and the search planner: an index may only make a
//! search faster, never change its answer.
//!
//! Every case builds the same random directory (organizational units, inetOrgPerson users
//! and groupOfNames groups in a small tree under `dc=localdomain,dc=test`, with values from
//! small alphabets: case variants, repeated and edge spaces, non-ASCII such as `Ångström`,
//! NFKC-equivalent forms, 1–3 character values) in two stores opened with the same
//! options but for the indexes: one without any index (every search walks its scope) and
//! one with indexes. Random filters of every kind (and/or/not, equality, substrings,
//! ordering, presence, approx, extensible with `:dn:` and rules) in every scope and from
//! random bases must return the same DNs, or the same error, from both. Then the same
//! random modify / delete / modify DN / add sequences go to both stores (their outcomes
//! must agree too), the filters are run again, and `Store::verify` must find nothing wrong
//! in either store.
//!
//! Both stores use the same fixed clock, so entryCSN and the timestamps are equal in both
//! and filters on them are compared too; entryUUIDs are random, so assertions naming an
//! entry's entryUUID (or entryCSN, or DN) are resolved per store from the entry at a given
//! position (see [`Resolver`]).
//!
//! Index configurations: the Axigen indexes with slapd's default substring tunables (64
//! cases), with the smallest ones, on nearly every attribute with memberof maintaining
//! memberOf (32 cases each), with random valid tunables (16), and rebuilt at open after a
//! load under another configuration, on disk (8). `PROPTEST_CASES=N` runs N cases of
//! each; `INDEX_MODEL_STATS=1` prints how many searches find something and are answered
//! from an index (to keep the generators useful).
//!
//! Failures found (by the model or by probing the configurations it cannot generate) are
//! kept below as `index_model_bug_NN` tests, minimized, each documenting the bug.

use oxldap_proto::{Attribute, Ava, Dn, Entry, Filter, Rdn, Substrings};
use oxldap_schema::Schema;
use oxldap_store::{
    IndexConfig, IndexKind, MemberOf, Mod, ModOp, Overlays, Scope, SearchControl, Store,
    StoreError, StoreOptions, SubstrTunables, WriteCtx,
};
use proptest::collection::vec;
use proptest::option;
use proptest::prelude::*;
use proptest::sample::select;
use proptest::test_runner::TestCaseError;
use std::collections::BTreeSet;
use std::sync::{Arc, OnceLock};

const SUFFIX: &str = "dc=localdomain,dc=test";
/// 2023-11-14T22:13:20Z, for every CSN and timestamp of both stores.
const CLOCK: i64 = 1_700_000_000_000_000;

fn schema() -> Arc<Schema> {
    static SCHEMA: OnceLock<Arc<Schema>> = OnceLock::new();
    SCHEMA.get_or_init(|| Arc::new(Schema::builtin())).clone()
}

fn suffix() -> Dn {
    Dn::parse(SUFFIX).unwrap()
}

// ---------------------------------------------------------------------------------------
// Store configurations
// ---------------------------------------------------------------------------------------

fn kinds(ks: &[IndexKind]) -> BTreeSet<IndexKind> {
    ks.iter().copied().collect()
}

/// The indexes of the Axigen guide (`objectClass eq,pres`; `ou,cn,mail,sn,givenName
/// eq,pres,sub`, here with `approx` too; `entryUUID,entryCSN eq`).
fn axigen_indexes(substr: SubstrTunables) -> IndexConfig {
    use IndexKind::*;
    let mut attrs = vec![("objectClass".to_string(), kinds(&[Equality, Presence]))];
    for a in ["ou", "cn", "mail", "sn", "givenName"] {
        attrs.push((
            a.to_string(),
            kinds(&[Equality, Presence, Substrings, Approx]),
        ));
    }
    attrs.push(("entryUUID".into(), kinds(&[Equality])));
    attrs.push(("entryCSN".into(), kinds(&[Equality])));
    IndexConfig { attrs, substr }
}

/// slapd's substring tunables at their smallest useful values: one-character initial and
/// final keys, two-character any keys, every position.
fn tiny_tunables() -> SubstrTunables {
    SubstrTunables {
        if_minlen: 1,
        if_maxlen: 2,
        any_len: 2,
        any_step: 1,
    }
}

/// Indexes on nearly everything the generated entries and filters use, including a type
/// with subtypes (`name`), DN-valued types, a telephone number (its own normalization),
/// aliases (`surname`) and the `default` kinds, with odd tunables.
fn wide_indexes() -> IndexConfig {
    use IndexKind::*;
    let all = kinds(&[Equality, Presence, Substrings, Approx]);
    let mut attrs = vec![
        ("default".to_string(), kinds(&[Equality, Presence])),
        ("objectClass".to_string(), kinds(&[Equality, Presence])),
        ("member".to_string(), kinds(&[Equality, Presence])),
        ("memberOf".to_string(), BTreeSet::new()),
        (
            "telephoneNumber".to_string(),
            kinds(&[Equality, Presence, Substrings]),
        ),
        ("entryUUID".to_string(), kinds(&[Equality, Presence])),
        ("entryCSN".to_string(), kinds(&[Equality, Presence])),
    ];
    for a in [
        "ou",
        "cn",
        "mail",
        "surname",
        "givenName",
        "uid",
        "description",
        "name",
        "o",
        "dc",
    ] {
        attrs.push((a.to_string(), all.clone()));
    }
    IndexConfig {
        attrs,
        substr: SubstrTunables {
            if_minlen: 1,
            if_maxlen: 3,
            any_len: 3,
            any_step: 3,
        },
    }
}

/// memberof (with memberof-refint), so overlay writes move index postings too.
fn memberof_overlays() -> Overlays {
    Overlays {
        memberof: Some(MemberOf {
            refint: true,
            ..MemberOf::slapd_defaults(Dn::parse("cn=admin,dc=localdomain,dc=test").unwrap())
        }),
        refint: None,
        configured: Vec::new(),
    }
}

#[derive(Debug, Clone)]
struct Setup {
    indexes: IndexConfig,
    overlays: Overlays,
    /// Load the indexed store on disk with this configuration instead, then close it and
    /// reopen it with `indexes` (the store rebuilds its indexes at open, as slapindex).
    load_with: Option<IndexConfig>,
}

/// Closes `store` (on disk in `dir`) and opens it again with `indexes`.
fn reopen(store: &mut Store, dir: &std::path::Path, indexes: IndexConfig, setup: &Setup) {
    store.flush().unwrap();
    // sled holds a lock on the folder until the store is dropped.
    let placeholder = open(IndexConfig::default(), Overlays::default());
    drop(std::mem::replace(store, placeholder));
    // sled's background flusher may hold the lock a little longer.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    *store = loop {
        match try_open_on_disk(dir, indexes.clone(), setup.overlays.clone()) {
            Ok(s) => break s,
            Err(e) if std::time::Instant::now() > deadline => panic!("reopen: {e}"),
            Err(_) => std::thread::sleep(std::time::Duration::from_millis(20)),
        }
    };
}

fn open_on_disk(dir: &std::path::Path, indexes: IndexConfig, overlays: Overlays) -> Store {
    try_open_on_disk(dir, indexes, overlays).unwrap()
}

fn try_open_on_disk(
    dir: &std::path::Path,
    indexes: IndexConfig,
    overlays: Overlays,
) -> Result<Store, StoreError> {
    Store::open(
        dir,
        schema(),
        StoreOptions {
            suffixes: vec![suffix()],
            server_id: 0,
            durable: false,
            fixed_clock: Some(CLOCK),
            overlays,
            indexes,
            changelog_limit: None,
        },
    )
}

fn open(indexes: IndexConfig, overlays: Overlays) -> Store {
    Store::open_temporary(
        schema(),
        StoreOptions {
            suffixes: vec![suffix()],
            server_id: 0,
            durable: false,
            fixed_clock: Some(CLOCK),
            overlays,
            indexes,
            changelog_limit: None,
        },
    )
    .unwrap()
}

// ---------------------------------------------------------------------------------------
// The model: entries, filters, operations
// ---------------------------------------------------------------------------------------

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Ou,
    User,
    Group,
}

/// An entry to add: its kind, RDN value (OUs and groups; users are `uid=uN`), parent
/// selector and attributes (values may hold [`Resolver`] markers).
#[derive(Debug, Clone)]
struct NewEntry {
    kind: Kind,
    parent: usize,
    rdn: Vec<u8>,
    classes: Vec<&'static str>,
    attrs: Vec<(String, Vec<Vec<u8>>)>,
}

#[derive(Debug, Clone)]
enum Op {
    Modify {
        target: usize,
        mods: Vec<(ModOp, String, Vec<Vec<u8>>)>,
    },
    /// Deletes a leaf (`target` selects among the leaves), or any entry when `any`.
    Delete {
        target: usize,
        any: bool,
    },
    Rename {
        target: usize,
        rdn: Vec<(String, Vec<u8>)>,
        delete_old: bool,
        new_sup: Option<usize>,
    },
    Add(NewEntry),
}

/// A search: filter, scope (0 base, 1 one, 2 sub, 3 children) and base selector.
#[derive(Debug, Clone)]
struct Query {
    filter: Filter,
    scope: u8,
    base: usize,
    /// Write the base DN with upper-case types, swapped case and spaces.
    mangle_base: bool,
}

#[derive(Debug, Clone)]
struct Case {
    entries: Vec<NewEntry>,
    queries: Vec<Query>,
    ops: Vec<Op>,
}

// ---------------------------------------------------------------------------------------
// Markers: values that name an entry of the current directory, resolved per store
// ---------------------------------------------------------------------------------------

const MARK: u8 = 1;
/// The entry's DN as stored.
const REF_DN: u8 = b'D';
/// The entry's DN with upper-case types, ", " separators and swapped value case.
const REF_DN_MANGLED: u8 = b'M';
/// The entry's entryCSN.
const REF_CSN: u8 = b'C';
/// The entry's entryUUID (upper case; differs between the stores, so resolved per store).
const REF_UUID: u8 = b'U';

fn marker(kind: u8, i: usize) -> Vec<u8> {
    vec![MARK, kind, (i >> 8) as u8, i as u8]
}

struct Resolver<'a> {
    store: &'a Store,
    dns: &'a [Dn],
}

fn swap_case(v: &[u8]) -> Vec<u8> {
    v.iter()
        .map(|b| {
            if b.is_ascii_lowercase() {
                b.to_ascii_uppercase()
            } else {
                b.to_ascii_lowercase()
            }
        })
        .collect()
}

fn mangle_dn(dn: &Dn) -> String {
    dn.rdns
        .iter()
        .map(|rdn| {
            rdn.avas
                .iter()
                .map(|a| {
                    Ava {
                        attr: a.attr.to_uppercase(),
                        value: swap_case(&a.value),
                    }
                    .to_string()
                })
                .collect::<Vec<_>>()
                .join("+")
        })
        .collect::<Vec<_>>()
        .join(", ")
}

impl Resolver<'_> {
    fn value(&self, v: &[u8]) -> Vec<u8> {
        let [MARK, kind, hi, lo] = v else {
            return v.to_vec();
        };
        if self.dns.is_empty() {
            return b"cn=nobody,dc=localdomain,dc=test".to_vec();
        }
        let i = ((usize::from(*hi) << 8) | usize::from(*lo)) % self.dns.len();
        let dn = &self.dns[i];
        let attr = |name: &str| -> Vec<u8> {
            self.store
                .get(dn)
                .unwrap()
                .and_then(|e| e.values(name).first().cloned())
                .unwrap_or_default()
        };
        match *kind {
            REF_DN => dn.to_string().into_bytes(),
            REF_DN_MANGLED => mangle_dn(dn).into_bytes(),
            REF_CSN => attr("entryCSN"),
            REF_UUID => attr("entryUUID").to_ascii_uppercase(),
            _ => v.to_vec(),
        }
    }

    fn values(&self, vs: &[Vec<u8>]) -> Vec<Vec<u8>> {
        vs.iter().map(|v| self.value(v)).collect()
    }

    fn filter(&self, f: &Filter) -> Filter {
        match f {
            Filter::And(v) => Filter::And(v.iter().map(|c| self.filter(c)).collect()),
            Filter::Or(v) => Filter::Or(v.iter().map(|c| self.filter(c)).collect()),
            Filter::Not(c) => Filter::Not(Box::new(self.filter(c))),
            Filter::Equality(a, v) => Filter::Equality(a.clone(), self.value(v)),
            Filter::Approx(a, v) => Filter::Approx(a.clone(), self.value(v)),
            Filter::GreaterOrEqual(a, v) => Filter::GreaterOrEqual(a.clone(), self.value(v)),
            Filter::LessOrEqual(a, v) => Filter::LessOrEqual(a.clone(), self.value(v)),
            Filter::Extensible {
                rule,
                attr,
                value,
                dn_attributes,
            } => Filter::Extensible {
                rule: rule.clone(),
                attr: attr.clone(),
                value: self.value(value),
                dn_attributes: *dn_attributes,
            },
            Filter::Substrings(..) | Filter::Present(_) => f.clone(),
        }
    }
}

// ---------------------------------------------------------------------------------------
// Generators
// ---------------------------------------------------------------------------------------

const CHARS: &[char] = &[
    'a', 'b', 'c', 'A', 'B', ' ', ' ', 'Å', 'å', 'ö', 'Ö', 'ß', 'é', 'ﬁ', 'σ', 'ς', 'Σ', '-', '.',
    '1', 'İ',
];
const WORDS: &[&str] = &[
    "Ångström",
    "ångström",
    "ÅNGSTRÖM",
    "Angstrom",
    "a",
    "A",
    "ab",
    "AB",
    "a b",
    "a  b",
    " a",
    "b ",
    "Sven Horvat",
    "sven  HORVAT ",
    "x",
    "ß",
    "ss",
    "SS",
    "ﬁ",
    "fi",
    "é",
    "e\u{301}",
    "σς",
    "ΣΣ",
    "İ",
    "a-b",
    "ab.c",
    "abc",
    "ABC",
    "abcabc",
    "bab",
];
const MAIL_CHARS: &[char] = &['a', 'b', 'A', 'B', '.', '@', '-', '1'];
const MAILS: &[&str] = &[
    "a@b",
    "A@B",
    "ab@localdomain.test",
    "AB@LOCALDOMAIN.TEST",
    "a.b@c",
    "b",
    "sven.horvat@localdomain.test",
    "Sven.Horvat@LocalDomain.Test",
    "ana@localdomain.test",
    "aa@aa.aa",
];
const PHONE_CHARS: &[char] = &['1', '2', '3', ' ', '-', '+'];
const PHONES: &[&str] = &["+40 21 261 1931", "+40-21-261-1931", "1", "12", "123"];
const SUB_CHARS: &[char] = &[
    'a', 'b', 'c', 'A', 'B', ' ', 'Å', 'ö', 'ß', 'é', 'ﬁ', 'σ', 'ς', '-', '.', '@', '1', '2', '+',
];

fn chars(alphabet: &'static [char], len: std::ops::RangeInclusive<usize>) -> BoxedStrategy<String> {
    vec(select(alphabet), len)
        .prop_map(|v| v.into_iter().collect())
        .boxed()
}

/// How a generated word is varied: as is, upper case, lower case, ASCII case swapped, with
/// edge spaces, with inner spaces doubled.
fn vary(w: &str, how: u8) -> String {
    match how % 8 {
        0 | 1 => w.to_string(),
        2 => w.to_uppercase(),
        3 => w.to_lowercase(),
        4 => String::from_utf8(swap_case(w.as_bytes())).unwrap_or_else(|_| w.to_string()),
        5 => format!(" {w} "),
        6 => w.replace(' ', "  "),
        _ => format!("{w}  "),
    }
}

fn word() -> BoxedStrategy<String> {
    (select(WORDS), any::<u8>())
        .prop_map(|(w, how)| vary(w, how))
        .boxed()
}

fn text() -> BoxedStrategy<String> {
    prop_oneof![
        6 => word(),
        2 => chars(CHARS, 1..=3),
        1 => chars(CHARS, 4..=8),
    ]
    .boxed()
}

fn entry_ref() -> BoxedStrategy<Vec<u8>> {
    prop_oneof![
        3 => (0usize..512).prop_map(|i| marker(REF_DN, i)),
        2 => (0usize..512).prop_map(|i| marker(REF_DN_MANGLED, i)),
        1 => Just(b"cn=nobody,dc=localdomain,dc=test".to_vec()),
        1 => Just(b"not a dn".to_vec()),
    ]
    .boxed()
}

/// Values for an attribute in an entry or a modify.
fn value_for(attr: &str) -> BoxedStrategy<Vec<u8>> {
    let s = match attr.to_ascii_lowercase().as_str() {
        "mail" => prop_oneof![
            select(MAILS).prop_map(String::from),
            chars(MAIL_CHARS, 1..=6)
        ]
        .boxed(),
        "telephonenumber" => prop_oneof![
            select(PHONES).prop_map(String::from),
            chars(PHONE_CHARS, 1..=6)
        ]
        .boxed(),
        "objectclass" => select(vec![
            "inetLocalMailRecipient",
            "person",
            "top",
            "extensibleObject",
            "organizationalPerson",
        ])
        .prop_map(String::from)
        .boxed(),
        "member" => return entry_ref(),
        _ => text(),
    };
    s.prop_map(String::into_bytes).boxed()
}

const OC_VALUES: &[&str] = &[
    "inetOrgPerson",
    "INETORGPERSON",
    "person",
    " person ",
    "top",
    "organizationalUnit",
    "groupOfNames",
    "organization",
    "dcObject",
    "inetLocalMailRecipient",
    "2.5.6.6",
    "2.16.840.1.113730.3.2.2",
    "unknownClass",
    "cn",
    "",
];

/// Assertion values for a filter on `attr`.
fn assertion_for(attr: &str) -> BoxedStrategy<Vec<u8>> {
    let a = attr.to_ascii_lowercase();
    match a.as_str() {
        "objectclass" => select(OC_VALUES)
            .prop_map(|s| s.as_bytes().to_vec())
            .boxed(),
        "member" | "memberof" | "entrydn" => entry_ref(),
        "entrycsn" => prop_oneof![
            3 => (0usize..512).prop_map(|i| marker(REF_CSN, i)),
            1 => Just(b"20231114221320.000000Z#000000#000#000000".to_vec()),
            1 => Just(b"garbage".to_vec()),
        ]
        .boxed(),
        "entryuuid" => prop_oneof![
            3 => (0usize..512).prop_map(|i| marker(REF_UUID, i)),
            1 => Just(b"00000000-0000-0000-0000-000000000000".to_vec()),
            1 => Just(b"not-a-uuid".to_vec()),
        ]
        .boxed(),
        "createtimestamp" | "modifytimestamp" => select(vec![
            "20231114221320Z",
            "20231114221319Z",
            "20231114221321Z",
            "2023111422Z",
            "garbage",
        ])
        .prop_map(|s| s.as_bytes().to_vec())
        .boxed(),
        "hassubordinates" => select(vec!["TRUE", "FALSE", "true"])
            .prop_map(|s| s.as_bytes().to_vec())
            .boxed(),
        _ => value_for(attr),
    }
}

const INDEXED_ATTRS: &[&str] = &[
    "cn",
    "sn",
    "givenName",
    "mail",
    "ou",
    "objectClass",
    "entryCSN",
    "entryUUID",
    "description",
    "uid",
    "member",
    "memberOf",
    "telephoneNumber",
];
const FILTER_ATTRS: &[&str] = &[
    "cn",
    "CN",
    "sn",
    "surname",
    "givenName",
    "mail",
    "ou",
    "description",
    "telephoneNumber",
    "uid",
    "name",
    "objectClass",
    "cn;lang-en",
    "2.5.4.3",
    "member",
    "memberOf",
    "entryCSN",
    "entryUUID",
    "entryDN",
    "fooBar",
    "o",
    "dc",
    "hasSubordinates",
    "createTimestamp",
    "modifyTimestamp",
];

/// A piece of a known value (characters `start..start+len` of a word or mail address,
/// varied) or a few random characters.
fn part() -> BoxedStrategy<Vec<u8>> {
    let piece = (
        select([WORDS, MAILS].concat()),
        any::<usize>(),
        1usize..=6,
        any::<u8>(),
    )
        .prop_map(|(w, start, len, how)| {
            let cs: Vec<char> = w.chars().collect();
            let start = start % cs.len();
            let p: String = cs[start..(start + len).min(cs.len())].iter().collect();
            vary(&p, how % 5)
        });
    prop_oneof![
        5 => piece,
        1 => chars(SUB_CHARS, 1..=3),
    ]
    .prop_map(String::into_bytes)
    .boxed()
}

/// Random pieces, or pieces cut in order from one known value (so they match it), each
/// 1–6 characters.
fn substrings() -> BoxedStrategy<Substrings> {
    let random = (option::of(part()), vec(part(), 0..=2), option::of(part())).prop_map(
        |(initial, any, final_)| Substrings {
            initial,
            any,
            final_,
        },
    );
    let cut = (
        select([WORDS, MAILS].concat()),
        [
            any::<usize>(),
            any::<usize>(),
            any::<usize>(),
            any::<usize>(),
        ],
        1u8..8,
        any::<u8>(),
    )
        .prop_map(|(w, cuts, mask, how)| {
            let cs: Vec<char> = w.chars().collect();
            let mut c = cuts.map(|x| x % (cs.len() + 1));
            c.sort_unstable();
            let piece = |from: usize, to: usize, keep_end: bool| -> Option<Vec<u8>> {
                let p = &cs[from..to];
                let p = match (p.len() > 6, keep_end) {
                    (true, true) => &p[p.len() - 6..],
                    (true, false) => &p[..6],
                    _ => p,
                };
                let s: String = p.iter().collect();
                (!s.is_empty()).then(|| vary(&s, how % 5).into_bytes())
            };
            Substrings {
                initial: (mask & 1 != 0).then(|| piece(0, c[0], false)).flatten(),
                any: (mask & 2 != 0)
                    .then(|| piece(c[1], c[2], false))
                    .flatten()
                    .into_iter()
                    .collect(),
                final_: (mask & 4 != 0)
                    .then(|| piece(c[3], cs.len(), true))
                    .flatten(),
            }
        });
    prop_oneof![1 => random, 2 => cut].boxed()
}

fn extensible() -> BoxedStrategy<Filter> {
    let attrs = option::of(select(vec![
        "cn",
        "ou",
        "sn",
        "uid",
        "objectClass",
        "member",
        "telephoneNumber",
        "dc",
        "o",
    ]));
    let rules = option::of(select(vec![
        "caseExactMatch",
        "caseIgnoreMatch",
        "2.5.13.5",
        "caseIgnoreSubstringsMatch",
        "caseExactSubstringsMatch",
        "caseIgnoreOrderingMatch",
        "distinguishedNameMatch",
        "octetStringMatch",
    ]));
    let value = prop_oneof![
        3 => text().prop_map(String::into_bytes),
        1 => (text(), text()).prop_map(|(a, b)| format!("{a}*{b}").into_bytes()),
        1 => entry_ref(),
    ];
    (attrs, rules, any::<bool>(), value)
        .prop_map(|(attr, rule, dn_attributes, value)| Filter::Extensible {
            rule: rule.map(String::from),
            attr: attr.map(String::from),
            value,
            dn_attributes,
        })
        .boxed()
}

fn leaf() -> BoxedStrategy<Filter> {
    // Indexed (in some configuration) attributes more often than the others.
    let attr = || {
        prop_oneof![
            2 => select(INDEXED_ATTRS),
            1 => select(FILTER_ATTRS),
        ]
    };
    // entryUUID markers resolve to different values in the two stores, which only
    // equality keeps comparable.
    let ordered = || select(FILTER_ATTRS).prop_filter("entryUUID", |a| *a != "entryUUID");
    prop_oneof![
        5 => attr().prop_flat_map(|a| assertion_for(a)
            .prop_map(move |v| Filter::Equality(a.to_string(), v))),
        5 => (attr(), substrings()).prop_map(|(a, s)| Filter::Substrings(a.to_string(), s)),
        1 => ordered().prop_flat_map(|a| assertion_for(a)
            .prop_map(move |v| Filter::GreaterOrEqual(a.to_string(), v))),
        1 => ordered().prop_flat_map(|a| assertion_for(a)
            .prop_map(move |v| Filter::LessOrEqual(a.to_string(), v))),
        2 => attr().prop_map(|a| Filter::Present(a.to_string())),
        2 => attr().prop_flat_map(|a| assertion_for(a)
            .prop_map(move |v| Filter::Approx(a.to_string(), v))),
        2 => extensible(),
    ]
    .boxed()
}

fn filter() -> BoxedStrategy<Filter> {
    let nested = leaf().prop_recursive(3, 10, 3, |inner| {
        prop_oneof![
            vec(inner.clone(), 1..=3).prop_map(Filter::And),
            vec(inner.clone(), 1..=3).prop_map(Filter::Or),
            inner.prop_map(|f| Filter::Not(Box::new(f))),
        ]
    });
    prop_oneof![
        8 => leaf(),
        1 => Just(Filter::And(Vec::new())),
        1 => Just(Filter::Or(Vec::new())),
        8 => nested,
    ]
    .boxed()
}

fn query() -> BoxedStrategy<Query> {
    // Mostly subtree searches from the suffix (base selector 0), where most entries are.
    let scope = prop_oneof![1 => Just(0u8), 2 => Just(1u8), 4 => Just(2u8), 2 => Just(3u8)];
    let base = prop_oneof![1 => Just(0usize), 1 => 0usize..512];
    (filter(), scope, base, proptest::bool::weighted(0.2))
        .prop_map(|(filter, scope, base, mangle_base)| Query {
            filter,
            scope,
            base,
            mangle_base,
        })
        .boxed()
}

/// A crude normalization, to avoid generating many values an add refuses as duplicates.
fn dedup(values: Vec<Vec<u8>>) -> Vec<Vec<u8>> {
    let mut seen = BTreeSet::new();
    values
        .into_iter()
        .filter(|v| {
            let s = String::from_utf8_lossy(v).to_lowercase();
            seen.insert(s.split_whitespace().collect::<Vec<_>>().join(" "))
        })
        .collect()
}

fn vals(
    attr: &'static str,
    n: std::ops::RangeInclusive<usize>,
) -> BoxedStrategy<(String, Vec<Vec<u8>>)> {
    vec(value_for(attr), n)
        .prop_map(move |v| (attr.to_string(), dedup(v)))
        .boxed()
}

fn new_entry() -> BoxedStrategy<NewEntry> {
    let ou = (
        any::<usize>(),
        text(),
        vals("ou", 0..=1),
        vals("description", 0..=2),
        vals("telephoneNumber", 0..=1),
    )
        .prop_map(|(parent, rdn, a, b, c)| NewEntry {
            kind: Kind::Ou,
            parent,
            rdn: rdn.into_bytes(),
            classes: vec!["organizationalUnit"],
            attrs: vec![a, b, c],
        });
    let classes = select(vec![
        vec!["inetOrgPerson"],
        vec!["top", "person", "organizationalPerson", "inetOrgPerson"],
        vec!["inetOrgPerson", "inetLocalMailRecipient"],
    ]);
    let user = (
        any::<usize>(),
        classes,
        (
            vals("cn", 1..=2),
            vals("sn", 1..=2),
            vals("givenName", 0..=2),
        ),
        (
            vals("mail", 0..=2),
            vals("ou", 0..=1),
            vals("description", 0..=2),
        ),
        (vals("telephoneNumber", 0..=1), vals("cn;lang-en", 0..=1)),
    )
        .prop_map(|(parent, classes, (a, b, c), (d, e, f), (g, h))| NewEntry {
            kind: Kind::User,
            parent,
            rdn: Vec::new(),
            classes,
            attrs: vec![a, b, c, d, e, f, g, h],
        });
    let group = (
        any::<usize>(),
        text(),
        vals("member", 1..=3),
        vals("description", 0..=1),
        vals("ou", 0..=1),
    )
        .prop_map(|(parent, rdn, a, b, c)| NewEntry {
            kind: Kind::Group,
            parent,
            rdn: rdn.into_bytes(),
            classes: vec!["groupOfNames"],
            attrs: vec![a, b, c],
        });
    prop_oneof![2 => ou, 6 => user, 2 => group].boxed()
}

const MOD_ATTRS: &[&str] = &[
    "cn",
    "sn",
    "givenName",
    "mail",
    "ou",
    "description",
    "telephoneNumber",
    "cn;lang-en",
    "objectClass",
    "member",
    "uid",
];

fn one_mod() -> BoxedStrategy<(ModOp, String, Vec<Vec<u8>>)> {
    (
        select(MOD_ATTRS),
        select(vec![ModOp::Add, ModOp::Delete, ModOp::Replace]),
    )
        .prop_flat_map(|(a, op)| {
            vec(value_for(a), 0..=2).prop_map(move |v| (op, a.to_string(), dedup(v)))
        })
        .boxed()
}

fn new_rdn() -> BoxedStrategy<Vec<(String, Vec<u8>)>> {
    prop_oneof![
        3 => (select(vec!["uid", "cn", "ou", "sn"]), text())
            .prop_map(|(a, v)| vec![(a.to_string(), v.into_bytes())]),
        1 => (text(), text()).prop_map(|(a, b)| vec![
            ("cn".to_string(), a.into_bytes()),
            ("uid".to_string(), b.into_bytes()),
        ]),
    ]
    .boxed()
}

fn op() -> BoxedStrategy<Op> {
    prop_oneof![
        5 => (any::<usize>(), vec(one_mod(), 1..=2))
            .prop_map(|(target, mods)| Op::Modify { target, mods }),
        2 => (any::<usize>(), proptest::bool::weighted(0.15))
            .prop_map(|(target, any)| Op::Delete { target, any }),
        3 => (any::<usize>(), new_rdn(), any::<bool>(), option::weighted(0.4, any::<usize>()))
            .prop_map(|(target, rdn, delete_old, new_sup)| Op::Rename {
                target,
                rdn,
                delete_old,
                new_sup,
            }),
        2 => new_entry().prop_map(Op::Add),
    ]
    .boxed()
}

fn case() -> BoxedStrategy<Case> {
    (
        vec(new_entry(), 20..=60),
        vec(query(), 16..=24),
        vec(op(), 8..=20),
    )
        .prop_map(|(entries, queries, ops)| Case {
            entries,
            queries,
            ops,
        })
        .boxed()
}

// ---------------------------------------------------------------------------------------
// Running a case
// ---------------------------------------------------------------------------------------

/// Both stores of a case; `plain` has no index.
struct Pair {
    plain: Store,
    indexed: Store,
    /// Users added so far (their RDNs are `uid=uN`).
    serial: usize,
    /// Every DN of the plain store in DN order, refreshed after each successful write.
    dns: Vec<Dn>,
    /// The data folders of the plain and indexed stores when they live on disk.
    dirs: Option<[tempfile::TempDir; 2]>,
}

fn outcome(r: Result<(), StoreError>) -> String {
    match r {
        Ok(()) => "ok".to_string(),
        Err(e) => format!("{e:?}"),
    }
}

/// Every DN in the plain store, in DN order (parents first).
fn all_dns(store: &Store) -> Vec<Dn> {
    let mut out = Vec::new();
    store
        .search(
            &suffix(),
            Scope::Sub,
            &Filter::Present("objectClass".into()),
            |e| {
                out.push(e.dn);
                SearchControl::Continue
            },
        )
        .unwrap();
    out
}

fn scope_of(n: u8) -> Scope {
    match n % 4 {
        0 => Scope::Base,
        1 => Scope::One,
        2 => Scope::Sub,
        _ => Scope::Children,
    }
}

fn base_of(sel: usize, dns: &[Dn]) -> Dn {
    match sel % (dns.len() + 2) {
        i if i < dns.len() => dns[i].clone(),
        i if i == dns.len() => Dn::parse("ou=missing,dc=localdomain,dc=test").unwrap(),
        _ => Dn::parse("dc=elsewhere").unwrap(),
    }
}

/// The sorted DNs `filter` finds, or the error.
fn search(store: &Store, base: &Dn, scope: Scope, filter: &Filter) -> Result<Vec<String>, String> {
    let mut out = Vec::new();
    store
        .search(base, scope, filter, |e| {
            out.push(e.dn.to_string());
            SearchControl::Continue
        })
        .map_err(|e| format!("{e:?}"))?;
    out.sort();
    Ok(out)
}

impl Pair {
    fn new(setup: &Setup) -> Pair {
        let ov = || setup.overlays.clone();
        let pair = match &setup.load_with {
            // Both on disk and both reopened, so both CSN clocks restart alike.
            Some(cfg) => {
                let dirs = [tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap()];
                Pair {
                    plain: open_on_disk(dirs[0].path(), IndexConfig::default(), ov()),
                    indexed: open_on_disk(dirs[1].path(), cfg.clone(), ov()),
                    serial: 0,
                    dns: Vec::new(),
                    dirs: Some(dirs),
                }
            }
            None => Pair {
                plain: open(IndexConfig::default(), ov()),
                indexed: open(setup.indexes.clone(), ov()),
                serial: 0,
                dns: Vec::new(),
                dirs: None,
            },
        };
        let mut top = Entry::new(suffix());
        top.attrs = vec![
            Attribute::new(
                "objectClass",
                vec![b"organization".to_vec(), b"dcObject".to_vec()],
            ),
            Attribute::new("o", vec![b"localdomain.test".to_vec()]),
            Attribute::new("dc", vec![b"localdomain".to_vec()]),
        ];
        for s in [&pair.plain, &pair.indexed] {
            s.add(top.clone(), &WriteCtx::default()).unwrap();
        }
        let mut pair = pair;
        pair.dns = all_dns(&pair.plain);
        pair
    }

    /// Closes the on-disk stores and opens them again, the indexed one with `indexes`.
    fn reopen(&mut self, setup: &Setup) {
        let Some([plain_dir, indexed_dir]) = &self.dirs else {
            return;
        };
        reopen(
            &mut self.plain,
            plain_dir.path(),
            IndexConfig::default(),
            setup,
        );
        reopen(
            &mut self.indexed,
            indexed_dir.path(),
            setup.indexes.clone(),
            setup,
        );
    }

    fn stores(&self) -> [(&'static str, &Store); 2] {
        [("plain", &self.plain), ("indexed", &self.indexed)]
    }

    /// Runs `f` on both stores and requires the same outcome.
    fn both(
        &mut self,
        what: &str,
        f: impl Fn(&Store, &[Dn]) -> Result<(), StoreError>,
    ) -> Result<bool, TestCaseError> {
        let a = outcome(f(&self.plain, &self.dns));
        stats::write(a == "ok");
        let b = outcome(f(&self.indexed, &self.dns));
        prop_assert_eq!(&a, &b, "{} has different outcomes", what);
        if a == "ok" {
            self.dns = all_dns(&self.plain);
        }
        Ok(a == "ok")
    }

    /// Adds `e` below one of `parents` on both stores; its DN when both added it.
    fn add(&mut self, e: &NewEntry, parents: &[Dn]) -> Result<Option<Dn>, TestCaseError> {
        let parent = parents[e.parent % parents.len()].clone();
        let rdn = match e.kind {
            Kind::Ou => ("ou", e.rdn.clone()),
            Kind::Group => ("cn", e.rdn.clone()),
            Kind::User => {
                self.serial += 1;
                ("uid", format!("u{}", self.serial).into_bytes())
            }
        };
        let dn = parent.child(Rdn {
            avas: vec![Ava {
                attr: rdn.0.to_string(),
                value: rdn.1,
            }],
        });
        let what = format!("add {dn} {e:?}");
        let ok = self.both(&what, |s, dns| {
            let r = Resolver { store: s, dns };
            let mut entry = Entry::new(dn.clone());
            entry.attrs.push(Attribute::new(
                "objectClass",
                e.classes.iter().map(|c| c.as_bytes().to_vec()).collect(),
            ));
            for (a, vs) in &e.attrs {
                if !vs.is_empty() {
                    entry.attrs.push(Attribute::new(a.clone(), r.values(vs)));
                }
            }
            s.add(entry, &WriteCtx::default())
        })?;
        Ok(ok.then_some(dn))
    }

    fn apply(&mut self, op: &Op) -> Result<(), TestCaseError> {
        let dns = self.dns.clone();
        let pick = |i: usize| dns[i % dns.len()].clone();
        match op {
            Op::Add(e) => {
                self.add(e, &dns)?;
            }
            Op::Modify { target, mods } => {
                let dn = pick(*target);
                self.both(&format!("modify {dn} {mods:?}"), |s, dns| {
                    let r = Resolver { store: s, dns };
                    let mods = mods
                        .iter()
                        .map(|(op, a, vs)| Mod {
                            op: *op,
                            attr: Attribute::new(a.clone(), r.values(vs)),
                        })
                        .collect();
                    s.modify(&dn, mods, &WriteCtx::default())
                })?;
            }
            Op::Delete { target, any } => {
                let leaves: Vec<&Dn> = dns
                    .iter()
                    .filter(|d| !dns.iter().any(|o| o.parent().as_ref() == Some(*d)))
                    .collect();
                let dn = if *any || leaves.is_empty() {
                    pick(*target)
                } else {
                    leaves[target % leaves.len()].clone()
                };
                self.both(&format!("delete {dn}"), |s, _| {
                    s.delete(&dn, &WriteCtx::default())
                })?;
            }
            Op::Rename {
                target,
                rdn,
                delete_old,
                new_sup,
            } => {
                let dn = pick(*target);
                let rdn = Rdn {
                    avas: rdn
                        .iter()
                        .map(|(a, v)| Ava {
                            attr: a.clone(),
                            value: v.clone(),
                        })
                        .collect(),
                };
                let sup = new_sup.map(pick);
                let sup_s = sup.as_ref().map(Dn::to_string);
                self.both(
                    &format!(
                        "modify DN {dn} to {rdn} deleteoldrdn {delete_old} newSuperior {sup_s:?}"
                    ),
                    |s, _| s.modify_dn(&dn, &rdn, *delete_old, sup.as_ref(), &WriteCtx::default()),
                )?;
            }
        }
        Ok(())
    }

    /// Runs `q` on both stores and requires the same DNs or the same error.
    fn check(&self, q: &Query, when: &str) -> Result<(), TestCaseError> {
        let dns = &self.dns;
        let mut base = base_of(q.base, dns);
        if q.mangle_base {
            base = Dn::parse(&mangle_dn(&base)).unwrap_or(base);
        }
        let scope = scope_of(q.scope);
        let [(_, a), (_, b)] = self.stores();
        let fa = Resolver { store: a, dns }.filter(&q.filter);
        let fb = Resolver { store: b, dns }.filter(&q.filter);
        let ra = search(a, &base, scope, &fa);
        let rb = search(b, &base, scope, &fb);
        stats::query(&ra, b.plan(&fb).ok().and_then(|(c, _)| c).is_some());
        if ra != rb {
            let plan = b.plan(&fb).map(|(_, p)| p.to_string());
            return Err(TestCaseError::fail(format!(
                "{when}: filter {fb} (unindexed form {fa}) base {base} scope {scope:?}\n\
                 plan with indexes: {plan:?}\nwithout indexes: {ra:?}\nwith indexes:    {rb:?}"
            )));
        }
        Ok(())
    }

    fn check_consistent(&self) -> Result<(), TestCaseError> {
        // Sorted: the indexed store answers from candidates in id order.
        let dn_set =
            |s: &Store| -> BTreeSet<String> { all_dns(s).iter().map(Dn::to_string).collect() };
        let (a, b) = (dn_set(&self.plain), dn_set(&self.indexed));
        prop_assert_eq!(a, b, "the two stores hold different entries");
        for (name, s) in self.stores() {
            let problems = s.verify().unwrap();
            prop_assert!(problems.is_empty(), "verify ({}): {:?}", name, problems);
        }
        Ok(())
    }
}

/// With `INDEX_MODEL_STATS=1`, how often the generated searches find something and are
/// answered from an index, and how often writes succeed (to keep the generators useful).
mod stats {
    use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
    static QUERIES: AtomicUsize = AtomicUsize::new(0);
    static FOUND: AtomicUsize = AtomicUsize::new(0);
    static ERRORS: AtomicUsize = AtomicUsize::new(0);
    static INDEXED: AtomicUsize = AtomicUsize::new(0);
    static INDEXED_FOUND: AtomicUsize = AtomicUsize::new(0);
    static WRITES: AtomicUsize = AtomicUsize::new(0);
    static WRITES_OK: AtomicUsize = AtomicUsize::new(0);

    fn enabled() -> bool {
        std::env::var_os("INDEX_MODEL_STATS").is_some()
    }

    pub fn query(r: &Result<Vec<String>, String>, indexed: bool) {
        if !enabled() {
            return;
        }
        let found = r.as_ref().is_ok_and(|v| !v.is_empty());
        let n = QUERIES.fetch_add(1, Relaxed) + 1;
        FOUND.fetch_add(usize::from(found), Relaxed);
        ERRORS.fetch_add(usize::from(r.is_err()), Relaxed);
        INDEXED.fetch_add(usize::from(indexed), Relaxed);
        INDEXED_FOUND.fetch_add(usize::from(indexed && found), Relaxed);
        if n.is_power_of_two() && n >= 1024 {
            eprintln!(
                "searches {n}: found something {}, errors {}, from an index {} \
                 (found something {}); writes {} ({} succeeded)",
                FOUND.load(Relaxed),
                ERRORS.load(Relaxed),
                INDEXED.load(Relaxed),
                INDEXED_FOUND.load(Relaxed),
                WRITES.load(Relaxed),
                WRITES_OK.load(Relaxed),
            );
        }
    }

    pub fn write(ok: bool) {
        WRITES.fetch_add(1, Relaxed);
        WRITES_OK.fetch_add(usize::from(ok), Relaxed);
    }
}

fn run_case(setup: &Setup, case: &Case) -> Result<(), TestCaseError> {
    let mut pair = Pair::new(setup);
    let mut parents = vec![suffix()];
    for e in &case.entries {
        // Entries go below the suffix or an OU added before them.
        if let Some(dn) = pair.add(e, &parents)? {
            if e.kind == Kind::Ou {
                parents.push(dn);
            }
        }
    }
    pair.reopen(setup);
    for q in &case.queries {
        pair.check(q, "after load")?;
    }
    for (i, op) in case.ops.iter().enumerate() {
        pair.apply(op)?;
        // A few searches between writes too, rotating through the queries.
        for k in 0..2 {
            let q = &case.queries[(i * 2 + k) % case.queries.len()];
            pair.check(q, &format!("after op {i} {op:?}"))?;
        }
    }
    for q in &case.queries {
        pair.check(q, "after all ops")?;
    }
    pair.check_consistent()
}

/// `cases` cases, or `PROPTEST_CASES` when set (for longer runs); failures are not
/// persisted (minimized failures become `index_model_bug_NN` tests instead).
fn config_with(cases: u32) -> ProptestConfig {
    ProptestConfig {
        cases: std::env::var("PROPTEST_CASES")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(cases),
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

fn config() -> ProptestConfig {
    config_with(64)
}

proptest! {
    #![proptest_config(config())]

    /// The Axigen indexes with slapd's default substring tunables.
    #[test]
    fn axigen_indexes_never_change_an_answer(case in case()) {
        let setup = Setup {
            indexes: axigen_indexes(SubstrTunables::default()),
            overlays: Overlays::default(),
            load_with: None,
        };
        run_case(&setup, &case)?;
    }
}

proptest! {
    // Variations of the first: fewer cases each, to keep the file fast in debug builds.
    #![proptest_config(config_with(32))]

    /// The Axigen indexes with the smallest substring keys (if_minlen 1, any_len 2).
    #[test]
    fn tiny_substring_keys_never_change_an_answer(case in case()) {
        let setup = Setup {
            indexes: axigen_indexes(tiny_tunables()),
            overlays: Overlays::default(),
            load_with: None,
        };
        run_case(&setup, &case)?;
    }

    /// Indexes on nearly every attribute, with memberof maintaining memberOf.
    #[test]
    fn wide_indexes_with_memberof_never_change_an_answer(case in case()) {
        let setup = Setup {
            indexes: wide_indexes(),
            overlays: memberof_overlays(),
            load_with: None,
        };
        run_case(&setup, &case)?;
    }
}

/// Substring tunables with `if_minlen <= if_maxlen` (see `index_model_bug_02` for the
/// other case).
fn tunables() -> BoxedStrategy<SubstrTunables> {
    (1usize..=4, 0usize..=3, 1usize..=5, 1usize..=4)
        .prop_map(|(if_minlen, extra, any_len, any_step)| SubstrTunables {
            if_minlen,
            if_maxlen: if_minlen + extra,
            any_len,
            any_step,
        })
        .boxed()
}

proptest! {
    #![proptest_config(config_with(16))]

    /// The Axigen indexes with random substring tunables.
    #[test]
    fn random_substring_tunables_never_change_an_answer(t in tunables(), case in case()) {
        let setup = Setup {
            indexes: axigen_indexes(t),
            overlays: Overlays::default(),
            load_with: None,
        };
        run_case(&setup, &case)?;
    }
}

proptest! {
    // On disk, so slower: fewer cases.
    #![proptest_config(config_with(8))]

    /// Loaded with the tiny substring keys and no approx index, then reopened with the
    /// Axigen indexes: the indexes rebuilt at open must serve the same answers, and the
    /// writes that follow must keep them right.
    #[test]
    fn indexes_rebuilt_at_open_never_change_an_answer(case in case()) {
        let setup = Setup {
            indexes: axigen_indexes(SubstrTunables::default()),
            overlays: Overlays::default(),
            load_with: Some(IndexConfig {
                attrs: axigen_indexes(tiny_tunables())
                    .attrs
                    .into_iter()
                    .map(|(a, mut k)| {
                        k.remove(&IndexKind::Approx);
                        (a, k)
                    })
                    .collect(),
                substr: tiny_tunables(),
            }),
        };
        run_case(&setup, &case)?;
    }
}

// ---------------------------------------------------------------------------------------
// Regressions and fixed cases
// ---------------------------------------------------------------------------------------

/// Runs `filters` on both stores of `pair` from each base in each scope of `searches`
/// and requires the same answers.
fn same_answers(pair: &Pair, searches: &[(Dn, &[Scope])], filters: &[&str]) {
    let mut wrong = Vec::new();
    for f in filters {
        let f = Filter::parse(f).unwrap();
        for (base, scopes) in searches {
            for &scope in *scopes {
                let a = search(&pair.plain, base, scope, &f);
                let b = search(&pair.indexed, base, scope, &f);
                if a != b {
                    let plan = pair.indexed.plan(&f).map(|(_, p)| p.to_string());
                    wrong.push(format!(
                        "{f} base {base} scope {scope:?} (plan {plan:?}):\n  without indexes {a:?}\n  with indexes    {b:?}"
                    ));
                }
            }
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

/// Bug 01: an index on an attribute the store computes on read instead of storing
/// (entryDN, hasSubordinates, subschemaSubentry; contextCSN on the suffix) is accepted,
/// but `Indexes::keys` only sees the stored entry, so there is no posting at all and the
/// planner answers every equality or presence filter on such an attribute with no
/// candidates: `(entryDN=dc=localdomain,dc=test)` finds the suffix without indexes and
/// nothing with `entryDN eq`. Same through the server: `oxldap serve` with `index
/// entryDN,hasSubordinates eq` answers `(hasSubordinates=TRUE)` with no entry. (slapd
/// refuses `index entryDN eq`: "index of attribute "entryDN" disallowed".) Either refuse
/// such index directives or leave these attributes to the scan.
#[test]
fn index_model_bug_01_index_on_a_computed_attribute() {
    use IndexKind::*;
    let indexes = IndexConfig {
        attrs: vec![
            ("entryDN".to_string(), kinds(&[Equality, Presence])),
            ("hasSubordinates".to_string(), kinds(&[Equality, Presence])),
            (
                "subschemaSubentry".to_string(),
                kinds(&[Equality, Presence]),
            ),
            ("contextCSN".to_string(), kinds(&[Presence])),
        ],
        substr: SubstrTunables::default(),
    };
    // Stores that refuse the configuration are fine too: only a wrong answer is a bug.
    let Ok(indexed) = Store::open_temporary(
        schema(),
        StoreOptions {
            suffixes: vec![suffix()],
            server_id: 0,
            durable: false,
            fixed_clock: Some(CLOCK),
            overlays: Overlays::default(),
            indexes,
            changelog_limit: None,
        },
    ) else {
        return;
    };
    let mut pair = Pair::new(&Setup {
        indexes: IndexConfig::default(),
        overlays: Overlays::default(),
        load_with: None,
    });
    pair.indexed = indexed;
    pair.indexed
        .add(
            pair.plain
                .get(&suffix())
                .unwrap()
                .map(|mut e| {
                    e.attrs
                        .retain(|a| ["objectClass", "o", "dc"].contains(&a.desc.as_str()));
                    e
                })
                .unwrap(),
            &WriteCtx::default(),
        )
        .unwrap();
    let ou = NewEntry {
        kind: Kind::Ou,
        parent: 0,
        rdn: b"People".to_vec(),
        classes: vec!["organizationalUnit"],
        attrs: Vec::new(),
    };
    pair.add(&ou, &[suffix()]).unwrap();
    let all = &[Scope::Base, Scope::One, Scope::Sub, Scope::Children][..];
    let people = Dn::parse("ou=People,dc=localdomain,dc=test").unwrap();
    same_answers(
        &pair,
        &[(suffix(), all), (people, all)],
        &[
            "(entryDN=dc=localdomain,dc=test)",
            "(entryDN=ou=People,dc=localdomain,dc=test)",
            "(entryDN=*)",
            "(hasSubordinates=TRUE)",
            "(hasSubordinates=FALSE)",
            "(hasSubordinates=*)",
            "(subschemaSubentry=cn=Subschema)",
            "(contextCSN=*)",
        ],
    );
}

/// Bug 02: substring tunables with `if_minlen` above `if_maxlen` (slapd.conf
/// `index_substr_if_minlen 5` with the default `index_substr_if_maxlen 4`; the server's
/// configuration parser accepts it) index no initial or final key at all (`for len in
/// if_minlen..=if_maxlen` is empty), but the planner still looks an initial or final
/// piece of at least `if_minlen` up under its first or last `if_maxlen` bytes, finds
/// nothing and answers `(cn=abcde*)` and `(cn=*bcdef)` with no entry. Either refuse the
/// combination (as slapd does) or skip initial/final lookups when no such key exists.
#[test]
fn index_model_bug_02_substring_minlen_above_maxlen() {
    let tunables = SubstrTunables {
        if_minlen: 5,
        if_maxlen: 4,
        ..SubstrTunables::default()
    };
    let mut pair = Pair::new(&Setup {
        indexes: IndexConfig::default(),
        overlays: Overlays::default(),
        load_with: None,
    });
    // A configuration the store refuses is fine too: only a wrong answer is a bug.
    let Ok(indexed) = Store::open_temporary(
        schema(),
        StoreOptions {
            suffixes: vec![suffix()],
            server_id: 0,
            durable: false,
            fixed_clock: Some(CLOCK),
            overlays: Overlays::default(),
            indexes: axigen_indexes(tunables),
            changelog_limit: None,
        },
    ) else {
        return;
    };
    pair.indexed = indexed;
    let top = pair.plain.get(&suffix()).unwrap().unwrap();
    let mut top_entry = Entry::new(top.dn.clone());
    top_entry.attrs = top
        .attrs
        .into_iter()
        .filter(|a| ["objectClass", "o", "dc"].contains(&a.desc.as_str()))
        .collect();
    pair.indexed.add(top_entry, &WriteCtx::default()).unwrap();
    let user = NewEntry {
        kind: Kind::User,
        parent: 0,
        rdn: Vec::new(),
        classes: vec!["inetOrgPerson"],
        attrs: vec![
            ("cn".into(), vec![b"abcdef".to_vec()]),
            ("sn".into(), vec![b"abcdef".to_vec()]),
        ],
    };
    pair.add(&user, &[suffix()]).unwrap();
    same_answers(
        &pair,
        &[(suffix(), &[Scope::Sub])],
        &["(cn=abcde*)", "(cn=*bcdef)", "(sn=abcdef*)", "(cn=abcd*)"],
    );
}

/// Bug 03 (seeds 3 and 4 of `wide_indexes_with_memberof_never_change_an_answer`): an OU
/// whose value is spaces only (`ou=\20`) normalized to the empty value, so its normalized
/// DN printed as `ou=`, which does not parse; refint looked the referrers of the renamed
/// OU's members up by that printed form, found none, and the groups kept the old member
/// DNs while the members kept memberOf (`verify`: "has memberOf ... but is not a
/// member"). A soft hyphen (mapped to nothing, RFC 4518 §2.2) still normalizes to empty,
/// so the lookup now goes by the normalized DN itself; spaces only now normalize to one
/// space, as slapd's UTF8StringNormalize.
#[test]
fn index_model_bug_03_rename_of_an_rdn_that_normalizes_to_nothing() {
    fn entry(dn: &str, attrs: &[(&str, &str)]) -> Entry {
        let mut e = Entry::new(Dn::parse(dn).unwrap());
        for (a, v) in attrs {
            e.push_value(a, v.as_bytes().to_vec());
        }
        e
    }
    for indexes in [IndexConfig::default(), wide_indexes()] {
        let store = open(indexes, memberof_overlays());
        let ctx = WriteCtx::default();
        let top = [
            ("objectClass", "dcObject"),
            ("objectClass", "organization"),
            ("dc", "localdomain"),
            ("o", "x"),
        ];
        store.add(entry(SUFFIX, &top), &ctx).unwrap();
        // (RDN value as a DN string, the ou value): spaces only, a soft hyphen, and
        // trailing spaces (normalized like "abc", as in the seed-3 case).
        let ous = [("\\20", " "), ("\u{ad}", "\u{ad}"), ("abc \\20", "abc  ")];
        let mut group = entry(
            &format!("cn=g,{SUFFIX}"),
            &[("objectClass", "groupOfNames"), ("cn", "g")],
        );
        for (n, (dn_value, value)) in ous.iter().enumerate() {
            let ou = format!("ou={dn_value},{SUFFIX}");
            let oc = ("objectClass", "organizationalUnit");
            store.add(entry(&ou, &[oc, ("ou", value)]), &ctx).unwrap();
            let uid = format!("u{n}");
            let person = [
                ("objectClass", "inetOrgPerson"),
                ("uid", uid.as_str()),
                ("cn", "c"),
                ("sn", "s"),
            ];
            let user = format!("uid={uid},{ou}");
            store.add(entry(&user, &person), &ctx).unwrap();
            group.push_value("member", user.into_bytes());
        }
        store.add(group, &ctx).unwrap();
        for (n, (dn_value, _)) in ous.iter().enumerate() {
            let ou = Dn::parse(&format!("ou={dn_value},{SUFFIX}")).unwrap();
            let rdn = Rdn::parse(&format!("ou=Renamed{n}")).unwrap();
            store.modify_dn(&ou, &rdn, true, None, &ctx).unwrap();
        }
        assert_eq!(store.verify().unwrap(), Vec::<String>::new());
        let got = store.get(&Dn::parse(&format!("cn=g,{SUFFIX}")).unwrap());
        let members: Vec<String> = got
            .unwrap()
            .unwrap()
            .values("member")
            .iter()
            .map(|v| String::from_utf8_lossy(v).into_owned())
            .collect();
        let want: Vec<String> = (0..ous.len())
            .map(|n| format!("uid=u{n},ou=Renamed{n},{SUFFIX}"))
            .collect();
        assert_eq!(members, want);
    }
}

/// An OR far wider than the old 1,024-node planner budget (tester 12: 2,000 indexed
/// equality terms made a 4,000-entry directory scan for 17 s, slapd answers from its
/// indexes) is still answered from the indexes: one lookup per term, and the same
/// answer as without indexes.
#[test]
fn wide_or_filters_are_planned_from_the_indexes() {
    let mut pair = Pair::new(&Setup {
        indexes: axigen_indexes(SubstrTunables::default()),
        overlays: Overlays::default(),
        load_with: None,
    });
    for i in 0..50usize {
        let mut e = Entry::new(suffix().child(Rdn {
            avas: vec![Ava {
                attr: "uid".into(),
                value: format!("u{i}").into_bytes(),
            }],
        }));
        e.attrs = vec![
            Attribute::new("objectClass", vec![b"inetOrgPerson".to_vec()]),
            Attribute::new("cn", vec![format!("name{}", i * 1000).into_bytes()]),
            Attribute::new("sn", vec![b"s".to_vec()]),
        ];
        for s in [&pair.plain, &pair.indexed] {
            s.add(e.clone(), &WriteCtx::default()).unwrap();
        }
    }
    pair.dns = all_dns(&pair.plain);
    let terms: String = (0..5000).map(|i| format!("(cn=name{i})")).collect();
    let filter = Filter::parse(&format!("(|{terms})")).unwrap();
    let (candidates, plan) = pair.indexed.plan(&filter).unwrap();
    // name0, name1000, ..., name4000: five users.
    assert_eq!(candidates.map(|c| c.len()), Some(5), "{plan}");
    let found = search(&pair.indexed, &suffix(), Scope::Sub, &filter).unwrap();
    assert_eq!(found.len(), 5);
    assert_eq!(
        found,
        search(&pair.plain, &suffix(), Scope::Sub, &filter).unwrap()
    );
}

/// More candidates than `search::CANDIDATES_FETCH_LIMIT` (4096): the search walks the
/// scope and tests candidate membership instead of fetching the candidates.
#[test]
fn large_candidate_sets_walk_the_scope() {
    let mut pair = Pair::new(&Setup {
        indexes: axigen_indexes(SubstrTunables::default()),
        overlays: Overlays::default(),
        load_with: None,
    });
    let ou = |name: &str| NewEntry {
        kind: Kind::Ou,
        parent: 0,
        rdn: name.as_bytes().to_vec(),
        classes: vec!["organizationalUnit"],
        attrs: Vec::new(),
    };
    let a = pair.add(&ou("A"), &[suffix()]).unwrap().unwrap();
    let b = pair.add(&ou("B"), &[suffix()]).unwrap().unwrap();
    let c = pair
        .add(&ou("C"), std::slice::from_ref(&a))
        .unwrap()
        .unwrap();
    let parents = [a, b, c];
    // Loaded directly: comparing 8,400 write outcomes one by one would be slow.
    for i in 0..4100usize {
        let mut e = Entry::new(parents[i % 3].child(Rdn {
            avas: vec![Ava {
                attr: "uid".into(),
                value: format!("u{i}").into_bytes(),
            }],
        }));
        let sn = if i % 2 == 0 { "Pop" } else { "Ångström" };
        e.attrs = vec![
            Attribute::new("objectClass", vec![b"inetOrgPerson".to_vec()]),
            Attribute::new("cn", vec![format!("Ana Pop {}", i % 7).into_bytes()]),
            Attribute::new("sn", vec![sn.as_bytes().to_vec()]),
            Attribute::new("mail", vec![format!("u{i}@localdomain.test").into_bytes()]),
        ];
        for s in [&pair.plain, &pair.indexed] {
            s.add(e.clone(), &WriteCtx::default()).unwrap();
        }
    }
    pair.dns = all_dns(&pair.plain);
    let [a, b, _] = parents;
    same_answers(
        &pair,
        &[
            (suffix(), &[Scope::Sub]),
            (a, &[Scope::Children]),
            (b, &[Scope::One]),
        ],
        &[
            "(objectClass=person)",
            "(&(objectClass=inetOrgPerson)(sn=pop))",
            "(|(sn=Pop)(sn=ÅNGSTRÖM))",
            "(&(mail=*)(!(cn=ana pop 3)))",
            "(&(objectClass=*)(uid=u41*))",
        ],
    );
    for (name, s) in pair.stores() {
        assert_eq!(s.verify().unwrap(), Vec::<String>::new(), "{name}");
    }
}
