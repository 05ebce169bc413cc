//! `oxldap import -c`: slapadd's continue mode (slapadd(8) `-c`: "Enable continue (ignore
//! errors) mode").
//!
//! Every record is read and tried; a record that cannot be added is reported on stderr
//! and skipped, and the rest is loaded. The reports have slapadd's shape, one line each,
//! in input order:
//!
//! ```text
//! oxldap import: dn="uid=a,ou=Users,dc=example" (line=11): (65) object class 'inetOrgPerson' requires attribute 'sn'
//! oxldap import: could not parse entry (line=34): line 36: missing ':' after the attribute description
//! ```
//!
//! (`line=` is the record's `dn:` line, as slapadd's; a record that does not parse also
//! names the line of the problem.) As slapadd 2.5 with `-c`, the exit
//! status is 1 when any record was refused, 0 otherwise; a failure of the store itself
//! (not an LDAP outcome) still stops the load.
//!
//! The adds take the same chunked bulk path as an ordinary import
//! ([`oxldap_store::BulkAdd::keep_going`]): a refused entry is never staged, so indexes,
//! memberOf and the change log hold exactly the entries written and `oxldap verify`
//! passes. An entry listed before its parent waits for it ([`BulkAdd::parent_first`]), as slapadd
//! loads such files. One deliberate difference: slapadd adds an entry whose parent never
//! comes (and reports "entries missing" at the end), oxldap refuses it at the end of the
//! input (noSuchObject, 32), as it refuses any entry that would leave the DN tree
//! inconsistent.
//!
//! This module owns only the reading and reporting; it must not know how entries are
//! stored.

use anyhow::{Context, Result};
use oxldap_proto::ldif::{LdifReader, LdifRecord};
use oxldap_server::Directory;
use oxldap_store::{BulkAdd, BulkAddError, WriteCtx};
use std::io::{BufRead, BufReader, Read};
use std::path::Path;

/// What a continue-mode load did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Outcome {
    /// Entries written.
    pub added: u64,
    /// Records reported and skipped (refused entries, records that do not parse, change
    /// records).
    pub refused: u64,
}

/// The prefix of every report line (slapadd prints `slapadd: `).
const WHO: &str = "oxldap import";

/// Loads the content records of `file` (`-` for stdin) into `dir` in continue mode,
/// keeping the operational attributes given (as slapadd). Call inside
/// [`oxldap_store::Store::bulk`].
///
/// Errors: the file cannot be opened or read, or the store fails (not an LDAP outcome);
/// the entries written before stay.
pub(crate) fn load_continue(dir: &Directory, file: &Path) -> Result<Outcome> {
    let (buffered, bar) = open_ldif(file)?;
    let ctx = load_ctx(dir, true);
    // A child listed before its parent waits for it.
    let mut adder = dir
        .store
        .bulk_add::<(usize, String)>(ctx)
        .keep_going()
        .parent_first();
    let mut refused = 0u64;
    for record in LdifReader::new(buffered) {
        match record {
            Ok(LdifRecord::Content { line, entry }) => {
                let dn = entry.dn.to_string();
                adder
                    .push((line, dn), entry)
                    .map_err(|e| failure(file, e))?;
                refused += report(&bar, &mut adder);
            }
            Ok(LdifRecord::Change { line, .. }) => {
                // Reported in input order: the queued adds' refusals come first.
                flush_and_report(file, &bar, &mut adder, &mut refused)?;
                refused += 1;
                bar.suspend(|| {
                    eprintln!(
                        "{WHO}: could not parse entry (line={line}): change records are not \
                         supported here; use ldapmodify"
                    );
                });
            }
            Err(e) if e.reason.starts_with("read error") => {
                flush_and_report(file, &bar, &mut adder, &mut refused)?;
                return Err(anyhow::anyhow!("{}: {e}", file.display()));
            }
            Err(e) => {
                flush_and_report(file, &bar, &mut adder, &mut refused)?;
                refused += 1;
                bar.suspend(|| {
                    eprintln!("{WHO}: could not parse entry (line={}): {e}", e.record);
                });
            }
        }
    }
    // Entries whose parent never came are refused now (noSuchObject), in input order.
    adder.release_held().map_err(|e| failure(file, e))?;
    flush_and_report(file, &bar, &mut adder, &mut refused)?;
    let added = adder.finish().map_err(|e| failure(file, e))?;
    bar.finish_and_clear();
    Ok(Outcome { added, refused })
}

/// Writes the queued adds and reports the entries refused so far.
fn flush_and_report(
    file: &Path,
    bar: &indicatif::ProgressBar,
    adder: &mut BulkAdd<'_, (usize, String)>,
    refused: &mut u64,
) -> Result<()> {
    adder.flush().map_err(|e| failure(file, e))?;
    *refused += report(bar, adder);
    Ok(())
}

/// Prints one line per entry refused since the last call; returns how many.
fn report(bar: &indicatif::ProgressBar, adder: &mut BulkAdd<'_, (usize, String)>) -> u64 {
    let skipped = adder.take_skipped();
    if skipped.is_empty() {
        return 0;
    }
    bar.suspend(|| {
        for BulkAddError {
            tag: (line, dn),
            error,
        } in &skipped
        {
            let matched = error
                .matched_dn()
                .map(|m| format!(" (matched DN: {m})"))
                .unwrap_or_default();
            eprintln!(
                "{WHO}: dn=\"{dn}\" (line={line}): ({}) {error}{matched}",
                error.code().code()
            );
        }
    });
    skipped.len() as u64
}

/// A failure of the store that stops even a continue-mode load.
fn failure(file: &Path, e: BulkAddError<(usize, String)>) -> anyhow::Error {
    let (line, dn) = e.tag;
    anyhow::anyhow!(
        "{}:{line}: {dn}: {} ({})",
        file.display(),
        e.error,
        e.error.code()
    )
}

/// `file` (`-`: stdin) as a buffered reader, read through a progress bar of its size
/// (indicatif draws it only when stderr is a terminal), and the bar.
///
/// Errors: the file cannot be opened.
pub(crate) fn open_ldif(file: &Path) -> Result<(Box<dyn BufRead>, indicatif::ProgressBar)> {
    let (reader, len): (Box<dyn Read>, u64) = if file.as_os_str() == "-" {
        (Box::new(std::io::stdin()), 0)
    } else {
        let f =
            std::fs::File::open(file).with_context(|| format!("cannot open {}", file.display()))?;
        let len = f.metadata().map(|m| m.len()).unwrap_or(0);
        (Box::new(f), len)
    };
    let bar = indicatif::ProgressBar::new(len);
    bar.set_style(
        indicatif::ProgressStyle::with_template(
            "{bar:40} {bytes}/{total_bytes} {per_sec} eta {eta}",
        )
        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    let buffered: Box<dyn BufRead> = Box::new(BufReader::new(bar.wrap_read(reader)));
    Ok((buffered, bar))
}

/// The write context of a load: modifiersName/creatorsName are the rootdn (none without
/// one); `import` keeps operational attributes given in the input, as slapadd.
pub(crate) fn load_ctx(dir: &Directory, import: bool) -> WriteCtx {
    WriteCtx {
        modifier: dir
            .rootdn
            .as_ref()
            .map(|(d, _)| d.clone())
            .unwrap_or_default(),
        import,
    }
}
