//! Running as a system service: logging (stderr, journald-friendly), the slapd `-d` and
//! `loglevel` mapping onto tracing levels, the `pidfile`/`argsfile` files, and the SIGHUP
//! reload.
//!
//! Logs go to stderr, one event per line, with no ANSI colours unless stderr is a
//! terminal, so systemd's journal stores them as plain lines (the unit in
//! `contrib/oxldap.service` adds the timestamps; `SyslogLevelPrefix` is not needed).

use anyhow::{Context, Result};
use std::path::{Path, PathBuf};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{reload, EnvFilter, Registry};

/// Swaps the log filter of the running process (SIGHUP); set once by [`init_logging`].
static FILTER: std::sync::OnceLock<reload::Handle<EnvFilter, Registry>> =
    std::sync::OnceLock::new();

/// What slapd `-d` / `loglevel` values ask for: a tracing level, and whether slapd's
/// `stats` lines are logged (one per connection, per operation request and per result;
/// see `oxldap_server::stats`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LogLevel {
    /// The tracing level: `error`, `warn`, `info`, `debug` or `trace`.
    pub level: &'static str,
    /// Whether the `stats` target logs (slapd's `stats` level, 256, or `-1`/`any`).
    pub stats: bool,
}

/// The tracing level for slapd `-d` / `loglevel` values (slapd.conf(5) "loglevel"); the
/// most verbose of several wins. Tracing names (`error`, `warn`, `info`, `debug`,
/// `trace`) pass through. Numbers may be decimal or `0x` hex and combine bits:
///
/// | slapd level                                   | tracing level |
/// |-----------------------------------------------|---------------|
/// | `-1`, `any`, `trace`                          | trace         |
/// | `0`, `none`                                   | warn          |
/// | `stats` (256), `stats2` (512), `sync` (16384) | info          |
/// | any other level or bit (`packets`=2, `args`=4, `conns`=8, `BER`=16, `filter`=32, `config`=64, `acl`=128, `shell`=1024, `parse`=2048, `cache`=4096, `index`=8192) | debug |
///
/// An empty list is `info`, the default. The `stats` lines are on when a value includes
/// slapd's `stats` bit (256, `stats`, `-1`, `any`): slapd's default level is `stats`,
/// written to syslog; oxldap writes to stderr and keeps them off unless asked for.
pub fn tracing_level(levels: &[String]) -> LogLevel {
    const ORDER: [&str; 5] = ["error", "warn", "info", "debug", "trace"];
    let one = |l: &str| -> (&'static str, bool) {
        let lower = l.to_ascii_lowercase();
        match lower.as_str() {
            "error" => return ("error", false),
            "warn" => return ("warn", false),
            "info" => return ("info", false),
            "debug" => return ("debug", false),
            // slapd's `trace` (1) traces function calls: the most verbose here too.
            "trace" => return ("trace", false),
            "any" => return ("trace", true),
            "none" => return ("warn", false),
            "stats" => return ("info", true),
            "stats2" | "sync" => return ("info", false),
            _ => {}
        }
        let n = match lower.strip_prefix("0x") {
            Some(hex) => i64::from_str_radix(hex, 16).ok(),
            None => lower.parse::<i64>().ok(),
        };
        let stats = n.is_some_and(|n| n == -1 || (n > 0 && n & 256 != 0));
        let level = match n {
            Some(-1) => "trace",
            Some(0) => "warn",
            Some(n) if n > 0 && n & !(256 | 512 | 16384) == 0 => "info",
            // Other slapd levels and bits (names such as `conns`, `acl`, `filter`).
            _ => "debug",
        };
        (level, stats)
    };
    let all: Vec<(&'static str, bool)> = levels.iter().map(|l| one(l)).collect();
    LogLevel {
        level: all
            .iter()
            .map(|(l, _)| *l)
            .max_by_key(|l| ORDER.iter().position(|o| o == l))
            .unwrap_or("info"),
        stats: all.iter().any(|(_, s)| *s),
    }
}

/// The filter directive for a level: the level, with `ldap3_proto` silenced (it logs every
/// undecodable client message at error level; the server logs those itself, at info, so a
/// client cannot fill the error log), sled's internals kept to warnings below `trace`
/// (its debug events drown the server's), and the `stats` target on only when asked for.
/// `RUST_LOG` is used instead when set and no level was asked for.
fn directive(level: Option<LogLevel>) -> String {
    let mut d = match level {
        Some(l) => l.level.to_string(),
        None => std::env::var("RUST_LOG").unwrap_or_else(|_| "info".to_string()),
    };
    if !d.contains("ldap3_proto") {
        d.push_str(",ldap3_proto=off");
    }
    if !d.contains("sled") && !level.is_some_and(|l| l.level == "trace") {
        d.push_str(",sled=warn");
    }
    if !d.contains("stats") {
        let stats = level.is_some_and(|l| l.stats);
        d.push_str(if stats { ",stats=info" } else { ",stats=off" });
    }
    d
}

/// Installs the stderr subscriber at `level` (None: `RUST_LOG` or info).
pub fn init_logging(level: Option<LogLevel>) {
    let (filter, handle) = reload::Layer::new(EnvFilter::new(directive(level)));
    let fmt = tracing_subscriber::fmt::layer()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()));
    if tracing_subscriber::registry()
        .with(filter)
        .with(fmt)
        .try_init()
        .is_ok()
    {
        let _ = FILTER.set(handle);
    }
}

