//! `oxldap backup` and `oxldap restore`: a consistent point-in-time copy of the database
//! as LDIF, taken from the running server over LDAP (the server answers a rootdn search
//! on `cn=Backup`, see `server/src/backup.rs`) or, when no server holds the folder,
//! directly from it; and loading such a copy back with entryUUID, entryCSN and the
//! contextCSN kept, so content-sync consumers resume with their cookies.
//!
//! The file starts with comment lines (RFC 2849 allows them) that `restore` reads back:
//!
//! ```text
//! # oxldap backup
//! # contextCSN: 20261129163000.123456Z#000000#000#000
//! # entries: 42
//! ```

use anyhow::{anyhow, bail, Context, Result};
use futures::{SinkExt, StreamExt};
use ldap3_proto::proto::{
    LdapBindCred, LdapBindRequest, LdapDerefAliases, LdapFilter, LdapMsg, LdapOp, LdapResultCode,
    LdapSearchRequest, LdapSearchScope,
};
use oxldap_proto::Entry;
use oxldap_server::config::Config;
use oxldap_store::{BackupImage, Csn};
use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};

/// The largest single message accepted from the server during a backup (one entry; a
/// group with tens of thousands of members is a few MiB). ldap3_proto's default (32 KiB)
/// is meant for requests a server receives.
const MAX_ENTRY_SIZE: usize = 64 * 1024 * 1024;

/// The header line carrying the backup's contextCSN.
const CSN_HEADER: &str = "# contextCSN: ";
/// The header line carrying the number of entries.
const COUNT_HEADER: &str = "# entries: ";

/// Where the copy comes from.
pub enum Source<'a> {
    /// The running server at this URL (`ldap://HOST:PORT/`).
    Server(&'a str),
    /// A copy already taken offline.
    Image(BackupImage),
}

/// Takes the copy from `source` and writes it to `dest` (through a temporary file and a
/// rename, so `dest` is either the old file or a complete backup). Returns the number of
/// entries and the contextCSN.
pub fn backup(
    cfg: &Config,
    source: Source<'_>,
    password_file: Option<&Path>,
    dest: &Path,
) -> Result<(usize, Option<String>)> {
    let image = match source {
        Source::Image(i) => Image {
            csn: i.csn.map(|c| c.to_ldap_string()),
            entries: i.entries,
        },
        Source::Server(url) => {
            let (dn, pw) = credentials(cfg, password_file)?;
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?;
            rt.block_on(fetch(url, &dn, &pw))?
        }
    };
    let mut tmp = dest.as_os_str().to_owned();
    tmp.push(".tmp");
    let tmp = PathBuf::from(tmp);
    {
        let f = std::fs::File::create(&tmp)
            .with_context(|| format!("cannot write {}", tmp.display()))?;
        let mut out = std::io::BufWriter::new(f);
        writeln!(out, "# oxldap backup")?;
        if let Some(c) = &image.csn {
            writeln!(out, "{CSN_HEADER}{c}")?;
        }
        writeln!(out, "{COUNT_HEADER}{}", image.entries.len())?;
        writeln!(out)?;
        for e in &image.entries {
            oxldap_proto::ldif::write_entry(&mut out, e)?;
        }
        out.flush()?;
        out.get_ref().sync_all()?;
    }
    std::fs::rename(&tmp, dest).with_context(|| format!("cannot write {}", dest.display()))?;
    Ok((image.entries.len(), image.csn))
}

/// A copy with the CSN as text (as it comes over the wire).
struct Image {
    csn: Option<String>,
    entries: Vec<Entry>,
}

/// The rootdn and its password: the configuration's rootpw when it is cleartext,
/// otherwise the first line of `password_file` (like ldapsearch -y).
fn credentials(cfg: &Config, password_file: Option<&Path>) -> Result<(String, String)> {
    let db = cfg
        .database()
        .ok_or_else(|| anyhow!("the configuration has no database section"))?;
    let dn = db
        .rootdn
        .clone()
        .ok_or_else(|| anyhow!("an online backup binds as the rootdn: configure rootdn"))?;
    if let Some(f) = password_file {
        let text =
            std::fs::read_to_string(f).with_context(|| format!("cannot read {}", f.display()))?;
        return Ok((dn, text.lines().next().unwrap_or_default().to_string()));
    }
    match db.rootpw.as_ref().map(|p| p.expose().to_string()) {
        Some(pw) if !pw.starts_with('{') => Ok((dn, pw)),
        Some(_) => bail!("rootpw is hashed: give the rootdn's password in a file with -y FILE"),
        None => bail!("an online backup binds as the rootdn: configure rootpw or use -y FILE"),
    }
}

