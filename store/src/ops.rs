//! The update operations with RFC 4511 semantics: add (§4.7), modify (§4.6), delete (§4.8)
//! and modify DN (§4.9). Each plans its change against the committed state under the write
//! lock, then commits one batch set (see [`Store::commit`]).

use crate::error::StoreError;
use crate::hook::{NoHook, WriteHook};
use crate::keys::{self, ROOT_ID};
use crate::store::{Store, StoredEntry};
use crate::txn::{ForUpdate, Txn};
use oxldap_proto::{Attribute, Dn, Entry, Rdn};
use oxldap_schema::NormDn;
use std::collections::HashSet;

/// Who performs a write and how, for the operational attributes it stamps.
#[derive(Debug, Clone, Default)]
pub struct WriteCtx {
    /// The authorization identity (creatorsName / modifiersName); the empty DN for
    /// anonymous.
    pub modifier: Dn,
    /// Offline load (`oxldap import`, slapadd): operational attributes given in the input
    /// (entryUUID, entryCSN, timestamps, creatorsName...) are kept instead of refused, and
    /// only missing ones are generated.
    pub import: bool,
}

/// A modify operation type (RFC 4511 §4.6, RFC 4525 increment).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ModOp {
    /// Add values, creating the attribute when needed.
    Add,
    /// Delete the listed values, or the whole attribute when none are listed.
    Delete,
    /// Replace all values (none: remove the attribute if present).
    Replace,
    /// Add the (single, integer) value to every value (RFC 4525).
    Increment,
}

/// One change of a modify request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mod {
    /// What to do.
    pub op: ModOp,
    /// The attribute description and values it applies to.
    pub attr: Attribute,
}

/// From this many present values on, a modify's add asks the attribute's equality index
/// whether a value is already there instead of normalizing every present value.
const INDEXED_PRESENCE_CHECK: usize = 64;

/// Operational attributes a client may never supply (RFC 4512 §3.4; NO-USER-MODIFICATION).
/// The store stamps them itself.
const STAMPED: &[&str] = &[
    "entryUUID",
    "entryCSN",
    "createTimestamp",
    "modifyTimestamp",
    "creatorsName",
    "modifiersName",
    "structuralObjectClass",
];

/// An add checked against the schema ([`Store::prepare_add`]), waiting to be placed in
/// the DN tree ([`Store::place_add`]).
#[derive(Debug)]
pub(crate) struct PreparedAdd {
    /// The normalized DN, or why the DN is invalid (reported first).
    norm: Result<NormDn, StoreError>,
    /// The frontend checks of the request ([`Store::precheck_add`]), reported after the
    /// DN's own errors and before the DN-tree checks, as slapd.
    request: Result<(), StoreError>,
    /// The entry to store, not stamped yet, or the first schema error (reported after
    /// the DN-tree checks, as slapd).
    checked: Result<Entry, StoreError>,
}

/// Where [`Store::place_add`] looks entries up: the committed entries ([`Store`]) or a
/// write's staged view of them ([`Txn`], read-your-writes).
pub(crate) trait Namespace {
    /// The id of the entry with normalized DN `dn`.
    fn id_of(&self, dn: &NormDn) -> Result<Option<u64>, StoreError>;
    /// The DN of entry `id`.
    fn dn_of(&self, id: u64) -> Result<Option<Dn>, StoreError>;
}

impl Namespace for Store {
    fn id_of(&self, dn: &NormDn) -> Result<Option<u64>, StoreError> {
        Store::id_of(self, dn)
    }
    fn dn_of(&self, id: u64) -> Result<Option<Dn>, StoreError> {
        self.load_dn(id)
    }
}

impl Namespace for Txn<'_> {
    fn id_of(&self, dn: &NormDn) -> Result<Option<u64>, StoreError> {
        Txn::id_of(self, dn)
    }
    fn dn_of(&self, id: u64) -> Result<Option<Dn>, StoreError> {
        Txn::dn_of(self, id)
    }
}

/// The longest existing ancestor of `dn` in `ns` (matchedDN, RFC 4511 §4.1.9), or None.
///
/// Walks down from the top, one RDN at a time, and stops at the first missing ancestor
/// below an existing one (entries form a tree: nothing exists below a missing entry).
/// So the cost follows the depth of the directory, not of `dn`: a request naming a DN of
/// 12,000 RDNs below a missing entry used to walk up from the bottom, one lookup and one
/// copy of the remaining RDNs per level, for seconds (quadratic), on a thread other
/// requests wait for. `naming_depth` is the depth of the deepest suffix: above it,
/// missing entries (`dc=test` above `dc=localdomain,dc=test`) do not stop the walk.
pub(crate) fn matched_in(
    ns: &dyn Namespace,
    dn: &NormDn,
    naming_depth: usize,
) -> Result<Option<Dn>, StoreError> {
    let n = dn.rdns.len();
    let mut found = None;
    for depth in 1..n {
        let ancestor = NormDn {
            rdns: dn.rdns.get(n - depth..).unwrap_or_default().to_vec(),
        };
        match ns.id_of(&ancestor)? {
            Some(id) => found = Some(id),
            None if found.is_some() || depth >= naming_depth => break,
            None => {}
        }
    }
    match found {
        Some(id) => ns.dn_of(id),
        None => Ok(None),
    }
}

impl Store {
    /// RFC 4512 §2.4.2: a write may not change the entry's structural object class
    /// (`classes_before` are its objectClass values before the write, `entry` the entry
    /// after it). Errors: objectClassModsProhibited (69) with slapd's text.
    fn check_structural_kept(
        &self,
        classes_before: &[Vec<u8>],
        entry: &Entry,
    ) -> Result<(), StoreError> {
        let before: Vec<&[u8]> = classes_before.iter().map(Vec::as_slice).collect();
        let after: Vec<&[u8]> = entry
            .values("objectClass")
            .iter()
            .map(Vec::as_slice)
            .collect();
        Ok(self.schema.check_object_class_change(&before, &after)?)
    }

