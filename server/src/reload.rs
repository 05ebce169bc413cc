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
    let cur = dir.limits();
    let limits = |c: &Config| {
        c.database().map(|db| Limits {
            // The listener sizes its connection limit at start.
            conn_max: cur.conn_max,
            ..Limits::of(c, db)
        })
    };
    if let Some(l) = limits(new) {
        if cur.size_hard != l.size_hard || cur.time_hard != l.time_hard {
            report.applied.push("hard size/time limits".to_string());
        }
        if cur.idle_timeout != l.idle_timeout {
            report
                .applied
                .push(format!("idletimeout {}", new.idle_timeout));
        }
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
    rest.idle_timeout = old.idle_timeout;
    for (r, o) in rest.databases.iter_mut().zip(&old.databases) {
        r.size_limit = o.size_limit;
        r.time_limit = o.time_limit;
        r.size_limit_hard = o.size_limit_hard;
        r.time_limit_hard = o.time_limit_hard;
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
