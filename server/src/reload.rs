//! What `SIGHUP` may change in a running server: the parts of the configuration that can
//! change safely (search limits now; the log level is applied by the binary, which owns
//! the log subscriber), and the list of everything else that differs and needs a restart.
//!
//! slapd itself has no SIGHUP reload (it re-reads nothing); this follows what operators
//! expect of a Unix daemon, and says in the log exactly what it did not apply.

use crate::config::Config;
use crate::directory::{Directory, Limits};

/// The outcome of [`apply`]: what was applied and what needs a restart.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Report {
    /// Settings applied, as `name old -> new`.
    pub applied: Vec<String>,
    /// Names of the changed settings that were not applied (restart needed).
    pub not_applied: Vec<String>,
}

/// Applies the reloadable differences between `old` and `new` (the configuration the
/// server runs and the one just read) to `dir`, and lists the rest. `loglevel` is neither
/// applied nor listed here: the caller applies it.
pub fn apply(dir: &Directory, old: &Config, new: &Config) -> Report {
    let mut report = Report::default();
    let limits = |c: &Config| {
        c.database().map(|db| Limits {
            size: db.size_limit,
            time: db.time_limit,
        })
    };
    if let Some(l) = limits(new) {
        let cur = dir.limits();
        if cur.size != l.size {
            report
                .applied
                .push(format!("sizelimit {} -> {}", show(cur.size), show(l.size)));
        }
        if cur.time != l.time {
            report
                .applied
                .push(format!("timelimit {} -> {}", show(cur.time), show(l.time)));
        }
        dir.set_limits(l);
    }
    // Everything else: compare with the reloadable parts made equal.
    let mut rest = new.clone();
    rest.loglevel.clone_from(&old.loglevel);
    rest.size_limit = old.size_limit;
    rest.time_limit = old.time_limit;
    for (r, o) in rest.databases.iter_mut().zip(&old.databases) {
        r.size_limit = o.size_limit;
        r.time_limit = o.time_limit;
        // Where a directive sits in the file does not matter.
        r.line = o.line;
    }
    macro_rules! differs {
        ($($field:ident),*) => {$(
            if rest.$field != old.$field {
                report.not_applied.push(stringify!($field).to_string());
            }
        )*};
    }
    differs!(
        includes,
        allow,
        disallow,
        modules,
        module_path,
        pidfile,
        argsfile,
        server_id,
        server_id_url,
        idle_timeout,
        password_hash,
        tls,
        access
    );
    if rest.databases.len() != old.databases.len() {
        report.not_applied.push("database sections".to_string());
    }
    for (r, o) in rest.databases.iter().zip(&old.databases) {
        macro_rules! db_differs {
            ($($field:ident),*) => {$(
                if r.$field != o.$field {
                    report.not_applied.push(format!("database {}", stringify!($field)));
                }
            )*};
        }
        db_differs!(
            backend,
            suffix,
            rootdn,
            rootpw,
            directory,
            checkpoint,
            indexes,
            substr_tunables,
            overlays,
            limits,
            access,
            lastmod,
            readonly,
            max_size
        );
    }
    report
}

fn show(l: Option<u32>) -> String {
    l.map_or_else(|| "unlimited".to_string(), |n| n.to_string())
}
