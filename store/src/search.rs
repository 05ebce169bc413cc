//! Search: scope walking over the DN trees and a full filter check on every candidate
//! (RFC 4511 §4.5). Indexes and a planner come later (issue 4); this walks the scope.

use crate::error::StoreError;
use crate::keys;
use crate::store::Store;
use oxldap_proto::{Dn, Entry, Filter};

/// The search scope (RFC 4511 §4.5.1.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// Only the base entry.
    Base,
    /// Only the immediate subordinates of the base.
    One,
    /// The base and all its subordinates.
    Sub,
    /// All subordinates of the base, not the base itself (draft-sermersheim-ldap-subordinate-scope).
    Children,
}

/// What the callback of [`Store::search`] wants next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SearchControl {
    /// Keep sending entries.
    Continue,
    /// Stop the search (size limit reached, abandoned, client gone).
    Stop,
}

impl Store {
    /// Calls `each` with every entry in `scope` of `base` that matches `filter`, with
    /// computed operational attributes, in DN order. The base must exist.
    ///
    /// Errors: noSuchObject (32) with matchedDN when the base does not exist (or lies outside
    /// the naming contexts), invalidDNSyntax (34), storage failures.
    pub fn search(
        &self,
        base: &Dn,
        scope: Scope,
        filter: &Filter,
        mut each: impl FnMut(Entry) -> SearchControl,
    ) -> Result<(), StoreError> {
        let norm = self.schema.normalize_dn(base)?;
        let Some(base_id) = self.id_of(&norm)? else {
            let matched = if self.holds(&norm) {
                self.matched(&norm)?
            } else {
                None
            };
            return Err(StoreError::NoSuchObject { matched });
        };
        let mut visit = |id: u64| -> Result<SearchControl, StoreError> {
            // The entry may have vanished since its id was read (no cross-tree snapshot).
            let Some((_, stored)) = self.load(id)? else {
                return Ok(SearchControl::Continue);
            };
            let entry = self.present(id, stored);
            if self.schema.matches(filter, &entry) {
                return Ok(each(entry));
            }
            Ok(SearchControl::Continue)
        };
        match scope {
            Scope::Base => {
                visit(base_id)?;
            }
            Scope::One => {
                for child in self.child_ids(base_id) {
                    if visit(child?)? == SearchControl::Stop {
                        break;
                    }
                }
            }
            Scope::Sub | Scope::Children => {
                for kv in self.trees.dn2id.scan_prefix(keys::dn_key(&norm)) {
                    let (_, v) = kv?;
                    let id = keys::decode_id(&v).ok_or(StoreError::Corrupt { tree: "dn2id" })?;
                    if scope == Scope::Children && id == base_id {
                        continue;
                    }
                    if visit(id)? == SearchControl::Stop {
                        break;
                    }
                }
            }
        }
        Ok(())
    }
}