    /// Adds `entry` (RFC 4511 §4.7). Attribute descriptions are stored under the schema's
    /// primary names; RDN values missing from the attributes are added; operational
    /// attributes are stamped.
    ///
    /// Errors: invalidDNSyntax (34), entryAlreadyExists (68, also for the empty DN),
    /// unwillingToPerform (53) outside the naming contexts, noSuchObject (32) with
    /// matchedDN for a missing parent, undefinedAttributeType (17), constraintViolation (19)
    /// for operational or SINGLE-VALUE violations, invalidAttributeSyntax (21),
    /// objectClassViolation (65) without objectClass.
    pub fn add(&self, entry: Entry, ctx: &WriteCtx) -> Result<(), StoreError> {
        self.add_with(entry, ctx, &mut NoHook)
    }

    /// [`Store::add`] with a [`WriteHook`] that sees the entry under the write lock and
    /// may refuse the write (LDAP controls: assertion, post-read).
    pub fn add_with(
        &self,
        entry: Entry,
        ctx: &WriteCtx,
        hook: &mut dyn WriteHook,
    ) -> Result<(), StoreError> {
        self.durable(self.add_locked(entry, ctx, hook))
    }

    /// The write itself, under the write lock; the caller waits for it to be durable
    /// after releasing the lock, so concurrent writers share one flush (group commit).
    fn add_locked(
        &self,
        entry: Entry,
        ctx: &WriteCtx,
        hook: &mut dyn WriteHook,
    ) -> Result<(), StoreError> {
        let prepared = self.prepare_add(entry, None, ctx);
        let _guard = self.lock_writes();
        let (norm, parent, mut new) = self.place_add(self, prepared)?;
        let mut t = Txn::new(self);
        self.stamp(&mut new, ctx, t.csn, true);
        let id = self.alloc_ids(1, &mut t.b)?;
        if hook.wants() {
            let image = StoredEntry {
                parent,
                entry: new.clone(),
            };
            hook.before(&self.present(id, image))?;
        }
        t.stage_new(&norm, id, StoredEntry { parent, entry: new });
        self.run_overlays(&mut t)?;
        self.hook_after(hook, &t, id)?;
        t.commit()
    }

    /// The first half of an add (RFC 4511 §4.7), which depends only on the entry and the
    /// schema, not on the stored entries, so it needs no lock and a bulk load runs it
    /// ahead of the writes ([`crate::bulk`]): the DN normalized, attribute descriptions
    /// under their primary names, DN values in pretty form, syntax, duplicate and
    /// SINGLE-VALUE checks, RDN values added, the entry checked against its classes.
    /// Nothing is stamped yet. `norm`: the entry's normalized DN when the caller already
    /// has it (a [`crate::BulkAdd::parent_first`] load), else it is normalized here.
    pub(crate) fn prepare_add(
        &self,
        entry: Entry,
        norm: Option<NormDn>,
        ctx: &WriteCtx,
    ) -> PreparedAdd {
        let norm = match norm {
            Some(n) => Ok(n),
            None => self
                .schema
                .normalize_dn(&entry.dn)
                .map_err(StoreError::from),
        };
        let (request, checked) = match &norm {
            Ok(_) => match self.precheck_add(&entry.attrs, ctx) {
                Ok(descs) => (Ok(()), self.check_new_entry(entry, ctx, Some(descs))),
                Err(e) => (Err(e), self.check_new_entry(entry, ctx, None)),
            },
            Err(_) => (Ok(()), Err(StoreError::NoObjectClass)),
        };
        PreparedAdd {
            norm,
            request,
            checked,
        }
    }

    /// The schema half of [`Store::prepare_add`]. `checked`: the request passed
    /// [`Store::precheck_add`], which gave its attributes' canonical descriptions, so its
    /// values' syntax, duplicates and SINGLE-VALUE need no second look (each DN value is
    /// normalized once per add, not twice) and its names no second lookup.
    fn check_new_entry(
        &self,
        entry: Entry,
        ctx: &WriteCtx,
        checked: Option<Vec<String>>,
    ) -> Result<Entry, StoreError> {
        let pretty = self.schema.pretty_dn(&entry.dn)?;
        let values_checked = checked.is_some();
        let mut descs = checked.unwrap_or_default().into_iter();
        let mut attrs = Vec::<Attribute>::with_capacity(entry.attrs.len());
        for a in entry.attrs {
            let desc = match descs.next() {
                Some(d) => d,
                None => self.canonical(&a.desc)?,
            };
            if a.values.is_empty() {
                return Err(StoreError::NoValues { attr: desc });
            }
            // slapd: an attribute listed twice in one add is attributeOrValueExists.
            if attrs.iter().any(|x| x.desc.eq_ignore_ascii_case(&desc)) {
                return Err(StoreError::ValueExists {
                    attr: desc,
                    index: 0,
                });
            }
            attrs.push(Attribute {
                desc,
                values: a.values,
            });
        }
        let mut new = Entry { dn: pretty, attrs };
        for a in &mut new.attrs {
            self.prettify(a)?;
            if !values_checked {
                self.check_values(a)?;
            }
            // slapd checks the syntax before NO-USER-MODIFICATION (21 before 19).
            if !ctx.import && self.is_no_user_mod(&a.desc) {
                return Err(StoreError::NoUserModification {
                    attr: a.desc.clone(),
                });
            }
        }
        if new.get("objectClass").is_none() {
            return Err(StoreError::NoObjectClass);
        }
        self.add_rdn_values(&mut new)?;
        self.canonical_object_classes(&mut new)?;
        if ctx.import {
            self.check_given_structural_class(&new)?;
        }
        self.schema.check_entry(&new)?;
        Ok(new)
    }

