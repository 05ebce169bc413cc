//! The `oxldap` command: slapd-like subcommands sharing `-f CONFIG` and the same defaults.
//!
//! - `serve`: run the server (slapd);
//! - `import`: load LDIF offline into the configured database (slapadd);
//! - `export`: write the database as LDIF to stdout (slapcat);
//! - `backup` / `restore`: consistent LDIF copies, also of a running server.

use anyhow::{bail, Context, Result};
use clap::{Args, Parser, Subcommand};
use oxldap_proto::ldif::{write_entry, LdifReader, LdifRecord};
use oxldap_server::config::{self, Config};
use oxldap_server::{CancellationToken, Directory, OpenOptions, ServeOptions};
use std::io::{BufReader, Write};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

mod backup;
mod import;
mod service;

/// mimalloc: a search allocates per attribute value, and glibc's allocator took about a
/// fifth of the server's CPU under load (BENCHMARKS.md).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// The URL `serve` listens on when no `-h` is given.
const DEFAULT_URL: &str = "ldap://127.0.0.1:3389/";

#[derive(Parser, Debug)]
#[command(
    name = "oxldap",
    version,
    about = "An LDAP directory server (slapd-compatible configuration)"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Args, Debug, Clone)]
struct Common {
    /// slapd.conf-style configuration file; without it the embedded default (the Axigen
    /// layout on dc=localdomain,dc=test, data in ./oxldap-data) is used.
    #[arg(short = 'f', long = "config")]
    config: Option<PathBuf>,
    /// Data folder, overriding the configuration's `directory`.
    #[arg(long = "data-dir")]
    data_dir: Option<PathBuf>,
    /// Log level: error, warn, info, debug, trace, or a slapd -d number (-1 = everything).
    #[arg(short = 'd', long = "debug", allow_hyphen_values = true)]
    debug: Option<String>,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Run the LDAP server.
    #[command(disable_help_flag = true)]
    Serve {
        /// Print help (`-h` is the listen URL, as in slapd).
        #[arg(long = "help", action = clap::ArgAction::Help)]
        help: Option<bool>,
        #[command(flatten)]
        common: Common,
        /// Listen URL(s), like slapd -h: `ldap://HOST:PORT/`, space-separated.
        #[arg(short = 'h', long = "url", default_value = DEFAULT_URL)]
        url: String,
        /// Run on a temporary in-memory database that vanishes on exit.
        #[arg(long)]
        memory: bool,
        /// Load this LDIF file after start-up (repeatable), as the rootdn.
        #[arg(long = "ldif")]
        ldif: Vec<PathBuf>,
        /// Do not create the suffix and the Axigen layout on an empty database (they are
        /// not created either when the first --ldif file starts with the suffix entry).
        #[arg(long = "no-layout")]
        no_layout: bool,
        /// Largest request accepted from a bound connection, in bytes (slapd's
        /// sockbuf_max_incoming_auth); an anonymous one may send at most 262,143 bytes
        /// (sockbuf_max_incoming) or this, whichever is smaller.
        #[arg(long = "max-pdu", default_value_t = oxldap_proto::codec::DEFAULT_MAX_PDU)]
        max_pdu: usize,
        /// Print the URL listened on as the first line of stdout once connections are
        /// accepted (always done; the flag is accepted for scripts that ask for it).
        #[arg(long = "print-url")]
        print_url: bool,
        /// Once listening, write the URL(s) listened on, one per line, to this file
        /// (written to a temporary file and renamed, so readers never see half of it).
        /// A file left there by an earlier run is removed at start, and this one at a
        /// clean shutdown.
        #[arg(long = "ready-file")]
        ready_file: Option<PathBuf>,
        /// Write the process id to this file (overrides the `pidfile` directive); removed
        /// at a clean shutdown.
        #[arg(long = "pidfile")]
        pidfile: Option<PathBuf>,
    },
    /// Write a consistent point-in-time copy of the database as LDIF to DEST: from the
    /// running server over LDAP (as the rootdn) when it holds the data folder, otherwise
    /// directly from the folder.
    Backup {
        #[command(flatten)]
        common: Common,
        /// The running server's URL (default: the folder if no server holds it, else
        /// ldap://127.0.0.1:3389/).
        #[arg(short = 'H', long = "url")]
        url: Option<String>,
        /// A file whose first line is the rootdn's password (when rootpw is hashed).
        #[arg(short = 'y', long = "password-file")]
        password_file: Option<PathBuf>,
        /// The LDIF file to write.
        dest: PathBuf,
    },
    /// Load a backup made by `oxldap backup` into the (stopped) database, keeping
    /// entryUUIDs, entryCSNs and the contextCSN.
    Restore {
        #[command(flatten)]
        common: Common,
        /// Replace the entries of a database that is not empty.
        #[arg(long)]
        force: bool,
        /// The LDIF file written by `oxldap backup`.
        src: PathBuf,
    },
    /// Load an LDIF file into the database offline (like slapadd).
    Import {
        #[command(flatten)]
        common: Common,
        /// The LDIF file (`-` for stdin).
        file: PathBuf,
        /// Continue mode (slapadd -c): report each record that cannot be added (DN, line,
        /// result code, reason), skip it and load the rest; exit status 1 if any was
        /// skipped.
        #[arg(short = 'c', long = "continue")]
        keep_going: bool,
    },
    /// Write the database as LDIF (like slapcat), parents before children.
    Export {
        #[command(flatten)]
        common: Common,
        /// Write to this file instead of stdout (slapcat -l).
        #[arg(short = 'l', long = "output")]
        output: Option<PathBuf>,
        /// Only the entries of this subtree (slapcat -s).
        #[arg(short = 's', long = "subtree")]
        subtree: Option<String>,
        /// Only the entries this RFC 4515 filter matches, tested on the stored entry,
        /// operational attributes included (slapcat -a).
        #[arg(short = 'a', long = "filter")]
        filter: Option<String>,
    },
    /// Rebuild every index from the entries (like slapindex), offline.
    Index {
        #[command(flatten)]
        common: Common,
    },
    /// Check the database's consistency (DN trees, indexes, schema, memberOf), offline.
    Verify {
        #[command(flatten)]
        common: Common,
    },
    /// Show how a search would use the indexes, and how many entries it returns.
    Explain {
        #[command(flatten)]
        common: Common,
        /// Search base (default: the suffix).
        #[arg(short = 'b', long = "base")]
        base: Option<String>,
        /// Scope: base, one, sub or children.
        #[arg(short = 's', long = "scope", default_value = "sub")]
        scope: String,
        /// RFC 4515 filter.
        filter: String,
    },
    /// Schema tools.
    Schema {
        #[command(subcommand)]
        command: SchemaCommand,
    },
}

