//! Index and planner benchmarks on the store, in process (no sockets): equality,
//! substring, presence and AND searches over 1,000, 10,000 and 100,000 generated users,
//! with the Axigen indexes and without any index (a full scan), the raw cost of reading
//! every entry once (`scan/iter_entries`: the floor an unindexed search is compared with,
//! issue 4 asks for at most 2× of it), and the cost of an add and a modify with and without
//! indexes.
//!
//! Run: `cargo bench --bench search` (bounded: small sample sizes). Compare with slapd over
//! the wire with `scripts/bench-vs-slapd.sh`.

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use oxldap_proto::{Attribute, Dn, Entry, Filter};
use oxldap_schema::Schema;
use oxldap_store::{IndexConfig, IndexKind, Scope, SearchControl, Store, StoreOptions, WriteCtx};
use std::collections::BTreeSet;
use std::sync::Arc;

const SURNAMES: &[&str] = &[
    "Horvat", "Popescu", "Smith", "Wang", "Müller", "Suzuki", "Garcia", "Ionescu",
];
const GIVEN: &[&str] = &[
    "Ana", "Bob", "Chen", "Dana", "Eve", "Hans", "Ioana", "Kenji",
];

/// The lowercase ASCII form of a surname for uid and mail (IA5 String).
fn ascii(sn: &str) -> String {
    sn.to_lowercase().replace('ü', "ue")
}

fn attr(d: &str, v: &str) -> Attribute {
    Attribute {
        desc: d.into(),
        values: vec![v.as_bytes().to_vec()],
    }
}

fn axigen_indexes() -> IndexConfig {
    let k = |ks: &[IndexKind]| ks.iter().copied().collect::<BTreeSet<_>>();
    let eps = k(&[
        IndexKind::Equality,
        IndexKind::Presence,
        IndexKind::Substrings,
    ]);
    let mut attrs = vec![(
        "objectClass".to_string(),
        k(&[IndexKind::Equality, IndexKind::Presence]),
    )];
    for a in ["ou", "cn", "mail", "sn", "givenName"] {
        attrs.push((a.to_string(), eps.clone()));
    }
    attrs.push(("entryUUID".into(), k(&[IndexKind::Equality])));
    attrs.push(("entryCSN".into(), k(&[IndexKind::Equality])));
    IndexConfig {
        attrs,
        substr: Default::default(),
    }
}

fn store(n: usize, indexed: bool) -> Store {
    let schema = Arc::new(Schema::builtin());
    let suffix = Dn::parse("dc=localdomain,dc=test").expect("suffix");
    let opts = StoreOptions {
        suffixes: vec![suffix.clone()],
        server_id: 0,
        durable: false,
        fixed_clock: None,
        overlays: Default::default(),
        indexes: if indexed {
            axigen_indexes()
        } else {
            IndexConfig::default()
        },
        changelog_limit: Some(1000),
    };
    let s = Store::open_temporary(schema, opts).expect("store");
    let ctx = WriteCtx::default();
    let mut top = Entry::new(suffix.clone());
    top.attrs = vec![
        Attribute {
            desc: "objectClass".into(),
            values: vec![b"organization".to_vec(), b"dcObject".to_vec()],
        },
        attr("o", "localdomain.test"),
        attr("dc", "localdomain"),
    ];
    s.add(top, &ctx).expect("suffix");
    let mut ou = Entry::new(Dn::parse("ou=Users,dc=localdomain,dc=test").expect("dn"));
    ou.attrs = vec![
        attr("objectClass", "organizationalUnit"),
        attr("ou", "Users"),
    ];
    s.add(ou, &ctx).expect("ou");
    // The users go in as a bulk load (1,024 per write), as `oxldap import` does.
    let mut adder = s.bulk_add(WriteCtx::default());
    for i in 0..n {
        let sn = SURNAMES[i % SURNAMES.len()];
        let gn = GIVEN[(i / 8) % GIVEN.len()];
        let uid = format!("{}.{}.{i}", gn.to_lowercase(), ascii(sn));
        let mut e = Entry::new(
            Dn::parse(&format!("uid={uid},ou=Users,dc=localdomain,dc=test")).expect("dn"),
        );
        e.attrs = vec![
            attr("objectClass", "inetOrgPerson"),
            attr("uid", &uid),
            attr("cn", &format!("{gn} {sn} {i}")),
            attr("sn", sn),
            attr("givenName", gn),
            attr("mail", &format!("{uid}@localdomain.test")),
        ];
        adder.push(i, e).expect("user");
    }
    adder.finish().expect("users");
    s
}