    /// An imported entry's structuralObjectClass (kept as given, [`Store::stamp`]) must
    /// be the structural class of its objectClass values: slapd's `entry_schema_check`
    /// refuses any other with objectClassModsProhibited (69) "structural object class
    /// modification from 'GIVEN' to 'COMPUTED' not allowed", before the MUST/MAY checks
    /// (slapadd; tester finding 11).
    pub(crate) fn check_given_structural_class(&self, entry: &Entry) -> Result<(), StoreError> {
        let Some(given) = entry.get("structuralObjectClass") else {
            return Ok(());
        };
        let given: Vec<&[u8]> = given.values.iter().map(Vec::as_slice).collect();
        let classes: Vec<&[u8]> = entry
            .values("objectClass")
            .iter()
            .map(Vec::as_slice)
            .collect();
        self.schema
            .check_object_class_change(&given, &classes)
            .map_err(StoreError::from)
    }

    /// The second half of an add, under the write lock: where the entry goes in the DN
    /// tree as `ns` sees it (the committed entries, or a bulk write's staged ones too).
    /// Returns the normalized DN, the parent's id and the checked entry.
    ///
    /// Errors, in slapd's order: invalidDNSyntax (34), entryAlreadyExists (68) for the
    /// empty DN, the request's own errors ([`Store::precheck_add`]), unwillingToPerform
    /// (53) outside the naming contexts, the first schema error of
    /// [`Store::prepare_add`], entryAlreadyExists (68), noSuchObject (32) with matchedDN.
    pub(crate) fn place_add(
        &self,
        ns: &dyn Namespace,
        prepared: PreparedAdd,
    ) -> Result<(NormDn, u64, Entry), StoreError> {
        let norm = prepared.norm?;
        if norm.is_root() {
            return Err(StoreError::AlreadyExists);
        }
        prepared.request?;
        if !self.holds(&norm) {
            return Err(StoreError::OutsideNamingContexts);
        }
        // slapd's back-mdb checks the entry against the schema before it looks the DN up
        // (an add of an existing DN with an attribute its classes do not allow is 65, not
        // 68; one under a missing parent is 65, not 32).
        let mut entry = prepared.checked?;
        if ns.id_of(&norm)?.is_some() {
            return Err(StoreError::AlreadyExists);
        }
        let parent = if self.is_suffix(&norm) {
            ROOT_ID
        } else {
            let pnorm = norm.parent().unwrap_or_default();
            match ns.id_of(&pnorm)? {
                Some(id) => id,
                None => {
                    return Err(StoreError::NoSuchObject {
                        matched: matched_in(ns, &norm, self.naming_depth())?,
                    })
                }
            }
        };
        if parent != ROOT_ID {
            // The DN above the RDN is spelled as the parent's stored DN, as slapd's
            // back-mdb builds an entry's name from its RDN and its parent's name: an add of
            // `uid=b,OU=USERS,...` reads back as `uid=b,ou=Users,...`.
            if let Some(pdn) = ns.dn_of(parent)? {
                if entry.dn.rdns.get(1..) != Some(pdn.rdns.as_slice()) {
                    entry.dn.rdns.truncate(1);
                    entry.dn.rdns.extend(pdn.rdns);
                }
            }
        }
        Ok((norm, parent, entry))
    }

    /// Applies `mods` to the entry `dn` as one atomic change (RFC 4511 §4.6): either every
    /// change applies or none does.
    ///
    /// Errors: noSuchObject (32) with matchedDN, undefinedAttributeType (17),
    /// attributeOrValueExists (20), noSuchAttribute (16), constraintViolation (19),
    /// invalidAttributeSyntax (21), namingViolation (64) when an RDN value would go,
    /// objectClassViolation (65) when objectClass would go, protocolError (2) for an add
    /// with no values.
    pub fn modify(&self, dn: &Dn, mods: Vec<Mod>, ctx: &WriteCtx) -> Result<(), StoreError> {
        self.modify_with(dn, mods, ctx, &mut NoHook)
    }

    /// [`Store::modify`] with a [`WriteHook`] (assertion, pre-read, post-read).
    pub fn modify_with(
        &self,
        dn: &Dn,
        mods: Vec<Mod>,
        ctx: &WriteCtx,
        hook: &mut dyn WriteHook,
    ) -> Result<(), StoreError> {
        self.durable(self.modify_locked(dn, mods, ctx, hook))
    }

    /// The write itself, under the write lock; the caller waits for it to be durable
    /// after releasing the lock, so concurrent writers share one flush (group commit).
    fn modify_locked(
        &self,
        dn: &Dn,
        mods: Vec<Mod>,
        ctx: &WriteCtx,
        hook: &mut dyn WriteHook,
    ) -> Result<(), StoreError> {
        let _guard = self.lock_writes();
        let norm = self.schema.normalize_dn(dn)?;
        self.precheck_mods(&mods, ctx)?;
        let (id, committed) = self.must_load(&norm)?;
        self.hook_before(hook, id, &committed)?;
        // The committed image is both the before image and the start of the new one: it
        // is copied, not read and decoded again when staged.
        let mut update = ForUpdate::of_committed(committed);
        let stored = &mut update.entry;
        let classes_before: Vec<Vec<u8>> = stored.entry.values("objectClass").to_vec();
        // Attributes an earlier change of this request touched: for the others the
        // committed values (and so the equality index) are still the entry's.
        let mut touched: HashSet<String> = HashSet::new();
        let mut kept_keys = PresentKeys::default();
        for m in mods {
            let desc = self.canonical(&m.attr.desc)?;
            let committed = (!touched.contains(&desc)).then_some(id);
            self.apply_mod(&mut stored.entry, m, ctx, committed, &mut kept_keys)?;
            touched.insert(desc);
        }
        for a in &stored.entry.attrs {
            self.check_single_value(a)?;
        }
        // slapd's entry_schema_check: no objectClass (65) and a structural class change
        // (69) before the naming check (64), and that before MUST and MAY (65).
        if stored.entry.get("objectClass").is_none() {
            return Err(StoreError::NoObjectClass);
        }
        self.canonical_object_classes(&mut stored.entry)?;
        self.check_structural_kept(&classes_before, &stored.entry)?;
        self.check_rdn_present(&stored.entry)?;
        self.schema.check_entry(&stored.entry)?;
        let mut t = Txn::new(self);
        self.stamp(&mut stored.entry, ctx, t.csn, false);
        t.put_update(id, update)?;
        self.run_overlays(&mut t)?;
        self.hook_after(hook, &t, id)?;
        t.commit()
    }

