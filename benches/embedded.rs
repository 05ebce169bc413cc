//! Benchmarks of the embedded harness (BENCHMARKS.md records the figures):
//! start to first search (empty directory and the 1,000-user fixture), snapshot restore
//! of a 1,000-entry directory, and 100 servers started and stopped in parallel.
//!
//! `cargo bench --bench embedded -- --quick` runs it with the system allocator, which a
//! test binary has unless it chooses another; `--features bench-mimalloc` with mimalloc,
//! as the `oxldap` binary (a seeded start allocates a lot: glibc's malloc, with its
//! arena locks between the load's two threads, costs it about twice the time).
#![allow(clippy::unwrap_used, clippy::panic)]

#[cfg(feature = "bench-mimalloc")]
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use criterion::{criterion_group, criterion_main, Criterion};
use oxldap::{mods, Scope, Server};
use std::time::{Duration, Instant};

const USERS: &str = "ou=Users,o=localdomain,dc=localdomain,dc=test";

fn fixture() -> String {
    concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/axigen-1000.ldif"
    )
    .to_string()
}

/// Times `iters` calls of `start_and_search`, each from nothing to its first successful
/// search; `stop` shuts the server each call returns down and drops it after its clock
/// stops. (Criterion's `iter` would also time the shutdown, which the issue's "start to
/// first successful search" does not include; a plain drop would leave the shutdown and
/// the store's teardown running on the runtime's workers during the next start, timing
/// a part of it after all on two cores.)
fn timed_starts<S>(
    iters: u64,
    mut start_and_search: impl FnMut() -> S,
    mut stop: impl FnMut(S),
) -> Duration {
    let mut total = Duration::ZERO;
    for _ in 0..iters {
        let t = Instant::now();
        let server = start_and_search();
        total += t.elapsed();
        stop(server);
    }
    total
}

fn start(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let mut g = c.benchmark_group("start_to_first_search");
    g.sample_size(20);
    g.bench_function("empty_async", |b| {
        b.iter_custom(|iters| {
            timed_starts(
                iters,
                || {
                    rt.block_on(async {
                        let s = Server::builder().start().await.unwrap();
                        let found = s
                            .search(
                                "dc=localdomain,dc=test",
                                Scope::Base,
                                "(objectClass=*)",
                                &[],
                            )
                            .unwrap();
                        assert_eq!(found.len(), 1);
                        s
                    })
                },
                |s| rt.block_on(s.shutdown()).unwrap(),
            )
        })
    });
    g.bench_function("empty_blocking", |b| {
        b.iter_custom(|iters| {
            timed_starts(
                iters,
                || {
                    let s = Server::builder().start_blocking().unwrap();
                    assert_eq!(
                        s.search(
                            "dc=localdomain,dc=test",
                            Scope::Base,
                            "(objectClass=*)",
                            &[]
                        )
                        .unwrap()
                        .len(),
                        1
                    );
                    s
                },
                |s| s.shutdown().unwrap(),
            )
        })
    });
    g.sample_size(10);
    g.bench_function("axigen_1000", |b| {
        b.iter_custom(|iters| {
            timed_starts(
                iters,
                || {
                    rt.block_on(async {
                        let s = Server::builder()
                            .layout(false)
                            .ldif_file(fixture())
                            .start()
                            .await
                            .unwrap();
                        let found = s
                            .search(USERS, Scope::One, "(uid=sven.horvat.1)", &[])
                            .unwrap();
                        assert_eq!(found.len(), 1);
                        s
                    })
                },
                |s| rt.block_on(s.shutdown()).unwrap(),
            )
        })
    });
    g.finish();
}

fn restore(c: &mut Criterion) {
    let s = Server::builder()
        .layout(false)
        .ldif_file(fixture())
        .start_blocking()
        .unwrap();
    let snap = s.snapshot().unwrap();
    let other = Server::builder().layout(false).start_blocking().unwrap();
    let ana = format!("uid=sven.horvat.1,{USERS}");
    let mut g = c.benchmark_group("restore_1000_entries");
    g.sample_size(20);
    // A test's typical writes (one add, one modify), then the reset; only the reset is timed.
    g.bench_function("after_two_writes", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for i in 0..iters {
                s.add(format!(
                    "dn: uid=tmp{i},{USERS}\nobjectClass: inetOrgPerson\nuid: tmp{i}\ncn: t\nsn: t\nmail: t{i}@x.test\n"
                ).as_str())
                .unwrap();
                s.modify(&ana, [mods::replace("mail", ["changed@localdomain.test"])]).unwrap();
                let t = Instant::now();
                s.restore(&snap).unwrap();
                total += t.elapsed();
            }
            total
        })
    });
    g.bench_function("nothing_changed", |b| b.iter(|| s.restore(&snap).unwrap()));
    g.sample_size(10);
    // Into another server: every tree is cleared and refilled.
    g.bench_function("full_into_other_server", |b| {
        b.iter(|| other.restore(&snap).unwrap())
    });
    g.bench_function("take_snapshot", |b| b.iter(|| s.snapshot().unwrap()));
    g.finish();
    s.assert_search_dns(USERS, Scope::One, "(uid=tmp*)", &[]);
}

fn parallel(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let mut g = c.benchmark_group("parallel");
    g.sample_size(10);
    g.bench_function("100_servers_start_search_stop", |b| {
        b.iter(|| {
            rt.block_on(async {
                let tasks: Vec<_> = (0..100)
                    .map(|_| {
                        tokio::spawn(async {
                            let s = Server::builder().start().await?;
                            let n = s
                                .search(USERS, Scope::Base, "(objectClass=*)", &[])
                                .map_err(|e| std::io::Error::other(e.message.to_string()))?
                                .len();
                            s.shutdown()
                                .await
                                .map_err(|e| std::io::Error::other(e.to_string()))?;
                            Ok::<usize, Box<dyn std::error::Error + Send + Sync>>(n)
                        })
                    })
                    .collect();
                let mut failures = 0;
                for t in tasks {
                    match t.await {
                        Ok(Ok(1)) => {}
                        _ => failures += 1,
                    }
                }
                assert_eq!(failures, 0, "servers failed to start, search or stop");
            })
        })
    });
    g.finish();
}

criterion_group!(benches, start, restore, parallel);
criterion_main!(benches);
