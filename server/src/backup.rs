//! The online backup search: a search by the rootdn with base [`BACKUP_DN`] answers with
//! a consistent point-in-time copy of the database (`oxldap backup`).
//!
//! sled lets one process open a database, so a running server's data folder cannot be read
//! by `oxldap export`; the server itself makes the copy ([`oxldap_store::Store::consistent_copy`],
//! under the store's write lock, so writers wait only for a memory copy and readers not at
//! all) and streams it back over LDAP. The client writes the file, so the copy lands where
//! the operator can write even when the server runs as an unprivileged service user.
//!
//! The answer is, in order: one entry named [`BACKUP_DN`] carrying `contextCSN` (the point
//! in time of the copy; absent for a never-written database) and `monitorCounter` (the
//! number of entries that follow), then every entry of the database exactly as stored
//! (all user and stored operational attributes, entryUUID and entryCSN included, no
//! computed attribute), parents before children, whatever the filter and attribute list.
//! There is no RFC for this; slapd's closest counterpart is `slapcat` on a back-mdb
//! database, which reads a consistent MVCC snapshot.

use crate::directory::Directory;
use crate::error::LdapError;
use crate::session::Identity;
use ldap3_proto::proto::{LdapPartialAttribute, LdapSearchResultEntry};
use oxldap_proto::{Dn, Entry, ResultCode};
use oxldap_store::BackupImage;

/// The base DN that asks for a backup; it names no entry of any naming context.
pub const BACKUP_DN: &str = "cn=Backup";

/// The backup answer for a search with base `base`, or None when `base` is not
/// [`BACKUP_DN`] (the caller then searches as usual).
///
/// Errors: insufficientAccessRights (50) for anyone but the rootdn; storage failures.
pub fn image_for(
    dir: &Directory,
    who: &Identity,
    base: &Dn,
) -> Result<Option<BackupImage>, LdapError> {
    // Cheap test first: every search passes here.
    let only = base.rdns.first().and_then(|r| r.avas.first());
    if base.rdns.len() != 1
        || !only.is_some_and(|a| {
            a.value_str()
                .is_some_and(|v| v.eq_ignore_ascii_case("backup"))
        })
    {
        return Ok(None);
    }
    let (Ok(norm), Ok(Ok(want))) = (
        dir.schema.normalize_dn(base),
        Dn::parse(BACKUP_DN).map(|d| dir.schema.normalize_dn(&d)),
    ) else {
        return Ok(None);
    };
    if norm != want {
        return Ok(None);
    }
    if !who.is_root() {
        return Err(LdapError::new(
            ResultCode::InsufficientAccessRights,
            "only the rootdn may take a backup",
        ));
    }
    let image = dir.store.consistent_copy()?;
    tracing::info!(
        entries = image.entries.len(),
        csn = image
            .csn
            .as_ref()
            .map(|c| c.to_ldap_string())
            .unwrap_or_default(),
        "backup copy taken"
    );
    Ok(Some(image))
}

/// The header entry of a backup answer (see the module documentation).
pub fn header(image: &BackupImage) -> LdapSearchResultEntry {
    let mut attributes = vec![LdapPartialAttribute {
        atype: "monitorCounter".to_string(),
        vals: vec![image.entries.len().to_string().into_bytes()],
    }];
    if let Some(c) = &image.csn {
        attributes.push(LdapPartialAttribute {
            atype: "contextCSN".to_string(),
            vals: vec![c.to_ldap_string().into_bytes()],
        });
    }
    LdapSearchResultEntry {
        dn: BACKUP_DN.to_string(),
        attributes,
    }
}

/// An entry of the copy on the wire: every attribute, unfiltered.
pub fn raw_entry(entry: Entry) -> LdapSearchResultEntry {
    entry.into_search_result()
}