#[derive(Subcommand, Debug)]
enum SchemaCommand {
    /// Parse OpenLDAP .schema (or schema LDIF) files in order, on top of the system
    /// schema, as `include` lines would, and report each one.
    Check {
        /// The files, in dependency order (e.g. core.schema cosine.schema ...).
        files: Vec<PathBuf>,
    },
    /// Print an attribute type or object class of the configured schema; for an object
    /// class also its inherited MUST and MAY attributes.
    Show {
        #[command(flatten)]
        common: Common,
        /// A name or OID.
        name: String,
    },
}

fn main() {
    let cli = Cli::parse();
    let debug = match &cli.command {
        Command::Serve { common, .. }
        | Command::Import { common, .. }
        | Command::Export { common, .. }
        | Command::Backup { common, .. }
        | Command::Restore { common, .. }
        | Command::Index { common }
        | Command::Verify { common }
        | Command::Explain { common, .. }
        | Command::Schema {
            command: SchemaCommand::Show { common, .. },
        } => common.debug.clone(),
        Command::Schema {
            command: SchemaCommand::Check { .. },
        } => None,
    };
    // Without -d, the configuration's loglevel (if it reads) sets the level.
    let level = match (&debug, &cli.command) {
        (Some(d), _) => Some(service::tracing_level(std::slice::from_ref(d))),
        (None, Command::Serve { common, .. }) => load_config(common)
            .ok()
            .filter(|c| !c.loglevel.is_empty())
            .map(|c| service::tracing_level(&c.loglevel)),
        _ => None,
    };
    service::init_logging(level);
    let outcome = match cli.command {
        Command::Serve {
            help: _,
            common,
            url,
            memory,
            ldif,
            no_layout,
            max_pdu,
            print_url: _,
            ready_file,
            pidfile,
        } => serve(
            &common,
            &url,
            memory,
            &ldif,
            no_layout,
            max_pdu,
            ready_file.as_deref(),
            pidfile.as_deref(),
        ),
        Command::Backup {
            common,
            url,
            password_file,
            dest,
        } => backup(&common, url.as_deref(), password_file.as_deref(), &dest),
        Command::Restore { common, force, src } => restore(&common, &src, force),
        Command::Import {
            common,
            file,
            keep_going,
        } => import(&common, &file, keep_going),
        Command::Export {
            common,
            output,
            subtree,
            filter,
        } => export(
            &common,
            output.as_deref(),
            subtree.as_deref(),
            filter.as_deref(),
        ),
        Command::Index { common } => reindex(&common),
        Command::Verify { common } => verify(&common),
        Command::Explain {
            common,
            base,
            scope,
            filter,
        } => explain(&common, base.as_deref(), &scope, &filter),
        Command::Schema { command } => match command {
            SchemaCommand::Check { files } => schema_check(&files),
            SchemaCommand::Show { common, name } => schema_show(&common, &name),
        },
    };
    if let Err(e) = outcome {
        eprintln!("oxldap: {e:#}");
        std::process::exit(1);
    }
}

