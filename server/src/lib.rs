//! The oxldap LDAP server: configuration (slapd.conf syntax), the TCP listener, sessions,
//! operation dispatch and the mapping of every outcome to an LDAPResult.
//!
//! This is the only crate that depends on tokio or does socket IO; the store below it is
//! synchronous and is called on the blocking pool. `ldap3_proto` requests are decoded by
//! `oxldap_proto::codec` and answered here; [`error::LdapError`] is the one place a result
//! code and message are chosen for the wire.
//!
//! Entry points: [`listener::serve`] runs a server on a bound listener until a
//! [`CancellationToken`] fires; [`directory::Directory::open`] builds the served directory
//! from a [`config::Config`].

pub mod acl;
pub mod backup;
pub mod cancel;
pub mod changelog_view;
pub mod config;
pub mod config_check;
mod connection;
pub mod controls;
pub mod directory;
pub mod error;
pub mod limits;
pub mod listener;
pub mod monitor;
pub mod ops;
pub mod password;
pub mod reload;
pub mod session;
pub mod sort;
pub mod stats;
pub mod sync;
pub mod testhook;
pub mod tls;

pub use directory::{Directory, OpenError, OpenOptions};
pub use listener::{serve, ServeOptions};
pub use tokio_util::sync::CancellationToken;