    /// Deletes the leaf entry `dn` (RFC 4511 §4.8).
    ///
    /// Errors: noSuchObject (32) with matchedDN, notAllowedOnNonLeaf (66),
    /// unwillingToPerform (53) outside the naming contexts or for the empty DN.
    pub fn delete(&self, dn: &Dn, _ctx: &WriteCtx) -> Result<(), StoreError> {
        self.delete_with(dn, _ctx, &mut NoHook)
    }

    /// [`Store::delete`] with a [`WriteHook`] (assertion, pre-read); `after` is not called.
    pub fn delete_with(
        &self,
        dn: &Dn,
        _ctx: &WriteCtx,
        hook: &mut dyn WriteHook,
    ) -> Result<(), StoreError> {
        self.durable(self.delete_locked(dn, _ctx, hook))
    }

    /// The write itself, under the write lock; the caller waits for it to be durable
    /// after releasing the lock, so concurrent writers share one flush (group commit).
    fn delete_locked(
        &self,
        dn: &Dn,
        _ctx: &WriteCtx,
        hook: &mut dyn WriteHook,
    ) -> Result<(), StoreError> {
        let _guard = self.lock_writes();
        let norm = self.schema.normalize_dn(dn)?;
        if norm.is_root() || !self.holds(&norm) {
            return Err(StoreError::OutsideNamingContexts);
        }
        let (id, stored) = self.must_load(&norm)?;
        // slapd tests the assertion before the leaf check (122 beats 66).
        self.hook_before(hook, id, &stored)?;
        if self.has_children(id)? {
            return Err(StoreError::NotAllowedOnNonLeaf);
        }
        let mut t = Txn::new(self);
        t.remove(id)?;
        t.unlink(keys::dn_key(&norm));
        t.b.children.remove(&keys::child_key(stored.parent, id));
        self.run_overlays(&mut t)?;
        t.commit()
    }

    /// Renames and/or moves the entry `dn` with its whole subtree (RFC 4511 §4.9).
    ///
    /// Errors: noSuchObject (32) with matchedDN for a missing entry, noSuchObject without
    /// matchedDN for a missing new superior (as slapd), entryAlreadyExists (68),
    /// unwillingToPerform (53) for a move under itself or outside the naming contexts,
    /// invalidDNSyntax (34), namingViolation/objectClassViolation from the RDN changes.
    pub fn modify_dn(
        &self,
        dn: &Dn,
        new_rdn: &Rdn,
        delete_old_rdn: bool,
        new_superior: Option<&Dn>,
        ctx: &WriteCtx,
    ) -> Result<(), StoreError> {
        self.modify_dn_with(dn, new_rdn, delete_old_rdn, new_superior, ctx, &mut NoHook)
    }

    /// [`Store::modify_dn`] with a [`WriteHook`] (assertion, pre-read, post-read).
    pub fn modify_dn_with(
        &self,
        dn: &Dn,
        new_rdn: &Rdn,
        delete_old_rdn: bool,
        new_superior: Option<&Dn>,
        ctx: &WriteCtx,
        hook: &mut dyn WriteHook,
    ) -> Result<(), StoreError> {
        self.durable(self.modify_dn_locked(dn, new_rdn, delete_old_rdn, new_superior, ctx, hook))
    }