fn load_config(common: &Common) -> Result<Config> {
    match &common.config {
        Some(path) => config::load(path).map_err(|e| anyhow::anyhow!("{e}")),
        None => Ok(Config::default_embedded()),
    }
}

fn open(common: &Common, memory: bool) -> Result<Directory> {
    open_with(&load_config(common)?, common, memory)
}

/// [`open`] for the commands that read a database (export, index, verify, explain, an
/// offline backup): a data folder that does not exist or holds no database is an error,
/// as slapcat's "invalid path", instead of a new empty database that a mistyped
/// `--data-dir` would silently create (and, say, back up as 0 entries).
fn open_existing(common: &Common) -> Result<Directory> {
    let cfg = load_config(common)?;
    require_database(&cfg, common)?;
    open_with(&cfg, common, false)
}

/// The data folder `common` and `cfg` name.
fn data_dir(cfg: &Config, common: &Common) -> PathBuf {
    common
        .data_dir
        .clone()
        .or_else(|| cfg.database().and_then(|db| db.directory.clone()))
        .unwrap_or_else(|| PathBuf::from("oxldap-data"))
}

/// For `serve`, which creates a database in an empty or missing folder: errors when the
/// folder holds sled's data file `db` without its `conf` (tester11 finding 13). sled
/// would write a new `conf` with its defaults and serve the data under them; `verify` and
/// `export` already refuse such a folder ([`require_database`]), and so does this.
fn refuse_partial_database(cfg: &Config, common: &Common) -> Result<()> {
    let dir = data_dir(cfg, common);
    if dir.join("db").exists() && !dir.join("conf").is_file() {
        bail!(
            "no database in {}: the folder holds sled's `db` file but not its `conf` \
             (damaged or partly copied); restore it from a backup (`oxldap restore`) or \
             point -f/--data-dir at a complete folder",
            dir.display()
        );
    }
    Ok(())
}

/// Errors unless the data folder `common` and `cfg` name holds a database.
fn require_database(cfg: &Config, common: &Common) -> Result<()> {
    let dir = data_dir(cfg, common);
    // sled keeps its configuration in `conf` and its data in `db`.
    if !dir.join("conf").is_file() || !dir.join("db").is_file() {
        bail!(
            "no database in {}: the folder does not exist or holds no oxldap database              (check -f and --data-dir)",
            dir.display()
        );
    }
    Ok(())
}

/// [`open`] with the configuration already read.
fn open_with(cfg: &Config, common: &Common, memory: bool) -> Result<Directory> {
    let opts = OpenOptions {
        memory,
        data_dir: common.data_dir.clone(),
        fixed_clock: None,
    };
    Directory::open(cfg, &opts).map_err(|e| anyhow::anyhow!("{e}"))
}

