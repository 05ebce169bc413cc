//! The `oxldap` command: slapd-like subcommands sharing `-f CONFIG` and the same defaults.
//!
//! - `serve`: run the server (slapd);
//! - `import`: load LDIF offline into the configured database (slapadd);
//! - `export`: write the database as LDIF to stdout (slapcat).

use anyhow::{bail, Context, Result};
use clap::{Args, Parser, Subcommand};
use oxldap_proto::ldif::{write_entry, LdifReader, LdifRecord};
use oxldap_server::config::{self, Config};
use oxldap_server::{CancellationToken, Directory, OpenOptions, ServeOptions};
use oxldap_store::WriteCtx;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

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
        /// Do not create the suffix and the Axigen layout on an empty database.
        #[arg(long = "no-layout")]
        no_layout: bool,
        /// Largest request accepted, in bytes.
        #[arg(long = "max-pdu", default_value_t = oxldap_proto::codec::DEFAULT_MAX_PDU)]
        max_pdu: usize,
    },
    /// Load an LDIF file into the database offline (like slapadd).
    Import {
        #[command(flatten)]
        common: Common,
        /// The LDIF file (`-` for stdin).
        file: PathBuf,
    },
    /// Write the whole database as LDIF to stdout (like slapcat).
    Export {
        #[command(flatten)]
        common: Common,
    },
}

fn main() {
    let cli = Cli::parse();
    let debug = match &cli.command {
        Command::Serve { common, .. }
        | Command::Import { common, .. }
        | Command::Export { common } => common.debug.clone(),
    };
    init_logging(debug.as_deref());
    let outcome = match cli.command {
        Command::Serve {
            help: _,
            common,
            url,
            memory,
            ldif,
            no_layout,
            max_pdu,
        } => serve(&common, &url, memory, &ldif, no_layout, max_pdu),
        Command::Import { common, file } => import(&common, &file),
        Command::Export { common } => export(&common),
    };
    if let Err(e) = outcome {
        eprintln!("oxldap: {e:#}");
        std::process::exit(1);
    }
}

/// `-d` / RUST_LOG to a tracing filter: names pass through, slapd numbers map roughly
/// (-1/any → trace, 0 → warn, stats/256 → info, other numbers → debug).
fn init_logging(level: Option<&str>) {
    use tracing_subscriber::EnvFilter;
    let directive = match level {
        None => std::env::var("RUST_LOG").unwrap_or_else(|_| "info".to_string()),
        Some(l) => match l.to_ascii_lowercase().as_str() {
            "-1" | "any" | "trace" => "trace".into(),
            "0" | "none" | "warn" => "warn".into(),
            "256" | "stats" | "info" => "info".into(),
            "error" => "error".into(),
            _ => "debug".into(),
        },
    };
    let _ = tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(EnvFilter::new(directive))
        .try_init();
}

fn load_config(common: &Common) -> Result<Config> {
    match &common.config {
        Some(path) => config::load(path).map_err(|e| anyhow::anyhow!("{e}")),
        None => Ok(Config::default_embedded()),
    }
}

fn open(common: &Common, memory: bool) -> Result<Directory> {
    let cfg = load_config(common)?;
    let opts = OpenOptions {
        memory,
        data_dir: common.data_dir.clone(),
        fixed_clock: None,
    };
    Directory::open(&cfg, &opts).map_err(|e| anyhow::anyhow!("{e}"))
}

/// Parses slapd-style listen URLs (`ldap://host:port/`; `ldap:///` is all interfaces, 389).
fn listen_addrs(urls: &str) -> Result<Vec<SocketAddr>> {
    let mut out = Vec::new();
    for url in urls.split_whitespace() {
        let Some(rest) = url.strip_prefix("ldap://") else {
            bail!("unsupported listen URL {url:?}: only ldap:// is supported (ldaps:// and ldapi:// are not yet)");
        };
        let hostport = rest.split('/').next().unwrap_or("");
        let hostport = if hostport.is_empty() {
            "0.0.0.0:389".to_string()
        } else {
            hostport.to_string()
        };
        let hostport = if hostport.contains(':') && !hostport.ends_with(']') {
            hostport
        } else {
            format!("{hostport}:389")
        };
        let addrs: Vec<SocketAddr> = std::net::ToSocketAddrs::to_socket_addrs(&hostport)
            .with_context(|| format!("cannot resolve {hostport:?} in {url:?}"))?
            .collect();
        match addrs.first() {
            Some(a) => out.push(*a),
            None => bail!("{url:?} resolves to no address"),
        }
    }
    if out.is_empty() {
        bail!("no listen URL given");
    }
    Ok(out)
}

