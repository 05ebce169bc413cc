//! The store's errors: LDAP outcomes with a fixed result code, and storage failures.

use oxldap_proto::{Dn, ResultCode};
use oxldap_schema::SchemaError;

/// Why a store operation did not happen. Outcomes (every variant but [`StoreError::Storage`]
/// and [`StoreError::Corrupt`]) are normal LDAP results; failures are logged by the caller.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The target entry (or the parent of an entry to add) does not exist. `matched` is the
    /// longest existing ancestor, reported as matchedDN (RFC 4511 §4.1.9).
    #[error("no such object")]
    NoSuchObject {
        /// The deepest existing superior of the missing entry, if any.
        matched: Option<Dn>,
    },
    /// An entry with that DN exists already (RFC 4511 §4.7, §4.9).
    #[error("entry already exists")]
    AlreadyExists,
    /// The entry has subordinates (RFC 4511 §4.8).
    #[error("subordinate objects must be deleted first")]
    NotAllowedOnNonLeaf,
    /// The DN lies outside every naming context this server holds (slapd: 53).
    #[error("no global superior knowledge")]
    OutsideNamingContexts,
    /// A modify DN whose new DN lies outside the naming context of the entry, or that
    /// renames a suffix entry (slapd's frontend: affectsMultipleDSAs, 71, "cannot rename
    /// between DSAs").
    #[error("cannot rename between DSAs")]
    RenameBetweenContexts,
    /// A modify add of a value already present (RFC 4511 §4.6).
    #[error("modify/add: {attr}: value #{index} already exists")]
    ValueExists {
        /// The attribute description.
        attr: String,
        /// Index of the value in the request.
        index: usize,
    },
    /// A modify delete of a value or attribute that is not present (RFC 4511 §4.6).
    #[error("modify/delete: {attr}: no such value")]
    NoSuchValue {
        /// The attribute description.
        attr: String,
    },
    /// A modify increment of an attribute that is not present (RFC 4525 §2).
    #[error("modify/increment: {attr}: no such attribute")]
    NoSuchAttributeToIncrement {
        /// The attribute description.
        attr: String,
    },
    /// A modify increment of a value that is not an integer (RFC 4525 §2).
    #[error("modify/increment: {attr}: value is not an integer")]
    NotAnInteger {
        /// The attribute description.
        attr: String,
    },
    /// A modify increment whose operand or result does not fit in 128 bits: refused
    /// rather than wrapped (slapd wraps at 64 bits).
    #[error("modify/increment: {attr}: value out of range")]
    IncrementOutOfRange {
        /// The attribute description.
        attr: String,
    },
    /// An attribute type the schema does not define.
    /// A value listed twice in one change or one add (slapd's frontend:
    /// attributeOrValueExists, "value #N provided more than once").
    #[error("{attr}: value #{index} provided more than once")]
    DuplicateValue {
        /// The attribute description.
        attr: String,
        /// The position of the first of the two equal values in the request.
        index: usize,
    },
    /// An attribute type listed twice in one add (slapd: attributeOrValueExists).
    #[error("attribute '{attr}' provided more than once")]
    DuplicateAttribute {
        /// The attribute description.
        attr: String,
    },
    /// An increment change without exactly one value (slapd's frontend: protocolError).
    #[error("modify/increment operation requires single value")]
    IncrementValues {
        /// The attribute description as requested.
        attr: String,
    },
    /// An increment of an attribute whose syntax is not Integer (RFC 4525 §2; slapd:
    /// constraintViolation).
    #[error("{attr}: attribute syntax inappropriate for increment")]
    NotIncrementable {
        /// The attribute description.
        attr: String,
    },
    #[error("{attr}: attribute type undefined")]
    UndefinedAttributeType {
        /// The attribute description as given.
        attr: String,
    },
    /// An operational attribute type written with options (`memberOf;lang-en`): slapd's
    /// `slap_mods_check` refuses these as undefined (17) before looking at the options.
    #[error("{attr}: operational attribute with options undefined")]
    OperationalWithOptions {
        /// The attribute description as given.
        attr: String,
    },
    /// An attribute clients may not write (NO-USER-MODIFICATION, RFC 4512 §4.1.2).
    #[error("{attr}: no user modification allowed")]
    NoUserModification {
        /// The attribute description.
        attr: String,
    },
    /// More than one value for a SINGLE-VALUE attribute (RFC 4512 §4.1.2).
    #[error("{attr}: multiple values provided")]
    SingleValued {
        /// The attribute description.
        attr: String,
    },
    /// An attribute in an add request with no values (RFC 4511 §4.7).
    #[error("{attr}: no values for attribute type")]
    NoValues {
        /// The attribute description.
        attr: String,
    },
    /// A modify that would remove a value of the RDN (slapd answers namingViolation, 64;
    /// RFC 4511 §4.6 would say notAllowedOnRDN, 67 — see cases/LOG.md).
    #[error("value of naming attribute '{attr}' is not present in entry")]
    RdnValueRemoved {
        /// The naming attribute.
        attr: String,
    },
    /// The entry would have no objectClass attribute.
    #[error("no objectClass attribute")]
    NoObjectClass,
    /// A modify DN whose new superior is the entry itself or one of its descendants.
    #[error("new superior is the entry or one of its subordinates")]
    MoveUnderSelf,
    /// A modify DN whose new superior does not exist (slapd: 32 without matchedDN).
    #[error("new superior not found")]
    NoSuchNewSuperior,
    /// memberof-dangling error: a member DN names no entry (slapo-memberof(5)).
    #[error("{attr}: member does not exist")]
    DanglingMember {
        /// The membership attribute.
        attr: String,
        /// The configured result code (`memberof-dangling-error`).
        code: ResultCode,
    },
    /// A [`crate::WriteHook`] (an LDAP control such as the assertion, RFC 4528) refused
    /// the write; nothing was committed.
    #[error(transparent)]
    Refused(#[from] crate::hook::HookRefusal),
    /// An `index` directive the schema cannot serve (unknown attribute, `sub` without a
    /// substrings rule).
    #[error("{reason}")]
    IndexConfig {
        /// What is wrong.
        reason: String,
    },
    /// A [`crate::Snapshot`] was taken from a store configured differently from the one it
    /// is restored into (its entries would be unreachable, or its postings would not
    /// match the configured indexes); nothing was written.
    #[error(
        "cannot restore a snapshot of a differently configured server: the {what} differ \
         (snapshot: {snapshot}; this server: {store})"
    )]
    SnapshotMismatch {
        /// What differs: `suffixes`, `index configurations` or `schemas`.
        what: &'static str,
        /// The snapshot's side, as text.
        snapshot: String,
        /// The target store's side, as text.
        store: String,
    },
    /// The database was written for other suffixes than the configuration names
    /// (`Store::open`; an empty database takes the configured ones).
    #[error(
        "the database holds the naming context {stored}, but the configuration's suffix is \
         {configured}: refusing to serve it under another suffix (use the configuration it \
         was written with, or export it and import the LDIF with the new suffix into an \
         empty folder)"
    )]
    SuffixMismatch {
        /// The suffixes recorded in the database.
        stored: String,
        /// The configured suffixes.
        configured: String,
    },
    /// Schema refused a DN or value.
    #[error(transparent)]
    Schema(#[from] SchemaError),
    /// The database failed; the detail is logged, never sent to a client.
    #[error("storage failure: {0}")]
    Storage(#[from] sled::Error),
    /// Another process holds the database folder (sled allows one process per database).
    #[error(
        "the database in {path} is in use by another process (a running oxldap server?); \
             to copy a running server's data use `oxldap backup -H ldap://HOST:PORT/ DEST`, \
             otherwise stop the server first"
    )]
    Locked {
        /// The data folder.
        path: String,
    },
    /// The database records a storage format this binary cannot read.
    #[error("{}", format_message(*found, *supported))]
    Format {
        /// The format recorded in the database (`meta` key `format`).
        found: u8,
        /// The format this binary reads and writes.
        supported: u8,
    },
    /// A write or flush to disk failed earlier (a full disk): the store is in the
    /// fail-stop state of `crate::failstop` and answers nothing until it is reopened.
    #[error(
        "the database could not write to disk earlier (disk full?) and refuses every \
         operation until oxldap is restarted; acknowledged writes are on disk"
    )]
    Failed,
    /// The database files are damaged so that sled cannot open them (it panicked while
    /// recovering them; see `Store::open`).
    #[error(
        "the database in {path} is damaged and cannot be opened ({cause}); restore it from a \
         backup with `oxldap restore` (or `oxldap import` of an export) into an empty folder"
    )]
    Damaged {
        /// The data folder.
        path: String,
        /// What sled reported.
        cause: String,
    },
    /// The folder holds a restore that was cut off before its end (killed, a crash, a
    /// full disk): only part of the backup is in it (tester 13, finding 2).
    #[error(
        "the database holds an interrupted restore: only part of the backup was loaded; \
         run `oxldap restore --force BACKUP` again (or restore into an empty folder)"
    )]
    RestoreInterrupted,
    /// A stored record could not be decoded.
    #[error("corrupt record in tree {tree}")]
    Corrupt {
        /// The sled tree holding the record.
        tree: &'static str,
    },
}