    /// The write itself, under the write lock (see [`Store::add_locked`]).
    fn modify_dn_locked(
        &self,
        dn: &Dn,
        new_rdn: &Rdn,
        delete_old_rdn: bool,
        new_superior: Option<&Dn>,
        ctx: &WriteCtx,
        hook: &mut dyn WriteHook,
    ) -> Result<(), StoreError> {
        let _guard = self.lock_writes();
        let _renaming = self.renaming();
        let norm = self.schema.normalize_dn(dn)?;
        if norm.is_root() {
            return Err(StoreError::OutsideNamingContexts);
        }
        let (id, mut stored) = self.must_load(&norm)?;
        self.hook_before(hook, id, &stored)?;
        let old_parent_pretty = stored.entry.dn.parent().unwrap_or_default();
        let (parent_pretty, parent_norm) = match new_superior {
            Some(sup) => (sup.clone(), self.schema.normalize_dn(sup)?),
            None => (old_parent_pretty, norm.parent().unwrap_or_default()),
        };
        // A new RDN value invalid for its syntax makes an invalid DN (slapd: 34).
        for ava in &new_rdn.avas {
            if let Some(at) = self.schema.attribute_type(&ava.attr) {
                self.schema.validate_value(at, &ava.value).map_err(|e| {
                    oxldap_schema::SchemaError::InvalidDnValue {
                        attr: ava.attr.clone(),
                        reason: e.to_string(),
                    }
                })?;
            }
        }
        let new_dn = parent_pretty.child(new_rdn.clone());
        let new_norm = self.schema.normalize_dn(&new_dn)?;
        if !self.holds(&new_norm) || self.is_suffix(&norm) {
            return Err(StoreError::RenameBetweenContexts);
        }
        if parent_norm == norm || parent_norm.is_descendant_of(&norm) {
            return Err(StoreError::MoveUnderSelf);
        }
        let new_parent_id = if self.is_suffix(&new_norm) {
            ROOT_ID
        } else {
            self.id_of(&parent_norm)?
                .ok_or(StoreError::NoSuchNewSuperior)?
        };
        if new_norm != norm && self.id_of(&new_norm)?.is_some() {
            return Err(StoreError::AlreadyExists);
        }
        // A new superior is spelled as that entry's stored DN (slapd's back-mdb uses the
        // new parent's name), not as the request wrote it.
        let new_dn = match new_superior {
            Some(_) if new_parent_id != ROOT_ID => Namespace::dn_of(self, new_parent_id)?
                .map(|p| p.child(new_rdn.clone()))
                .unwrap_or(new_dn),
            _ => new_dn,
        };
        let new_pretty = self.schema.pretty_dn(&new_dn)?;

        // The entry's own attributes: RFC 4511 §4.9 — new RDN values are added, old ones
        // removed when deleteoldrdn is set and they are not part of the new RDN.
        let old_rdn = stored.entry.dn.rdn().cloned();
        let classes_before: Vec<Vec<u8>> = stored.entry.values("objectClass").to_vec();
        stored.entry.dn = new_pretty.clone();
        if delete_old_rdn {
            if let Some(old) = old_rdn {
                // Old values go even when the new RDN names the same value in another
                // spelling: the new spelling is then added below (slapd keeps `BO KIM`
                // after renaming `cn=Bo Kim` to `cn=BO KIM`).
                for ava in &old.avas {
                    self.remove_value(&mut stored.entry, &ava.attr, &ava.value)?;
                }
            }
        }
        self.add_rdn_values(&mut stored.entry)?;
        for a in &stored.entry.attrs {
            self.check_single_value(a)?;
        }
        if stored.entry.get("objectClass").is_none() {
            return Err(StoreError::NoObjectClass);
        }
        // An RDN naming objectClass (`objectClass=person`) changes the entry's classes:
        // its structural class must stay (RFC 4512 §2.4.2; slapd answers 69, as for a
        // modify), checked before the rest of the schema, as slapd's entry_schema_check.
        self.check_structural_kept(&classes_before, &stored.entry)?;
        self.schema.check_entry(&stored.entry)?;
        let mut t = Txn::new(self);
        self.stamp(&mut stored.entry, ctx, t.csn, false);

        let old_key = keys::dn_key(&norm);
        let new_key = keys::dn_key(&new_norm);
        // Descendants: their keys and DNs change below the moved entry; ids stay.
        let old_depth = norm.rdns.len();
        for kv in self.trees.dn2id.scan_prefix(&old_key) {
            let (k, v) = kv?;
            let Some(did) = keys::decode_id(&v) else {
                return Err(StoreError::Corrupt { tree: "dn2id" });
            };
            if did == id {
                continue;
            }
            let Some((_, mut desc)) = self.load(did)? else {
                continue;
            };
            let tail = k.get(old_key.len()..).unwrap_or_default();
            let mut nk = new_key.clone();
            nk.extend_from_slice(tail);
            t.unlink(k.to_vec());
            t.link(nk, did);
            let own = desc.entry.dn.rdns.len().saturating_sub(old_depth);
            let mut rdns: Vec<Rdn> = desc.entry.dn.rdns.iter().take(own).cloned().collect();
            rdns.extend(new_pretty.rdns.iter().cloned());
            desc.entry.dn = Dn { rdns };
            t.put(did, desc)?;
        }
        if new_key != old_key {
            t.unlink(old_key);
            t.link(new_key, id);
        }
        if new_parent_id != stored.parent {
            t.b.children.remove(&keys::child_key(stored.parent, id));
            t.b.children
                .insert(&keys::child_key(new_parent_id, id), &[]);
            stored.parent = new_parent_id;
        }
        t.renamed = Some(id);
        t.put(id, stored)?;
        self.run_overlays(&mut t)?;
        self.hook_after(hook, &t, id)?;
        t.commit()
    }

    /// Hands `hook` the stored entry `id` as a read would present it (before the change).
    fn hook_before(
        &self,
        hook: &mut dyn WriteHook,
        id: u64,
        stored: &StoredEntry,
    ) -> Result<(), StoreError> {
        if hook.wants() {
            hook.before(&self.present(id, stored.clone()))?;
        }
        Ok(())
    }

    /// Hands `hook` the entry `id` as `t` will commit it (overlays applied).
    fn hook_after(&self, hook: &mut dyn WriteHook, t: &Txn<'_>, id: u64) -> Result<(), StoreError> {
        if hook.wants() {
            if let Some(staged) = t.get(id)? {
                hook.after(&self.present(id, staged))?;
            }
        }
        Ok(())
    }

    /// Loads the entry with normalized DN `norm` or reports noSuchObject with matchedDN.
    fn must_load(&self, norm: &NormDn) -> Result<(u64, StoredEntry), StoreError> {
        if let Some(id) = self.id_of(norm)? {
            if let Some(found) = self.load(id)? {
                return Ok(found);
            }
        }
        if !self.holds(norm) {
            return Err(StoreError::OutsideNamingContexts);
        }
        Err(StoreError::NoSuchObject {
            matched: self.matched(norm)?,
        })
    }