fn count(s: &Store, filter: &str) -> usize {
    let f = Filter::parse(filter).expect("filter");
    let base = Dn::parse("dc=localdomain,dc=test").expect("base");
    let mut n = 0;
    s.search(&base, Scope::Sub, &f, |_| {
        n += 1;
        SearchControl::Continue
    })
    .expect("search");
    n
}

fn searches(c: &mut Criterion) {
    let mut g = c.benchmark_group("search");
    g.sample_size(10);
    // `cargo test --all-targets` runs benches once in test mode (no `--bench` argument):
    // keep that to the smallest size so the test suite stays fast.
    let sizes: &[usize] = if std::env::args().any(|a| a == "--bench") {
        &[1_000, 10_000, 100_000]
    } else {
        &[1_000]
    };
    for &n in sizes {
        for indexed in [true, false] {
            let s = store(n, indexed);
            let label = if indexed { "indexed" } else { "unindexed" };
            if !indexed {
                // Every entry read and decoded once, no filter: a full scan's floor.
                g.bench_with_input(BenchmarkId::new("scan/iter_entries", n), &s, |b, s| {
                    b.iter(|| s.iter_entries().filter(|e| e.is_ok()).count())
                });
            }
            for (name, filter) in [
                ("eq", format!("(cn=Ana Horvat {})", n / 2)),
                ("sub", "(mail=*horvat.12*)".to_string()),
                (
                    "and-pres",
                    "(&(objectClass=inetOrgPerson)(sn=Wang)(mail=*))".to_string(),
                ),
            ] {
                g.bench_with_input(
                    BenchmarkId::new(format!("{name}/{label}"), n),
                    &filter,
                    |b, f| b.iter(|| count(&s, f)),
                );
            }
        }
    }
    g.finish();
}

fn adds(c: &mut Criterion) {
    let mut g = c.benchmark_group("add");
    g.sample_size(10);
    for indexed in [true, false] {
        let s = store(1_000, indexed);
        let mut i = 1_000_000u64;
        let label = if indexed { "indexed" } else { "unindexed" };
        g.bench_function(label, |b| {
            b.iter(|| {
                i += 1;
                let uid = format!("bench.{i}");
                let mut e = Entry::new(
                    Dn::parse(&format!("uid={uid},ou=Users,dc=localdomain,dc=test")).expect("dn"),
                );
                e.attrs = vec![
                    attr("objectClass", "inetOrgPerson"),
                    attr("uid", &uid),
                    attr("cn", &format!("Bench User {i}")),
                    attr("sn", "User"),
                    attr("mail", &format!("{uid}@localdomain.test")),
                ];
                s.add(e, &WriteCtx::default()).expect("add");
            })
        });
    }
    g.finish();
}

fn modifies(c: &mut Criterion) {
    use oxldap_store::{Mod, ModOp};
    let mut g = c.benchmark_group("modify");
    g.sample_size(10);
    for indexed in [true, false] {
        let s = store(1_000, indexed);
        let mut i = 0usize;
        let label = if indexed { "indexed" } else { "unindexed" };
        g.bench_function(label, |b| {
            b.iter(|| {
                i += 1;
                let n = i % 1_000;
                let sn = SURNAMES[n % SURNAMES.len()];
                let gn = GIVEN[(n / 8) % GIVEN.len()];
                let uid = format!("{}.{}.{n}", gn.to_lowercase(), ascii(sn));
                let dn =
                    Dn::parse(&format!("uid={uid},ou=Users,dc=localdomain,dc=test")).expect("dn");
                let m = Mod {
                    op: ModOp::Replace,
                    attr: attr("mail", &format!("{uid}.{i}@localdomain.test")),
                };
                s.modify(&dn, vec![m], &WriteCtx::default())
                    .expect("modify");
            })
        });
    }
    g.finish();
}

criterion_group!(benches, searches, adds, modifies);
criterion_main!(benches);