/// Binds as the rootdn at `url` and reads the backup search's answer.
async fn fetch(url: &str, dn: &str, pw: &str) -> Result<Image> {
    let (addr, ldaps) = crate::listen_addrs(url)?
        .into_iter()
        .next()
        .ok_or_else(|| anyhow!("no address in {url:?}"))?;
    if ldaps {
        bail!("online backup speaks plain LDAP on loopback: give an ldap:// URL with -H");
    }
    let stream = tokio::net::TcpStream::connect(addr)
        .await
        .with_context(|| {
            format!("cannot connect to the server at {url} (is it running? give its URL with -H)")
        })?;
    let mut conn =
        tokio_util::codec::Framed::new(stream, ldap3_proto::LdapCodec::new(Some(MAX_ENTRY_SIZE)));
    conn.send(LdapMsg::new(
        1,
        LdapOp::BindRequest(LdapBindRequest {
            dn: dn.to_string(),
            cred: LdapBindCred::Simple(pw.to_string()),
        }),
    ))
    .await?;
    match conn.next().await {
        Some(Ok(LdapMsg {
            op: LdapOp::BindResponse(r),
            ..
        })) if r.res.code == LdapResultCode::Success => {}
        Some(Ok(LdapMsg {
            op: LdapOp::BindResponse(r),
            ..
        })) => bail!("bind as {dn} failed: {:?} {}", r.res.code, r.res.message),
        other => bail!("unexpected answer to the bind: {other:?}"),
    }
    conn.send(LdapMsg::new(
        2,
        LdapOp::SearchRequest(LdapSearchRequest {
            base: oxldap_server::backup::BACKUP_DN.to_string(),
            scope: LdapSearchScope::Base,
            aliases: LdapDerefAliases::Never,
            sizelimit: 0,
            timelimit: 0,
            typesonly: false,
            filter: LdapFilter::Present("objectClass".to_string()),
            attrs: Vec::new(),
        }),
    ))
    .await?;
    let mut csn = None;
    let mut expected = None;
    let mut entries = Vec::new();
    let mut header = true;
    loop {
        let msg = conn
            .next()
            .await
            .ok_or_else(|| anyhow!("the server closed the connection during the backup"))??;
        match msg.op {
            LdapOp::SearchResultEntry(e) if header => {
                header = false;
                for a in e.attributes {
                    let first = a
                        .vals
                        .first()
                        .map(|v| String::from_utf8_lossy(v).into_owned());
                    if a.atype.eq_ignore_ascii_case("contextCSN") {
                        csn = first;
                    } else if a.atype.eq_ignore_ascii_case("monitorCounter") {
                        expected = first.and_then(|v| v.parse::<usize>().ok());
                    }
                }
            }
            LdapOp::SearchResultEntry(e) => {
                let dn = e.dn.clone();
                entries.push(Entry::from_search_result(e).map_err(|err| anyhow!("{dn}: {err}"))?)
            }
            LdapOp::SearchResultDone(r) if r.code == LdapResultCode::Success => break,
            LdapOp::SearchResultDone(r) => {
                bail!("the server refused the backup: {:?} {}", r.code, r.message)
            }
            _ => {}
        }
    }
    let _ = conn.send(LdapMsg::new(3, LdapOp::UnbindRequest)).await;
    if header {
        bail!("the server sent no backup (is it an oxldap server?)");
    }
    if expected != Some(entries.len()) {
        bail!(
            "incomplete backup: the server announced {expected:?} entries, {} arrived",
            entries.len()
        );
    }
    Ok(Image { csn, entries })
}

/// Reads the whole backup at `path` before `restore` changes anything: every record
/// must parse, none may be a change record, and the number of entries must be the one
/// its header announces (`announced`, when it has one). Returns that number.
///
/// A file cut short (a full disk, an interrupted copy) or damaged is refused here with
/// nothing changed; before, `restore --force` cleared the database and then stopped at
/// the damage, leaving only the entries before it (tester finding, 2026-11-30).
///
/// Errors: the file cannot be read, a record does not parse, a change record, or a count
/// other than the header's.
pub fn check_file(path: &Path, announced: Option<u64>) -> Result<u64> {
    let f = std::fs::File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
    let mut n = 0u64;
    for record in oxldap_proto::ldif::LdifReader::new(std::io::BufReader::new(f)) {
        match record.map_err(|e| anyhow!("{}: {e}; nothing was changed", path.display()))? {
            oxldap_proto::ldif::LdifRecord::Content { .. } => n += 1,
            oxldap_proto::ldif::LdifRecord::Change { line, .. } => bail!(
                "{}:{line}: a change record: a backup holds entries only; nothing was changed",
                path.display()
            ),
        }
    }
    if let Some(c) = announced {
        if c != n {
            bail!(
                "{}: the header announces {c} entries, the file holds {n} (cut short?); nothing was changed",
                path.display()
            );
        }
    }
    Ok(n)
}

/// The header of a backup file: its contextCSN and announced entry count.
pub fn read_header(path: &Path) -> Result<(Option<Csn>, Option<u64>)> {
    let f = std::fs::File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
    let mut csn = None;
    let mut count = None;
    for line in std::io::BufReader::new(f).lines() {
        let line = line?;
        if !line.starts_with('#') {
            break;
        }
        if let Some(c) = line.strip_prefix(CSN_HEADER) {
            csn = Some(
                Csn::parse(c.trim())
                    .ok_or_else(|| anyhow!("{}: malformed contextCSN {c:?}", path.display()))?,
            );
        } else if let Some(n) = line.strip_prefix(COUNT_HEADER) {
            count = n.trim().parse::<u64>().ok();
        }
    }
    Ok((csn, count))
}