    /// The schema's primary name for an attribute description (options kept).
    pub(crate) fn canonical(&self, desc: &str) -> Result<String, StoreError> {
        // An operational type takes no options in a write, whatever they are (slapd
        // 2.5: "operational attribute with options undefined", 17, also for `;x-foo`).
        if desc.contains(';')
            && self
                .schema
                .attribute_type(desc_type(desc))
                .is_some_and(|at| at.is_operational())
        {
            return Err(StoreError::OperationalWithOptions {
                attr: desc.to_string(),
            });
        }
        // Options must be ones the type takes (RFC 4512 §2.5: lang- tags, ;binary). One
        // lookup of the type for both the check and the name (issue 7: three before).
        if let Some(canonical) = self.schema.checked_canonical_desc(desc)? {
            return Ok(canonical);
        }
        // An unknown type: with options, the options check's own error.
        if desc.contains(';') {
            self.schema.check_options(desc)?;
        }
        Err(StoreError::UndefinedAttributeType {
            attr: desc.to_string(),
        })
    }

    pub(crate) fn is_no_user_mod(&self, desc: &str) -> bool {
        let ty = desc_type(desc);
        STAMPED.iter().any(|s| s.eq_ignore_ascii_case(ty))
            || self
                .schema
                .attribute_type(ty)
                .is_some_and(|at| at.no_user_modification)
    }

    /// Rewrites the values of a DN-syntax attribute (member, owner, seeAlso...) in slapd's
    /// "pretty" form: primary type names, values as written, escapes as hex pairs (RFC 4517
    /// §3.3.9). Invalid DNs are invalidAttributeSyntax (21).
    fn prettify(&self, a: &mut Attribute) -> Result<(), StoreError> {
        const DN_SYNTAX: &str = "1.3.6.1.4.1.1466.115.121.1.12";
        let is_dn = self
            .schema
            .attribute_type(&a.desc)
            .is_some_and(|at| at.effective_syntax() == Some(DN_SYNTAX));
        if !is_dn {
            return Ok(());
        }
        for v in &mut a.values {
            let invalid = |reason: String| {
                StoreError::Schema(oxldap_schema::SchemaError::InvalidSyntax {
                    attr: a.desc.clone(),
                    reason,
                })
            };
            let text = std::str::from_utf8(v).map_err(|_| invalid("value is not UTF-8".into()))?;
            let dn = Dn::parse(text).map_err(|e| invalid(e.to_string()))?;
            let pretty = self
                .schema
                .pretty_dn(&dn)
                .map_err(|e| invalid(e.to_string()))?;
            *v = pretty.to_string().into_bytes();
        }
        Ok(())
    }

    /// Syntax, duplicates and SINGLE-VALUE for one attribute.
    fn check_values(&self, a: &Attribute) -> Result<(), StoreError> {
        let mut seen = rustc_hash::FxHashSet::default();
        // Looked up once per attribute; each value is validated and keyed in one step
        // (a DN value is normalized once, not twice).
        let at = self.schema.attribute_type(&a.desc);
        for (i, v) in a.values.iter().enumerate() {
            let key = match at {
                Some(at) => self.schema.checked_equality_key(at, v)?,
                None => self.schema.equality_key(&a.desc, v)?,
            };
            if !seen.insert(key) {
                return Err(StoreError::ValueExists {
                    attr: a.desc.clone(),
                    index: i,
                });
            }
        }
        self.check_single_value(a)
    }

    fn check_single_value(&self, a: &Attribute) -> Result<(), StoreError> {
        let single = self
            .schema
            .attribute_type(&a.desc)
            .is_some_and(|at| at.single_value);
        if single && a.values.len() > 1 {
            return Err(StoreError::SingleValued {
                attr: a.desc.clone(),
            });
        }
        Ok(())
    }

    fn same_ava(&self, a_attr: &str, a_val: &[u8], b_attr: &str, b_val: &[u8]) -> bool {
        let (Some(at_a), Some(at_b)) = (
            self.schema.attribute_type(a_attr),
            self.schema.attribute_type(b_attr),
        ) else {
            return false;
        };
        if at_a.oid != at_b.oid {
            return false;
        }
        matches!(
            (self.schema.equality_key(a_attr, a_val), self.schema.equality_key(b_attr, b_val)),
            (Ok(x), Ok(y)) if x == y
        )
    }

    /// Adds each AVA value of the entry's RDN that its attributes lack (RFC 4511 §4.7, §4.9).
    fn add_rdn_values(&self, entry: &mut Entry) -> Result<(), StoreError> {
        let Some(rdn) = entry.dn.rdn().cloned() else {
            return Ok(());
        };
        for ava in rdn.avas {
            let desc = self.canonical(&ava.attr)?;
            let present = entry
                .values(&desc)
                .iter()
                .any(|v| self.same_ava(&desc, v, &ava.attr, &ava.value));
            if !present {
                if let Some(at) = self.schema.attribute_type(&desc) {
                    self.schema.validate_value(at, &ava.value)?;
                }
                entry.push_value(&desc, ava.value.clone());
            }
        }
        Ok(())
    }

    /// Fails with namingViolation when an RDN value is no longer among the attributes.
    fn check_rdn_present(&self, entry: &Entry) -> Result<(), StoreError> {
        let Some(rdn) = entry.dn.rdn() else {
            return Ok(());
        };
        for ava in &rdn.avas {
            let desc = self.canonical(&ava.attr)?;
            let present = entry
                .values(&desc)
                .iter()
                .any(|v| self.same_ava(&desc, v, &ava.attr, &ava.value));
            if !present {
                return Err(StoreError::RdnValueRemoved { attr: desc });
            }
        }
        Ok(())
    }