fn serve(
    common: &Common,
    url: &str,
    memory: bool,
    ldif: &[PathBuf],
    no_layout: bool,
    max_pdu: usize,
) -> Result<()> {
    let addrs = listen_addrs(url)?;
    let dir = open(common, memory)?;
    if !no_layout
        && dir
            .bootstrap_layout()
            .map_err(|e| anyhow::anyhow!("creating the layout: {}", e.message))?
    {
        tracing::info!(suffix = %dir.suffix, "empty database: created the suffix and the Axigen layout");
    }
    for file in ldif {
        let n = load_ldif(&dir, file, false)?;
        tracing::info!(file = %file.display(), entries = n, "loaded LDIF");
    }
    let dir = Arc::new(dir);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    rt.block_on(async move {
        let shutdown = CancellationToken::new();
        let mut servers = Vec::new();
        for addr in addrs {
            let listener = tokio::net::TcpListener::bind(addr)
                .await
                .with_context(|| format!("cannot listen on {addr}"))?;
            let local = listener.local_addr()?;
            let shown = format!("ldap://{local}/");
            println!("{shown}");
            tracing::info!(url = %shown, "listening");
            servers.push(tokio::spawn(oxldap_server::serve(
                listener,
                dir.clone(),
                ServeOptions {
                    max_pdu,
                    ..ServeOptions::default()
                },
                shutdown.clone(),
            )));
        }
        let _ = std::io::stdout().flush();
        wait_for_signal().await;
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

async fn wait_for_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

/// Loads content records from an LDIF file; `import` keeps operational attributes given
/// in the input (slapadd), otherwise they are refused as from a client.
fn load_ldif(dir: &Directory, file: &PathBuf, import: bool) -> Result<u64> {
    let (reader, len): (Box<dyn Read>, u64) = if file.as_os_str() == "-" {
        (Box::new(std::io::stdin()), 0)
    } else {
        let f =
            std::fs::File::open(file).with_context(|| format!("cannot open {}", file.display()))?;
        let len = f.metadata().map(|m| m.len()).unwrap_or(0);
        (Box::new(f), len)
    };
    // indicatif draws only when stderr is a terminal.
    let bar = indicatif::ProgressBar::new(len);
    bar.set_style(
        indicatif::ProgressStyle::with_template(
            "{bar:40} {bytes}/{total_bytes} {per_sec} eta {eta}",
        )
        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    let buffered: Box<dyn BufRead> = Box::new(BufReader::new(bar.wrap_read(reader)));
    let ctx = WriteCtx {
        modifier: dir
            .rootdn
            .as_ref()
            .map(|(d, _)| d.clone())
            .unwrap_or_default(),
        import,
    };
    let mut n = 0u64;
    for record in LdifReader::new(buffered) {
        let record = record.map_err(|e| anyhow::anyhow!("{}: {e}", file.display()))?;
        match record {
            LdifRecord::Content { line, entry } => {
                let dn = entry.dn.to_string();
                dir.store.add(entry, &ctx).map_err(|e| {
                    anyhow::anyhow!("{}:{line}: {dn}: {} ({})", file.display(), e, e.code())
                })?;
                n += 1;
            }
            LdifRecord::Change { line, .. } => {
                bail!(
                    "{}:{line}: change records are not supported here; use ldapmodify",
                    file.display()
                )
            }
        }
    }
    bar.finish_and_clear();
    Ok(n)
}

fn import(common: &Common, file: &PathBuf) -> Result<()> {
    let dir = open(common, false)?;
    let n = load_ldif(&dir, file, true)?;
    dir.store.flush()?;
    eprintln!("imported {n} entries");
    Ok(())
}

fn export(common: &Common) -> Result<()> {
    let dir = open(common, false)?;
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    let bar = indicatif::ProgressBar::new(dir.store.len() as u64);
    bar.set_style(
        indicatif::ProgressStyle::with_template("{bar:40} {pos}/{len} entries {per_sec} eta {eta}")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    for entry in dir.store.iter_entries() {
        write_entry(&mut out, &entry?)?;
        bar.inc(1);
    }
    out.flush()?;
    bar.finish_and_clear();
    Ok(())
}