impl StoreError {
    /// The LDAP result code this error is answered with.
    pub fn code(&self) -> ResultCode {
        match self {
            StoreError::NoSuchObject { .. } | StoreError::NoSuchNewSuperior => {
                ResultCode::NoSuchObject
            }
            StoreError::AlreadyExists => ResultCode::EntryAlreadyExists,
            StoreError::NotAllowedOnNonLeaf => ResultCode::NotAllowedOnNonLeaf,
            StoreError::RenameBetweenContexts => ResultCode::AffectsMultipleDsas,
            StoreError::Failed => ResultCode::Unavailable,
            StoreError::OutsideNamingContexts
            | StoreError::MoveUnderSelf
            | StoreError::SnapshotMismatch { .. } => ResultCode::UnwillingToPerform,
            StoreError::ValueExists { .. }
            | StoreError::DuplicateValue { .. }
            | StoreError::DuplicateAttribute { .. } => ResultCode::AttributeOrValueExists,
            StoreError::NoSuchValue { .. } | StoreError::NoSuchAttributeToIncrement { .. } => {
                ResultCode::NoSuchAttribute
            }
            StoreError::NotAnInteger { .. } | StoreError::IncrementOutOfRange { .. } => {
                ResultCode::ConstraintViolation
            }
            StoreError::UndefinedAttributeType { .. }
            | StoreError::OperationalWithOptions { .. } => ResultCode::UndefinedAttributeType,
            StoreError::NoUserModification { .. } | StoreError::SingleValued { .. } => {
                ResultCode::ConstraintViolation
            }
            StoreError::NoValues { .. } | StoreError::IncrementValues { .. } => {
                ResultCode::ProtocolError
            }
            StoreError::NotIncrementable { .. } => ResultCode::ConstraintViolation,
            StoreError::RdnValueRemoved { .. } => ResultCode::NamingViolation,
            StoreError::NoObjectClass => ResultCode::ObjectClassViolation,
            StoreError::DanglingMember { code, .. } => *code,
            StoreError::Refused(r) => r.code,
            StoreError::Schema(e) => e.code(),
            StoreError::Storage(_)
            | StoreError::Corrupt { .. }
            | StoreError::Damaged { .. }
            | StoreError::RestoreInterrupted
            | StoreError::SuffixMismatch { .. }
            | StoreError::IndexConfig { .. }
            | StoreError::Locked { .. }
            | StoreError::Format { .. } => ResultCode::Other,
        }
    }