    /// Stores objectClass values under the schema's spelling (slapd does the same).
    fn canonical_object_classes(&self, entry: &mut Entry) -> Result<(), StoreError> {
        if let Some(a) = entry.get_mut("objectClass") {
            for v in &mut a.values {
                let name = String::from_utf8_lossy(v).into_owned();
                match self.schema.object_class(&name) {
                    Some(oc) => *v = oc.name().as_bytes().to_vec(),
                    None => {
                        return Err(StoreError::Schema(
                            oxldap_schema::SchemaError::InvalidSyntax {
                                attr: "objectClass".into(),
                                reason: format!("{name}: value #0 invalid per syntax"),
                            },
                        ))
                    }
                }
            }
        }
        Ok(())
    }

    fn remove_value(&self, entry: &mut Entry, desc: &str, value: &[u8]) -> Result<(), StoreError> {
        let desc = self.canonical(desc)?;
        let key = self.schema.equality_key(&desc, value)?;
        if let Some(a) = entry.get_mut(&desc) {
            let schema = &self.schema;
            a.values.retain(|v| {
                schema
                    .equality_key(&desc, v)
                    .map(|k| k != key)
                    .unwrap_or(true)
            });
            if a.values.is_empty() {
                entry.remove(&desc);
            }
        }
        Ok(())
    }

    /// Applies one change of a modify to `entry`. `committed` is the entry's id when the
    /// attribute's values in `entry` are still the committed ones (no earlier change of
    /// the request touched it), so its equality index may answer "is this value there".
    /// `kept_keys` carries the equality keys of attributes' values from one change of the
    /// request to the next.
    fn apply_mod(
        &self,
        entry: &mut Entry,
        m: Mod,
        ctx: &WriteCtx,
        committed: Option<u64>,
        kept_keys: &mut PresentKeys,
    ) -> Result<(), StoreError> {
        let desc = self.canonical(&m.attr.desc)?;
        let at = self.schema.attribute_type(&desc);
        let mut prepared = Attribute {
            desc: desc.clone(),
            values: m.attr.values,
        };
        if m.op != ModOp::Delete {
            self.prettify(&mut prepared)?;
        }
        let values = prepared.values;
        // The values' syntax was checked with the request (`Store::precheck_mods`, before
        // the entry was read; prettifying keeps a valid value valid).
        if !ctx.import && self.is_no_user_mod(&desc) {
            return Err(StoreError::NoUserModification { attr: desc });
        }
        match m.op {
            ModOp::Add => {
                if values.is_empty() {
                    return Err(StoreError::NoValues { attr: desc });
                }
                // Without an equality rule a new value cannot be told apart from the
                // present ones (slapd: inappropriateMatching).
                if at.is_some_and(|at| at.equality_rule().is_none()) && entry.get(&desc).is_some() {
                    return Err(StoreError::Schema(
                        oxldap_schema::SchemaError::InappropriateMatching(format!(
                            "{desc}: no equality matching rule"
                        )),
                    ));
                }
                let present = entry.values(&desc).len();
                // A large attribute (a group's member) is asked through its equality
                // index instead of normalizing every present value: adding one member to
                // a 50,000-member group normalizes one DN. Options would make the index
                // (which ignores them) answer for other descriptions, so not for those.
                let by_index = match committed {
                    Some(id)
                        if present >= INDEXED_PRESENCE_CHECK
                            && !desc.contains(';')
                            && self.indexes.has_equality(&self.schema, &desc) =>
                    {
                        Some(id)
                    }
                    _ => None,
                };
                // The present values' keys: kept from an earlier change of this request,
                // else computed once here (a request of 20,000 one-value adds to one
                // attribute normalized its values 20,000 times: 22 s under the write
                // lock; tester finding, 2026-11-30).
                let mut keys: HashSet<Vec<u8>> = match (by_index, kept_keys.remove(&desc)) {
                    (None, Some(kept)) => kept,
                    (None, None) => {
                        let mut keys =
                            HashSet::with_capacity(entry.values(&desc).len() + values.len());
                        for v in entry.values(&desc) {
                            keys.insert(self.schema.equality_key(&desc, v)?);
                        }
                        keys
                    }
                    (Some(_), _) => HashSet::with_capacity(values.len()),
                };
                for (i, v) in values.iter().enumerate() {
                    let there = match by_index {
                        Some(id) => self
                            .eq_lookup(&desc, v)?
                            .is_some_and(|ids| ids.contains(id)),
                        None => false,
                    };
                    if there || !keys.insert(self.schema.equality_key(&desc, v)?) {
                        return Err(StoreError::ValueExists {
                            attr: desc,
                            index: i,
                        });
                    }
                }
                for v in values {
                    entry.push_value(&desc, v);
                }
                // With the index asked, `keys` holds only the new values.
                if by_index.is_none() {
                    kept_keys.insert(desc, keys);
                }
            }
            ModOp::Delete => {
                // Without an equality rule no value can be found to delete (slapd's
                // modify_delete_values: inappropriateMatching, before presence).
                if !values.is_empty() && at.is_some_and(|at| at.equality_rule().is_none()) {
                    return Err(StoreError::Schema(
                        oxldap_schema::SchemaError::InappropriateMatching(format!(
                            "modify/delete: {desc}: no equality matching rule"
                        )),
                    ));
                }
                if entry.get(&desc).is_none() {
                    return Err(StoreError::NoSuchValue { attr: desc });
                }
                if values.is_empty() {
                    kept_keys.remove(&desc);
                    entry.remove(&desc);
                } else {
                    // Each present value is normalized once (a 50,000-member group losing
                    // 1,000 members must not cost 50,000 × 1,000 normalizations). Every
                    // listed value must be present; one listed twice is deleted once, as
                    // slapd does.
                    let mut doomed: HashSet<Vec<u8>> = HashSet::with_capacity(values.len());
                    for v in &values {
                        doomed.insert(self.schema.equality_key(&desc, v)?);
                    }
                    // On success exactly the values with these keys are gone (on failure
                    // the request fails and `kept_keys` is dropped with it).
                    if let Some(kept) = kept_keys.get_mut(&desc) {
                        for k in &doomed {
                            kept.remove(k);
                        }
                    }
                    let schema = &self.schema;
                    let Some(a) = entry.get_mut(&desc) else {
                        return Err(StoreError::NoSuchValue { attr: desc });
                    };
                    // Values sent exactly as stored (the usual case) are found by bytes:
                    // at most one present value equals each under the equality rule, so
                    // a byte-identical one is it, and a 50,000-member group losing one
                    // member normalizes nothing.
                    if values.len() == doomed.len() {
                        let wanted: rustc_hash::FxHashSet<&[u8]> =
                            values.iter().map(Vec::as_slice).collect();
                        let hits = a
                            .values
                            .iter()
                            .filter(|x| wanted.contains(x.as_slice()))
                            .count();
                        if hits == wanted.len() {
                            a.values.retain(|x| !wanted.contains(x.as_slice()));
                            if a.values.is_empty() {
                                entry.remove(&desc);
                            }
                            return Ok(());
                        }
                    }
                    let mut found: HashSet<Vec<u8>> = HashSet::with_capacity(doomed.len());
                    a.values.retain(|x| match schema.equality_key(&desc, x) {
                        Ok(k) if doomed.contains(&k) => {
                            found.insert(k);
                            false
                        }
                        _ => true,
                    });
                    if found.len() < doomed.len() {
                        return Err(StoreError::NoSuchValue { attr: desc });
                    }
                    if a.values.is_empty() {
                        entry.remove(&desc);
                    }
                }
            }
            ModOp::Replace => {
                kept_keys.remove(&desc);
                entry.remove(&desc);
                if !values.is_empty() {
                    let a = Attribute { desc, values };
                    self.check_values(&a)?;
                    entry.attrs.push(a);
                }
            }
            ModOp::Increment => {
                // RFC 4525 §2: only attributes of integer syntax can be incremented.
                const INTEGER_SYNTAX: &str = "1.3.6.1.4.1.1466.115.121.1.27";
                if at.is_none_or(|at| at.effective_syntax() != Some(INTEGER_SYNTAX)) {
                    return Err(StoreError::NotAnInteger { attr: desc });
                }
                let [delta] = values.as_slice() else {
                    return Err(StoreError::NotAnInteger { attr: desc });
                };
                let delta = increment_operand(delta, &desc)?;
                kept_keys.remove(&desc);
                let Some(a) = entry.get_mut(&desc) else {
                    return Err(StoreError::NoSuchAttributeToIncrement { attr: desc });
                };
                for v in &mut a.values {
                    let sum = increment_operand(v, &desc)?
                        .checked_add(delta)
                        .ok_or_else(|| StoreError::IncrementOutOfRange { attr: desc.clone() })?;
                    *v = sum.to_string().into_bytes();
                }
            }
        }
        Ok(())
    }