/// Changes the log level of the running process.
pub fn set_log_level(level: LogLevel) -> Result<()> {
    let handle = FILTER.get().context("logging is not initialised")?;
    handle
        .reload(EnvFilter::new(directive(Some(level))))
        .context("cannot change the log level")
}

/// The `pidfile` and `argsfile` (slapd.conf(5)) of a running server: written at start,
/// removed when dropped at a clean shutdown.
#[derive(Debug, Default)]
pub struct RunFiles {
    /// The files written, removed on drop.
    written: Vec<PathBuf>,
}

impl RunFiles {
    /// Writes the process id to `pidfile` and the command line to `argsfile` (both
    /// optional), each followed by a newline, as slapd.
    pub fn write(pidfile: Option<&Path>, argsfile: Option<&Path>) -> Result<RunFiles> {
        let mut files = RunFiles::default();
        if let Some(p) = pidfile {
            write_atomically(p, &format!("{}\n", std::process::id()))?;
            files.written.push(p.to_path_buf());
        }
        if let Some(p) = argsfile {
            let args: Vec<String> = std::env::args().collect();
            write_atomically(p, &format!("{}\n", args.join(" ")))?;
            files.written.push(p.to_path_buf());
        }
        Ok(files)
    }
}

impl Drop for RunFiles {
    fn drop(&mut self) {
        for p in &self.written {
            if let Err(e) = std::fs::remove_file(p) {
                tracing::warn!(path = %p.display(), error = %e, "cannot remove");
            }
        }
    }
}

/// Writes `text` to `path` through a temporary file and a rename, so a reader never sees
/// half of it.
pub fn write_atomically(path: &Path, text: &str) -> Result<()> {
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    let tmp = PathBuf::from(tmp);
    std::fs::write(&tmp, text).with_context(|| format!("cannot write {}", tmp.display()))?;
    std::fs::rename(&tmp, path).with_context(|| format!("cannot write {}", path.display()))?;
    Ok(())
}

#[cfg(unix)]
/// Re-reads the configuration file on SIGHUP and applies what can change safely: the
/// log level (unless `-d` fixed it on the command line) and the search limits. Logs what
/// it applied and, at warn, what it did not (those need a restart). Runs until the
/// process ends.
pub async fn reload_on_hangup(
    mut hup: tokio::signal::unix::Signal,
    dir: std::sync::Arc<oxldap_server::Directory>,
    config_path: Option<PathBuf>,
    mut current: oxldap_server::config::Config,
    level_from_command_line: bool,
) {
    while hup.recv().await.is_some() {
        let Some(path) = &config_path else {
            tracing::warn!("SIGHUP: no configuration file (-f) to re-read; nothing to reload");
            continue;
        };
        let new = match oxldap_server::config::load(path) {
            Ok(c) => c,
            Err(e) => {
                tracing::error!(error = %e, "SIGHUP: cannot read the configuration; nothing changed");
                continue;
            }
        };
        let d = dir.clone();
        let (old, next) = (current.clone(), new.clone());
        let report = match tokio::task::spawn_blocking(move || {
            oxldap_server::reload::apply(&d, &old, &next)
        })
        .await
        {
            Ok(r) => r,
            Err(e) => {
                tracing::error!(error = %e, "SIGHUP: reload failed");
                continue;
            }
        };
        let mut applied = report.applied;
        if new.loglevel != current.loglevel {
            let level = tracing_level(&new.loglevel);
            if level_from_command_line {
                tracing::warn!(
                    "SIGHUP: loglevel not applied: -d on the command line sets the log level"
                );
            } else {
                match set_log_level(level) {
                    Ok(()) => applied.push(format!("loglevel {}", new.loglevel.join(" "))),
                    Err(e) => tracing::warn!(error = %e, "SIGHUP: loglevel not applied"),
                }
            }
        }
        tracing::info!(
            applied = %if applied.is_empty() { "nothing".to_string() } else { applied.join(", ") },
            "SIGHUP: configuration reloaded"
        );
        if !report.not_applied.is_empty() {
            tracing::warn!(
                not_applied = %report.not_applied.join(", "),
                "SIGHUP: changed settings not applied; restart the server to apply them"
            );
        }
        current = new;
    }
}