/// Parses slapd-style listen URLs: `ldap://host:port/` (389 by default) and
/// `ldaps://host:port/` (636 by default; TLS from the first byte); `ldap:///` is all
/// IPv4 interfaces (`ldap://[::]:389/` is all interfaces on a dual-stack host). A host
/// name is served on every address it resolves to, as slapd does (`localhost`: 127.0.0.1
/// and ::1), except with port 0, where each address would get its own ephemeral port:
/// then the first. Returns each address with whether it is `ldaps://`.
pub(crate) fn listen_addrs(urls: &str) -> Result<Vec<(SocketAddr, bool)>> {
    let mut out = Vec::new();
    for url in urls.split_whitespace() {
        let (rest, ldaps, port) = if let Some(rest) = url.strip_prefix("ldap://") {
            (rest, false, 389)
        } else if let Some(rest) = url.strip_prefix("ldaps://") {
            (rest, true, 636)
        } else {
            bail!("unsupported listen URL {url:?}: only ldap:// and ldaps:// are supported (ldapi:// is not yet)");
        };
        let hostport = rest.split('/').next().unwrap_or("");
        let hostport = if hostport.is_empty() {
            format!("0.0.0.0:{port}")
        } else {
            hostport.to_string()
        };
        let hostport = if hostport.contains(':') && !hostport.ends_with(']') {
            hostport
        } else {
            format!("{hostport}:{port}")
        };
        let addrs: Vec<SocketAddr> = std::net::ToSocketAddrs::to_socket_addrs(&hostport)
            .with_context(|| format!("cannot resolve {hostport:?} in {url:?}"))?
            .collect();
        let Some(first) = addrs.first() else {
            bail!("{url:?} resolves to no address");
        };
        if first.port() == 0 {
            out.push((*first, ldaps));
            continue;
        }
        for a in addrs {
            if !out.contains(&(a, ldaps)) {
                out.push((a, ldaps));
            }
        }
    }
    if out.is_empty() {
        bail!("no listen URL given");
    }
    Ok(out)
}

