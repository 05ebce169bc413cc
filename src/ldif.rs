//! LDIF in and out of a directory through the server's own operation handlers.

use crate::builder::other;
use ldap3_proto::proto::{
    LdapAddRequest, LdapModify, LdapModifyDNRequest, LdapModifyRequest, LdapModifyType,
    LdapPartialAttribute,
};
use oxldap_proto::ldif::{LdifChange, LdifReader, LdifRecord};
use oxldap_proto::Entry;
use oxldap_server::error::LdapError;
use oxldap_server::session::Identity;
use oxldap_server::{ops, Directory};
use oxldap_store::{Mod, ModOp, WriteCtx};

/// Something [`crate::Server::add`] accepts as one entry: an [`Entry`], or LDIF text
/// holding exactly one content record.
pub trait ToEntry {
    /// The entry; a DN that does not parse is invalidDNSyntax (34), as on the wire; other
    /// LDIF that does not parse, or holds no or several records, is an [`LdapError`] with
    /// result code other (80) and the LDIF line in the message.
    fn to_entry(self) -> Result<Entry, LdapError>;
}

impl ToEntry for Entry {
    fn to_entry(self) -> Result<Entry, LdapError> {
        Ok(self)
    }
}

impl ToEntry for &Entry {
    fn to_entry(self) -> Result<Entry, LdapError> {
        Ok(self.clone())
    }
}

impl ToEntry for &str {
    fn to_entry(self) -> Result<Entry, LdapError> {
        let mut records = LdifReader::new(self.as_bytes());
        let first = records
            .next()
            .ok_or_else(|| other("invalid LDIF: no record"))?
            .map_err(|e| {
                // A DN that does not parse is what the wire answers invalidDNSyntax (34)
                // for (RFC 4511 §4.7); other LDIF faults have no wire counterpart.
                dn_error(self).unwrap_or_else(|| other(format!("invalid LDIF: {e}")))
            })?;
        if records.next().is_some() {
            return Err(other(
                "invalid LDIF: more than one record (use load_ldif for several)",
            ));
        }
        match first {
            LdifRecord::Content { entry, .. } => Ok(entry),
            LdifRecord::Change { line, .. } => Err(other(format!(
                "invalid LDIF: line {line}: a change record, not an entry"
            ))),
        }
    }
}

/// The invalidDNSyntax error of the first record's `dn:` line (`dn::` base64 too), if
/// that DN does not parse (RFC 4514); None when it parses or there is none.
fn dn_error(text: &str) -> Option<LdapError> {
    let line = text.lines().find(|l| {
        let l = l.trim_start();
        !l.is_empty() && !l.starts_with('#') && !l.starts_with("version:")
    })?;
    let value = if let Some(b64) = line.strip_prefix("dn::") {
        use base64::Engine;
        let raw = base64::engine::general_purpose::STANDARD
            .decode(b64.trim())
            .ok()?;
        String::from_utf8(raw).ok()?
    } else {
        line.strip_prefix("dn:")?.trim().to_string()
    };
    oxldap_proto::Dn::parse(&value).err().map(LdapError::from)
}

impl ToEntry for &String {
    fn to_entry(self) -> Result<Entry, LdapError> {
        self.as_str().to_entry()
    }
}

impl ToEntry for String {
    fn to_entry(self) -> Result<Entry, LdapError> {
        self.as_str().to_entry()
    }
}

/// `code: message (matched DN: ...)` for messages.
pub(crate) fn describe(e: &LdapError) -> String {
    let mut s = e.code.to_string();
    if !e.message.is_empty() {
        s.push_str(": ");
        s.push_str(&e.message);
    }
    if !e.matched.is_empty() {
        s.push_str(" (matched DN: ");
        s.push_str(&e.matched);
        s.push(')');
    }
    s
}

pub(crate) fn add_request(entry: Entry) -> LdapAddRequest {
    let e = entry.into_search_result();
    LdapAddRequest {
        dn: e.dn,
        attributes: e.attributes,
    }
}

/// The wire form of modify changes and the indexes of increments (which `ldap3_proto`
/// cannot represent; the codec reports them the same way).
pub(crate) fn modify_request(dn: &str, mods: Vec<Mod>) -> (LdapModifyRequest, Vec<usize>) {
    let mut increments = Vec::new();
    let changes = mods
        .into_iter()
        .enumerate()
        .map(|(i, m)| LdapModify {
            operation: match m.op {
                ModOp::Add => LdapModifyType::Add,
                ModOp::Delete => LdapModifyType::Delete,
                ModOp::Replace => LdapModifyType::Replace,
                ModOp::Increment => {
                    increments.push(i);
                    LdapModifyType::Replace
                }
            },
            modification: LdapPartialAttribute {
                atype: m.attr.desc,
                vals: m.attr.values,
            },
        })
        .collect();
    (
        LdapModifyRequest {
            dn: dn.to_string(),
            changes,
        },
        increments,
    )
}

