//! Helpers shared by the store's unit tests (compiled for tests only).
#![allow(clippy::unwrap_used)]

use crate::{Store, StoreOptions, WriteCtx};
use oxldap_proto::{Dn, Entry};
use oxldap_schema::Schema;
use std::sync::Arc;

/// An in-memory store for `dc=example,dc=com` with the built-in schema, no overlays and
/// no indexes.
pub(crate) fn store() -> Store {
    store_with(Default::default())
}

/// [`store`] with the attribute indexes `indexes`.
pub(crate) fn store_with(indexes: crate::IndexConfig) -> Store {
    let opts = StoreOptions {
        suffixes: vec![Dn::parse("dc=example,dc=com").unwrap()],
        server_id: 1,
        durable: false,
        fixed_clock: None,
        overlays: Default::default(),
        indexes,
        changelog_limit: None,
    };
    Store::open_temporary(Arc::new(Schema::builtin()), opts).unwrap()
}

/// Adds the entry `dn` with the one object class `oc`.
pub(crate) fn add(s: &Store, dn: &str, oc: &str) {
    let mut e = Entry::new(Dn::parse(dn).unwrap());
    e.push_value("objectClass", oc.as_bytes().to_vec());
    s.add(e, &WriteCtx::default()).unwrap();
}
