//! oxldap as a library: an LDAP server you start inside a test in milliseconds, seed,
//! drive in-process or over TCP, assert on, snapshot and reset — in the spirit of the
//! UnboundID LDAP SDK's `InMemoryDirectoryServer`.
//!
//! Every server has its own store, listener and cancellation token; there is no global
//! state, so any number of servers run in one process at once.
//!
//! ```
//! use oxldap::{Scope, Server};
//!
//! # fn main() -> Result<(), oxldap::LdapError> {
//! // In memory, on 127.0.0.1 with an ephemeral port, with the default Axigen layout.
//! let server = Server::builder()
//!     .ldif(
//!         "dn: uid=ana,ou=Users,o=localdomain,dc=localdomain,dc=test\n\
//!          objectClass: inetOrgPerson\n\
//!          uid: ana\n\
//!          cn: Ana Pop\n\
//!          sn: Pop\n\
//!          mail: ana@localdomain.test\n",
//!     )
//!     .start_blocking()
//!     .expect("oxldap starts");
//! assert!(server.url().starts_with("ldap://127.0.0.1:"));
//!
//! // In-process operations return what the wire would.
//! let found = server.search("dc=localdomain,dc=test", Scope::Sub, "(uid=ana)", &["mail"])?;
//! assert_eq!(found.len(), 1);
//! server.assert_attribute_values(
//!     "uid=ana,ou=Users,o=localdomain,dc=localdomain,dc=test",
//!     "mail",
//!     &["ana@localdomain.test"],
//! );
//!
//! // Reset between tests.
//! let clean = server.snapshot()?;
//! server.delete("uid=ana,ou=Users,o=localdomain,dc=localdomain,dc=test")?;
//! server.restore(&clean)?;
//! server.assert_entry_exists("uid=ana,ou=Users,o=localdomain,dc=localdomain,dc=test");
//! server.shutdown().expect("clean shutdown");
//! # Ok(())
//! # }
//! ```
//!
//! In an async test, use [`ServerBuilder::start`] and `shutdown().await`; the server then
//! runs on the caller's tokio runtime (use a multi-thread runtime if the test also drives
//! it with a blocking client).
#![deny(clippy::unwrap_used, clippy::panic, missing_docs)]

mod assertions;
mod builder;
mod ldif;
mod server;

pub use assertions::AssertionError;
pub use builder::{ServerBuilder, StartError, DEFAULT_SUFFIX};
pub use ldif::ToEntry;
pub use server::{BlockingServer, Server};

pub use oxldap_proto::{Attribute, Dn, Entry, ResultCode};
pub use oxldap_server::config::Config;
pub use oxldap_server::error::LdapError;
pub use oxldap_server::Directory;
pub use oxldap_store::{Mod, ModOp, Scope, Snapshot};

/// Builds modify changes for [`Server::modify`].
///
/// ```
/// let m = oxldap::mods::replace("mail", ["ana@localdomain.test"]);
/// assert_eq!(m.op, oxldap::ModOp::Replace);
/// ```
pub mod mods {
    use super::{Attribute, Mod, ModOp};

    fn make<I, V>(op: ModOp, attr: &str, values: I) -> Mod
    where
        I: IntoIterator<Item = V>,
        V: AsRef<[u8]>,
    {
        Mod {
            op,
            attr: Attribute {
                desc: attr.to_string(),
                values: values.into_iter().map(|v| v.as_ref().to_vec()).collect(),
            },
        }
    }

    /// Adds values (RFC 4511 §4.6 add).
    pub fn add<I: IntoIterator<Item = V>, V: AsRef<[u8]>>(attr: &str, values: I) -> Mod {
        make(ModOp::Add, attr, values)
    }

    /// Deletes the listed values, or the whole attribute when none are listed.
    pub fn delete<I: IntoIterator<Item = V>, V: AsRef<[u8]>>(attr: &str, values: I) -> Mod {
        make(ModOp::Delete, attr, values)
    }

    /// Replaces all values (none: removes the attribute).
    pub fn replace<I: IntoIterator<Item = V>, V: AsRef<[u8]>>(attr: &str, values: I) -> Mod {
        make(ModOp::Replace, attr, values)
    }

    /// Adds `by` to the integer value (RFC 4525 increment).
    pub fn increment(attr: &str, by: i64) -> Mod {
        make(ModOp::Increment, attr, [by.to_string()])
    }
}

/// Operational attributes that change on every write or start and are ignored by
/// [`Server::assert_directory_equals_ldif`], with `structuralObjectClass`, which is
/// derived from objectClass.
pub const VOLATILE_ATTRIBUTES: &[&str] = &[
    "entryUUID",
    "entryCSN",
    "createTimestamp",
    "modifyTimestamp",
    "creatorsName",
    "modifiersName",
    "structuralObjectClass",
];