    /// The matchedDN to report (RFC 4511 §4.1.9), if any.
    pub fn matched_dn(&self) -> Option<&Dn> {
        match self {
            StoreError::NoSuchObject { matched } => matched.as_ref(),
            _ => None,
        }
    }

    /// Whether this is a failure of the store rather than an LDAP outcome.
    pub fn is_failure(&self) -> bool {
        matches!(
            self,
            StoreError::Storage(_)
                | StoreError::Corrupt { .. }
                | StoreError::Damaged { .. }
                | StoreError::RestoreInterrupted
                | StoreError::SuffixMismatch { .. }
                | StoreError::IndexConfig { .. }
                | StoreError::Locked { .. }
                | StoreError::Format { .. }
        )
    }
}

/// The message for a database in another storage format: which side is newer and what to
/// do about it.
fn format_message(found: u8, supported: u8) -> String {
    if found > supported {
        format!(
            "the database has storage format {found}, written by a newer oxldap; this binary \
             reads format {supported} only: run the newer oxldap, or with it `oxldap backup` \
             to LDIF and `oxldap restore` here"
        )
    } else {
        format!(
            "the database has storage format {found}, older than this binary's format \
             {supported}, and no migration from it exists: with the older oxldap run \
             `oxldap backup` to LDIF, then `oxldap restore` it with this one"
        )
    }
}

impl From<sled::transaction::TransactionError<StoreError>> for StoreError {
    fn from(e: sled::transaction::TransactionError<StoreError>) -> StoreError {
        match e {
            sled::transaction::TransactionError::Abort(e) => e,
            sled::transaction::TransactionError::Storage(e) => StoreError::Storage(e),
        }
    }
}