#[allow(clippy::too_many_arguments)]
fn serve(
    common: &Common,
    url: &str,
    memory: bool,
    ldif: &[PathBuf],
    no_layout: bool,
    max_pdu: usize,
    ready_file: Option<&std::path::Path>,
    pidfile: Option<&std::path::Path>,
) -> Result<()> {
    let addrs = listen_addrs(url)?;
    // A ready file left by an earlier run would announce a dead URL while this one loads.
    if let Some(path) = ready_file {
        match std::fs::remove_file(path) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                bail!("cannot remove the old ready file {}: {e}", path.display())
            }
            _ => {}
        }
    }
    let cfg = load_config(common)?;
    if !memory {
        refuse_partial_database(&cfg, common)?;
    }
    let dir = open_with(&cfg, common, memory)?;
    if addrs.iter().any(|(_, ldaps)| *ldaps) && dir.tls.is_none() {
        bail!("an ldaps:// URL needs TLSCertificateFile and TLSCertificateKeyFile in the configuration");
    }
    // A seed whose first record is the suffix entry defines the tree itself.
    let seeded_tree = ldif.first().is_some_and(|f| {
        std::fs::File::open(f).is_ok_and(|f| dir.seed_defines_suffix(BufReader::new(f)))
    });
    if !no_layout
        && !seeded_tree
        && dir
            .bootstrap_layout()
            .map_err(|e| anyhow::anyhow!("creating the layout: {}", e.message))?
    {
        tracing::info!(suffix = %dir.suffix, "empty database: created the suffix and the Axigen layout");
    }
    for file in ldif {
        // A bulk load: postings are collected and written once at the end.
        // As `import` (slapadd): operational attributes in the seed are kept, so
        // `oxldap export` output is a valid seed.
        let n = dir.store.bulk(|| load_ldif(&dir, file, true))??;
        tracing::info!(file = %file.display(), entries = n, "loaded LDIF");
    }
    let dir = Arc::new(dir);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    rt.block_on(async move {
        let shutdown = CancellationToken::new();
        let mut servers = Vec::new();
        let mut urls = Vec::new();
        let several = addrs.len() > 1;
        for (addr, ldaps) in addrs {
            let listener = match tokio::net::TcpListener::bind(addr).await {
                Ok(l) => l,
                // `localhost` may resolve to ::1 on a host without IPv6: the other
                // addresses still serve (the last one standing is an error below).
                Err(e)
                    if several
                        && addr.is_ipv6()
                        && e.kind() == std::io::ErrorKind::AddrNotAvailable =>
                {
                    tracing::warn!(%addr, error = %e, "cannot listen on this address; skipped");
                    continue;
                }
                Err(e) => {
                    return Err(anyhow::Error::new(e).context(format!("cannot listen on {addr}")))
                }
            };
            let local = listener.local_addr()?;
            let shown = format!("{}://{local}/", if ldaps { "ldaps" } else { "ldap" });
            urls.push(shown.clone());
            tracing::info!(url = %shown, "listening");
            servers.push(tokio::spawn(oxldap_server::serve(
                listener,
                dir.clone(),
                ServeOptions {
                    max_pdu,
                    ldaps,
                    ..ServeOptions::default()
                },
                shutdown.clone(),
            )));
        }
        if servers.is_empty() {
            bail!("none of the addresses of {url:?} can be listened on");
        }
        // The ready file first, then the URLs on stdout: whoever reads the first line
        // may rely on both (the sockets already accept: they are bound and listening).
        // Removed when dropped, after a clean shutdown.
        let _run_files =
            service::RunFiles::write(pidfile.or(cfg.pidfile.as_deref()), cfg.argsfile.as_deref())?;
        // Both handlers are installed before anyone learns the URL (and so may send a
        // signal): SIGTERM's and SIGHUP's default actions end the process uncleanly.
        let signals = Signals::install();
        #[cfg(unix)]
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()) {
            Ok(hup) => {
                tokio::spawn(service::reload_on_hangup(
                    hup,
                    dir.clone(),
                    common.config.clone(),
                    cfg.clone(),
                    common.debug.is_some(),
                ));
            }
            Err(e) => {
                tracing::warn!(error = %e, "cannot catch SIGHUP: configuration reload disabled")
            }
        }
        // Removed at a clean shutdown, as the pidfile.
        let _ready = match ready_file {
            Some(path) => {
                write_ready_file(path, &urls)?;
                Some(RemoveOnDrop(path.to_path_buf()))
            }
            None => None,
        };
        for u in &urls {
            println!("{u}");
        }
        let _ = std::io::stdout().flush();
        signals.wait().await;
        tracing::info!("shutting down");
        shutdown.cancel();
        for s in servers {
            s.await??;
        }
        dir.store.flush()?;
        tracing::info!("stopped");
        Ok(())
    })
}

/// Removes its file when dropped (the ready file, after a clean shutdown).
struct RemoveOnDrop(PathBuf);

impl Drop for RemoveOnDrop {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// Writes the listen URLs, one per line, to `path` atomically (temporary file + rename).
fn write_ready_file(path: &std::path::Path, urls: &[String]) -> Result<()> {
    let mut text = urls.join("\n");
    text.push('\n');
    service::write_atomically(path, &text)
}

/// The signals that stop the server, registered once (see `serve`).
struct Signals {
    #[cfg(unix)]
    term: Option<tokio::signal::unix::Signal>,
}

impl Signals {
    fn install() -> Signals {
        Signals {
            #[cfg(unix)]
            term: tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok(),
        }
    }