pub(crate) fn moddn_request(
    dn: &str,
    new_rdn: &str,
    delete_old_rdn: bool,
    new_superior: Option<&str>,
) -> LdapModifyDNRequest {
    LdapModifyDNRequest {
        dn: dn.to_string(),
        newrdn: new_rdn.to_string(),
        deleteoldrdn: delete_old_rdn,
        new_superior: new_superior.map(str::to_string),
    }
}

/// Applies every record of `text` as `who`: content records are added, change records
/// applied, through the same handlers as the wire. Returns the number of records. An
/// error names the record's line and DN.
///
/// As the rootdn (seed LDIF, [`crate::Server::load_ldif`]) access control does not apply
/// and an add is exactly the store's add, so content records take the store's chunked
/// bulk path ([`oxldap_store::BulkAdd`], issue 7): same checks, stamps, memberOf and
/// change-log records, fewer writes; an entry listed before its parent waits for it
/// ([`oxldap_store::BulkAdd::parent_first`]). Queued adds are written before any change record,
/// so a change sees every entry above it.
pub(crate) fn apply_ldif(dir: &Directory, who: &Identity, text: &str) -> Result<usize, LdapError> {
    // As `oxldap import` (slapadd): content records keep the operational attributes
    // they carry (entryUUID, entryCSN, timestamps, creatorsName, modifiersName,
    // structuralObjectClass, contextCSN, memberOf), so `export_ldif` / `oxldap export`
    // output seeds another server as is; userPassword is stored as written.
    let mut bulk = who.is_root().then(|| {
        // A child listed before its parent waits for it.
        dir.store
            .bulk_add::<(usize, String)>(WriteCtx {
                modifier: who.dn(),
                import: true,
            })
            .parent_first()
    });
    let refused = |e: oxldap_store::BulkAddError<(usize, String)>| {
        let (line, dn) = e.tag;
        at_line(line, &dn, LdapError::from(e.error))
    };
    let mut n = 0;
    for record in LdifReader::new(text.as_bytes()) {
        let record = match record {
            Ok(r) => r,
            Err(e) => {
                if let Some(b) = bulk.as_mut() {
                    b.flush().map_err(refused)?;
                }
                return Err(other(format!("invalid LDIF: {e}")));
            }
        };
        let (line, dn, outcome) = match (record, bulk.as_mut()) {
            (LdifRecord::Content { line, entry }, Some(b)) => {
                let dn = entry.dn.to_string();
                b.push((line, dn), entry).map_err(refused)?;
                n += 1;
                continue;
            }
            (record, Some(b)) => {
                b.flush().map_err(refused)?;
                apply_record(dir, who, record)?
            }
            (record, None) => apply_record(dir, who, record)?,
        };
        outcome.map_err(|e| at_line(line, &dn, e))?;
        n += 1;
    }
    if let Some(b) = bulk {
        b.finish().map_err(refused)?;
    }
    Ok(n)
}

/// `e` with the record's line and DN in front of its message.
fn at_line(line: usize, dn: &str, e: LdapError) -> LdapError {
    LdapError {
        code: e.code,
        matched: e.matched.clone(),
        message: format!("line {line}: {dn}: {}", e.message).into(),
    }
}

/// Applies one LDIF record through the operation handlers; returns its line, its DN and
/// the outcome.
fn apply_record(
    dir: &Directory,
    who: &Identity,
    record: LdifRecord,
) -> Result<(usize, String, Result<(), LdapError>), LdapError> {
    Ok(match record {
        LdifRecord::Content { line, entry } => {
            let dn = entry.dn.to_string();
            (line, dn, ops::add(dir, who, add_request(entry)))
        }
        LdifRecord::Change { line, dn, change } => {
            let dn = dn.to_string();
            let outcome = match change {
                LdifChange::Add(attrs) => {
                    let entry = Entry {
                        dn: oxldap_proto::Dn::parse(&dn)?,
                        attrs,
                    };
                    ops::add(dir, who, add_request(entry))
                }
                LdifChange::Delete => ops::delete(dir, who, &dn),
                LdifChange::Modify(changes) => {
                    let mods = changes
                        .into_iter()
                        .map(|m| Mod {
                            op: match m.op {
                                oxldap_proto::ModOp::Add => ModOp::Add,
                                oxldap_proto::ModOp::Delete => ModOp::Delete,
                                oxldap_proto::ModOp::Replace => ModOp::Replace,
                                oxldap_proto::ModOp::Increment => ModOp::Increment,
                            },
                            attr: m.attr,
                        })
                        .collect();
                    let (req, inc) = modify_request(&dn, mods);
                    ops::modify(dir, who, req, &inc)
                }
                LdifChange::ModDn {
                    new_rdn,
                    delete_old_rdn,
                    new_superior,
                } => {
                    let sup = new_superior.map(|s| s.to_string());
                    ops::modify_dn(
                        dir,
                        who,
                        moddn_request(&dn, &new_rdn.to_string(), delete_old_rdn, sup.as_deref()),
                    )
                }
            };
            (line, dn, outcome)
        }
    })
}
