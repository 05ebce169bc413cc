//! Write throughput of a durable store with several concurrent writers, with group commit
//! (the store's own path: writers share a flush) and without it (emulated by serializing
//! each whole write, flush included, behind one outer lock: one flush per write, as before
//! group commit), plus `dbnosync` (no flush) for scale.
//!
//! Run: `cargo bench --bench group_commit` (release) or, quicker to build,
//! `cargo bench --profile dev --bench group_commit`. `WRITERS` (default 8) and `SECS`
//! (default 5) tune it. Prints one line per mode with writes/s.

use oxldap_proto::{Attribute, Dn, Entry};
use oxldap_schema::Schema;
use oxldap_store::{Store, StoreOptions, WriteCtx};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

fn attr(d: &str, v: &str) -> Attribute {
    Attribute {
        desc: d.into(),
        values: vec![v.as_bytes().to_vec()],
    }
}

fn open(dir: &std::path::Path, durable: bool) -> Store {
    let suffix = Dn::parse("dc=test").expect("suffix");
    let opts = StoreOptions {
        suffixes: vec![suffix.clone()],
        server_id: 0,
        durable,
        fixed_clock: None,
        overlays: Default::default(),
        indexes: Default::default(),
        changelog_limit: Some(1000),
    };
    let s = Store::open(dir, Arc::new(Schema::builtin()), opts).expect("store");
    let mut top = Entry::new(suffix);
    top.attrs = vec![
        Attribute {
            desc: "objectClass".into(),
            values: vec![b"organization".to_vec(), b"dcObject".to_vec()],
        },
        attr("o", "test"),
        attr("dc", "test"),
    ];
    s.add(top, &WriteCtx::default()).expect("suffix");
    s
}

/// Writes/s of `writers` threads adding entries for `secs`; `outer` serializes each
/// whole write (flush included) when given.
fn run(store: Arc<Store>, writers: usize, secs: u64, outer: Option<Arc<Mutex<()>>>) -> f64 {
    let stop = Arc::new(AtomicBool::new(false));
    let done = Arc::new(AtomicU64::new(0));
    let threads: Vec<_> = (0..writers)
        .map(|w| {
            let (store, stop, done, outer) =
                (store.clone(), stop.clone(), done.clone(), outer.clone());
            std::thread::spawn(move || {
                let mut i = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    let uid = format!("w{w}n{i}");
                    let mut e = Entry::new(Dn::parse(&format!("uid={uid},dc=test")).expect("dn"));
                    e.attrs = vec![
                        attr("objectClass", "inetOrgPerson"),
                        attr("uid", &uid),
                        attr("cn", &uid),
                        attr("sn", "x"),
                    ];
                    let _g = outer.as_ref().map(|o| o.lock().expect("outer lock"));
                    store.add(e, &WriteCtx::default()).expect("add");
                    done.fetch_add(1, Ordering::Relaxed);
                    i += 1;
                }
            })
        })
        .collect();
    let start = Instant::now();
    std::thread::sleep(Duration::from_secs(secs));
    stop.store(true, Ordering::Relaxed);
    for t in threads {
        t.join().expect("writer");
    }
    done.load(Ordering::Relaxed) as f64 / start.elapsed().as_secs_f64()
}

fn main() {
    let env = |k: &str, d: u64| {
        std::env::var(k)
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(d)
    };
    let writers = usize::try_from(env("WRITERS", 8)).unwrap_or(8);
    let secs = env("SECS", 5);
    for (name, durable, serialize) in [
        ("one flush per write (no group commit)", true, true),
        ("group commit", true, false),
        ("dbnosync (no flush)", false, false),
    ] {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = Arc::new(open(dir.path(), durable));
        let outer = serialize.then(|| Arc::new(Mutex::new(())));
        let rate = run(store, writers, secs, outer);
        println!("{name:40} {writers} writers: {rate:8.0} writes/s");
    }
}