    /// Waits for SIGTERM or Ctrl-C.
    async fn wait(self) {
        #[cfg(unix)]
        if let Some(mut term) = self.term {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
            return;
        }
        let _ = tokio::signal::ctrl_c().await;
    }
}

/// Loads content records from an LDIF file; `import` keeps operational attributes given
/// in the input (slapadd), otherwise they are refused as from a client.
fn load_ldif(dir: &Directory, file: &std::path::Path, import: bool) -> Result<u64> {
    let (buffered, bar) = import::open_ldif(file)?;
    let ctx = import::load_ctx(dir, import);
    // Adds go through the store's chunked bulk path (issues 4 and 7): the first refused
    // entry stops the load with its line, after the entries before it are written.
    let refused = |e: oxldap_store::BulkAddError<(usize, String)>| {
        let (line, dn) = e.tag;
        anyhow::anyhow!(
            "{}:{line}: {dn}: {} ({})",
            file.display(),
            e.error,
            e.error.code()
        )
    };
    // A child listed before its parent (slapcat output after subtree moves) waits for it.
    let mut adder = dir.store.bulk_add::<(usize, String)>(ctx).parent_first();
    for record in LdifReader::new(buffered) {
        let record = match record {
            Ok(r) => r,
            Err(e) => {
                adder.flush().map_err(refused)?;
                bail!("{}: {e}", file.display());
            }
        };
        match record {
            LdifRecord::Content { line, entry } => {
                let dn = entry.dn.to_string();
                adder.push((line, dn), entry).map_err(refused)?;
            }
            LdifRecord::Change { line, .. } => {
                adder.flush().map_err(refused)?;
                bail!(
                    "{}:{line}: change records are not supported here; use ldapmodify",
                    file.display()
                )
            }
        }
    }
    let n = adder.finish().map_err(refused)?;
    bar.finish_and_clear();
    Ok(n)
}

fn import(common: &Common, file: &std::path::Path, keep_going: bool) -> Result<()> {
    let dir = open(common, false)?;
    if keep_going {
        let done = dir.store.bulk(|| import::load_continue(&dir, file))??;
        eprintln!("imported {} entries", done.added);
        if done.refused > 0 {
            // slapadd -c exits 1 when any entry was refused (slapadd 2.5).
            bail!("{} records were refused and skipped (-c)", done.refused);
        }
        return Ok(());
    }
    let before = dir.store.len();
    let n = dir
        .store
        .bulk(|| load_ldif(&dir, file, true))?
        .map_err(|e| {
            // The entries before the refused one are committed (as slapadd): say so, so
            // that a second run is not surprised by entryAlreadyExists.
            let kept = dir.store.len().saturating_sub(before);
            e.context(format!(
                "import stopped; entries imported before it (they stay): {kept}"
            ))
        })?;
    eprintln!("imported {n} entries");
    Ok(())
}

/// `oxldap export`: every entry in DN order (parents first, so the output imports
/// again), optionally only a subtree (`-s`) and the entries a filter matches (`-a`),
/// like slapcat.
fn export(
    common: &Common,
    output: Option<&std::path::Path>,
    subtree: Option<&str>,
    filter: Option<&str>,
) -> Result<()> {
    let dir = open_existing(common)?;
    let filter = filter
        .map(|f| oxldap_proto::Filter::parse(f).map_err(|e| anyhow::anyhow!("-a {f:?}: {e}")))
        .transpose()?;
    let subtree = subtree
        .map(|s| {
            let dn = oxldap_proto::Dn::parse(s).map_err(|e| anyhow::anyhow!("-s {s:?}: {e}"))?;
            let norm = dir.schema.normalize_dn(&dn)?;
            // slapcat: `slap_init no backend for "DN"`, exit status 1.
            if !dir.store.holds(&norm) {
                bail!(
                    "-s {s:?}: no backend for this DN: it lies outside the naming context {}",
                    dir.suffix
                );
            }
            Ok::<_, anyhow::Error>(norm)
        })
        .transpose()?;
    let mut out: Box<dyn Write> = match output {
        Some(path) => Box::new(std::io::BufWriter::new(
            std::fs::File::create(path)
                .with_context(|| format!("cannot create {}", path.display()))?,
        )),
        None => Box::new(std::io::BufWriter::new(std::io::stdout().lock())),
    };
    let bar = indicatif::ProgressBar::new(dir.store.len() as u64);
    bar.set_style(
        indicatif::ProgressStyle::with_template("{bar:40} {pos}/{len} entries {per_sec} eta {eta}")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    for entry in dir.store.export_entries() {
        let entry = entry?;
        bar.inc(1);
        if let Some(base) = &subtree {
            let norm = dir.schema.normalize_dn(&entry.dn)?;
            if norm != *base && !norm.is_descendant_of(base) {
                continue;
            }
        }
        if filter
            .as_ref()
            .is_some_and(|f| !dir.schema.matches(f, &entry))
        {
            continue;
        }
        write_entry(&mut out, &entry)?;
    }
    out.flush()?;
    bar.finish_and_clear();
    Ok(())
}

/// Whether opening failed because another process (a running server) holds the folder.
fn is_locked(e: &oxldap_server::OpenError) -> bool {
    matches!(
        e,
        oxldap_server::OpenError::Store {
            source: oxldap_store::StoreError::Locked { .. },
            ..
        }
    )
}

fn backup(
    common: &Common,
    url: Option<&str>,
    password_file: Option<&std::path::Path>,
    dest: &std::path::Path,
) -> Result<()> {
    let cfg = load_config(common)?;
    let source = match url {
        Some(u) => backup::Source::Server(u),
        None => {
            require_database(&cfg, common)?;
            let opts = OpenOptions {
                memory: false,
                data_dir: common.data_dir.clone(),
                fixed_clock: None,
            };
            match Directory::open(&cfg, &opts) {
                Ok(dir) => backup::Source::Image(dir.store.consistent_copy()?),
                Err(e) if is_locked(&e) => {
                    eprintln!("oxldap: a running server holds the database; asking it at {DEFAULT_URL} (use -H for another URL)");
                    backup::Source::Server(DEFAULT_URL)
                }
                Err(e) => bail!("{e}"),
            }
        }
    };
    let (n, csn) = backup::backup(&cfg, source, password_file, dest)?;
    eprintln!(
        "backed up {n} entries as of contextCSN {} to {}",
        csn.as_deref().unwrap_or("(none)"),
        dest.display()
    );
    Ok(())
}

fn restore(common: &Common, src: &std::path::Path, force: bool) -> Result<()> {
    let (csn, count) = backup::read_header(src)?;
    // The whole file is read first: a damaged backup must not clear the database.
    backup::check_file(src, count)?;
    // A folder that holds an interrupted restore is opened here only, to be replaced.
    let dir = oxldap_store::for_restore(|| open(common, false))?;
    if !dir.store.is_empty() && !force {
        bail!(
            "the database already holds {} entries; restore refuses to overwrite it without --force",
            dir.store.len()
        );
    }
    // Marked before anything is cleared or loaded, unmarked by `finish_restore`.
    dir.store.begin_restore()?;
    if !dir.store.is_empty() {
        dir.store.clear()?;
    }
    let n = dir.store.bulk(|| load_ldif(&dir, src, true))??;
    if let Some(c) = count {
        if c != n {
            bail!(
                "{}: the header announces {c} entries, {n} were loaded",
                src.display()
            );
        }
    }
    dir.store.finish_restore(csn.as_ref())?;
    eprintln!(
        "restored {n} entries as of contextCSN {}",
        csn.map(|c| c.to_ldap_string())
            .unwrap_or_else(|| "(none)".into())
    );
    Ok(())
}

fn reindex(common: &Common) -> Result<()> {
    let dir = open_existing(common)?;
    let bar = indicatif::ProgressBar::new(dir.store.len() as u64);
    bar.set_style(
        indicatif::ProgressStyle::with_template("{bar:40} {pos}/{len} entries {per_sec} eta {eta}")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    let n = dir
        .store
        .reindex_with(&mut |done, _| bar.set_position(done))?;
    bar.finish_and_clear();
    eprintln!("indexed {n} entries");
    Ok(())
}

fn verify(common: &Common) -> Result<()> {
    let dir = open_existing(common)?;
    let problems = dir.store.verify()?;
    for p in &problems {
        println!("{p}");
    }
    if problems.is_empty() {
        println!("ok: {} entries, no inconsistency", dir.store.len());
        Ok(())
    } else {
        bail!("{} inconsistencies", problems.len())
    }
}

fn explain(common: &Common, base: Option<&str>, scope: &str, filter: &str) -> Result<()> {
    use oxldap_store::{Scope, SearchControl};
    // A read-only command: a folder whose indexes were built for other index lines is
    // refused (naming them), not re-indexed (tester finding 13).
    let dir = oxldap_store::without_reindex_at_open(|| open_existing(common))?;
    let filter = oxldap_proto::Filter::parse(filter).map_err(|e| anyhow::anyhow!("{e}"))?;
    let base = match base {
        Some(b) => oxldap_proto::Dn::parse(b).map_err(|e| anyhow::anyhow!("{e}"))?,
        None => dir.suffix.clone(),
    };
    let scope = match scope {
        "base" => Scope::Base,
        "one" => Scope::One,
        "sub" => Scope::Sub,
        "children" => Scope::Children,
        other => bail!("unknown scope {other:?}: base, one, sub or children"),
    };
    let (candidates, plan) = dir.store.plan(&filter)?;
    println!("filter: {filter}");
    println!("plan: {plan}");
    match candidates {
        Some(c) => println!("candidates: {}", c.len()),
        None => println!("candidates: every entry in scope"),
    }
    let start = std::time::Instant::now();
    let mut n = 0u64;
    dir.store.search(&base, scope, &filter, |_| {
        n += 1;
        SearchControl::Continue
    })?;
    println!(
        "matches: {n} ({:.3} ms)",
        start.elapsed().as_secs_f64() * 1000.0
    );
    Ok(())
}

fn schema_check(files: &[PathBuf]) -> Result<()> {
    use oxldap_schema::{Schema, SchemaSource};
    let mut schema = Schema::from_includes(&[]).map_err(|e| anyhow::anyhow!("{e}"))?;
    let mut failed = 0;
    for f in files {
        let text =
            std::fs::read_to_string(f).with_context(|| format!("cannot read {}", f.display()))?;
        let ldif = f
            .extension()
            .is_some_and(|x| x.eq_ignore_ascii_case("ldif"));
        let src = SchemaSource::File {
            origin: f.display().to_string(),
            text,
            ldif,
        };
        match schema.add_source(&src) {
            Ok(n) => println!("{}: ok, {n} definitions", f.display()),
            Err(e) => {
                failed += 1;
                println!("{}: {e}", f.display());
            }
        }
    }
    if failed > 0 {
        bail!("{failed} of {} files failed", files.len());
    }
    Ok(())
}

fn schema_show(common: &Common, name: &str) -> Result<()> {
    let cfg = load_config(common)?;
    let schema = oxldap_server::directory::load_schema(&cfg).map_err(|e| anyhow::anyhow!("{e}"))?;
    if let Some(at) = schema.attribute_type(name) {
        println!("attributetype {}", at.to_description());
        return Ok(());
    }
    if let Some(oc) = schema.object_class(name) {
        println!("objectclass {}", oc.to_description());
        let mut must: Vec<String> = oc.must.clone();
        let mut may: Vec<String> = oc.may.clone();
        for sup in schema.superclasses(oc) {
            println!("  superclass {}", sup.name());
            must.extend(sup.must.iter().cloned());
            may.extend(sup.may.iter().cloned());
        }
        must.sort();
        must.dedup();
        may.sort();
        may.dedup();
        println!("  MUST (with inherited): {}", must.join(" $ "));
        println!("  MAY (with inherited): {}", may.join(" $ "));
        return Ok(());
    }
    bail!("{name:?} is neither an attribute type nor an object class of the schema")
}

#[cfg(test)]
mod tests {
    use super::listen_addrs;
    use std::net::ToSocketAddrs;

    /// A host name is served on every address it resolves to (slapd does the same), each
    /// once; with port 0 only on the first, since each bind would pick its own port.
    #[test]
    fn a_host_name_listens_on_each_of_its_addresses() {
        let mut resolved: Vec<_> = ("localhost", 3389).to_socket_addrs().unwrap().collect();
        resolved.dedup();
        let got: Vec<_> = listen_addrs("ldap://localhost:3389/")
            .unwrap()
            .into_iter()
            .map(|(a, tls)| {
                assert!(!tls);
                a
            })
            .collect();
        let mut want = Vec::new();
        for a in resolved {
            if !want.contains(&a) {
                want.push(a);
            }
        }
        assert_eq!(got, want);
        assert_eq!(listen_addrs("ldap://localhost:0/").unwrap().len(), 1);
        assert_eq!(
            listen_addrs("ldap:/// ldaps://127.0.0.1:1636/").unwrap(),
            [
                ("0.0.0.0:389".parse().unwrap(), false),
                ("127.0.0.1:1636".parse().unwrap(), true)
            ]
        );
    }
}