    /// Stamps the operational attributes of a write (RFC 4512 §3.4, RFC 4530, slapd's
    /// entryCSN and structuralObjectClass). On import, values given in the input are kept.
    pub(crate) fn stamp(
        &self,
        entry: &mut Entry,
        ctx: &WriteCtx,
        csn: crate::csn::Csn,
        create: bool,
    ) {
        let now = csn.to_generalized_time().into_bytes();
        let who = ctx.modifier.to_string().into_bytes();
        let set = |entry: &mut Entry, desc: &str, value: Vec<u8>| {
            if ctx.import && entry.get(desc).is_some() {
                return;
            }
            entry.remove(desc);
            entry.push_value(desc, value);
        };
        if create {
            set(
                entry,
                "entryUUID",
                uuid::Uuid::new_v4().hyphenated().to_string().into_bytes(),
            );
            set(entry, "creatorsName", who.clone());
            set(entry, "createTimestamp", now.clone());
            let soc = {
                let ocs: Vec<&[u8]> = entry
                    .values("objectClass")
                    .iter()
                    .map(|v| v.as_slice())
                    .collect();
                self.schema
                    .structural_object_class(&ocs)
                    .map(|oc| oc.name().as_bytes().to_vec())
            };
            if let Some(soc) = soc {
                set(entry, "structuralObjectClass", soc);
            }
        }
        set(entry, "entryCSN", csn.to_ldap_string().into_bytes());
        set(entry, "modifiersName", who);
        set(entry, "modifyTimestamp", now);
    }
}

/// The attribute type part of a description (`cn;lang-en` → `cn`).
fn desc_type(desc: &str) -> &str {
    oxldap_schema::split_description(desc).0
}

/// An operand of a modify increment (RFC 4525 §2) as a 128-bit integer. Errors: not an
/// INTEGER (RFC 4517 §3.3.16) at all, or one too large for 128 bits
/// ([`StoreError::IncrementOutOfRange`]: the value is valid, the server cannot add to it).
fn increment_operand(v: &[u8], attr: &str) -> Result<i128, StoreError> {
    let s = std::str::from_utf8(v).map(str::trim).unwrap_or("");
    if let Ok(n) = s.parse::<i128>() {
        return Ok(n);
    }
    let digits = s.strip_prefix('-').unwrap_or(s);
    if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) {
        Err(StoreError::IncrementOutOfRange { attr: attr.into() })
    } else {
        Err(StoreError::NotAnInteger { attr: attr.into() })
    }
}

/// The equality keys of the values an attribute holds, by attribute description, kept
/// across the changes of one modify request so that each change costs its own values,
/// not the attribute's (see `Store::apply_mod`). An attribute is absent when no change
/// has needed its keys yet, or a change (replace, increment, delete of the whole
/// attribute) left them unknown.
type PresentKeys = std::collections::HashMap<String, HashSet<Vec<u8>>>;
