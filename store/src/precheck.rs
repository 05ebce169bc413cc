//! The request checks slapd makes in its frontend, before a backend looks the entry up
//! (slapd's `do_modify`/`do_add` with `slap_mods_check`, then
//! `slap_mods_no_user_mod_check`): they depend only on the request and the schema, so a
//! malformed write is answered the same whether its entry exists or not. A modify that
//! lists a value twice is attributeOrValueExists (20) on a missing entry too, not
//! noSuchObject (32), and an add of such an entry is 20 even where one exists, not 68.
//!
//! The later, entry-dependent checks (values present or absent, MUST and MAY, the RDN)
//! stay where they are; these checks run first and repeat nothing those need.

use std::collections::HashSet;

use oxldap_proto::Attribute;

use crate::error::StoreError;
use crate::ops::{Mod, ModOp, WriteCtx};
use crate::store::Store;

/// The Integer syntax (RFC 4517 §3.3.16): the only one RFC 4525 §2 lets increment.
const INTEGER_SYNTAX: &str = "1.3.6.1.4.1.1466.115.121.1.27";

impl Store {
    /// Checks a modify request's changes as slapd's frontend does, in its order:
    ///
    /// 1. over all changes, as the request is read (RFC 4511 §4.6, RFC 4525 §2): an add
    ///    without values and an increment without exactly one value are protocolError (2);
    /// 2. change by change: an undefined attribute type (17), an increment of a type whose
    ///    syntax is not Integer (19), a value invalid for the syntax (21, also the values
    ///    of a delete), and for add and replace more than one value of a SINGLE-VALUE type
    ///    (19) or a value listed twice (20);
    /// 3. over all changes: an attribute clients may not write (19; not on import).
    pub(crate) fn precheck_mods(&self, mods: &[Mod], ctx: &WriteCtx) -> Result<(), StoreError> {
        for m in mods {
            match m.op {
                ModOp::Add if m.attr.values.is_empty() => {
                    return Err(StoreError::NoValues {
                        attr: m.attr.desc.clone(),
                    })
                }
                ModOp::Increment if m.attr.values.len() != 1 => {
                    return Err(StoreError::IncrementValues {
                        attr: m.attr.desc.clone(),
                    })
                }
                _ => {}
            }
        }
        for m in mods {
            self.precheck_values(&m.attr, m.op)?;
        }
        self.precheck_user_mod(mods.iter().map(|m| &m.attr), ctx)
    }

    /// Checks an add request's attributes as slapd's frontend does before the entry is
    /// placed, in its order: an attribute without values (2); [`Store::precheck_mods`]'s
    /// step 2 with every attribute an add change; an attribute type listed twice (20);
    /// an attribute clients may not write (19; not on import).
    ///
    /// Returns the attributes' canonical descriptions ([`Store::canonical`]), in order,
    /// so that the add's schema half does not look them up again.
    pub(crate) fn precheck_add(
        &self,
        attrs: &[Attribute],
        ctx: &WriteCtx,
    ) -> Result<Vec<String>, StoreError> {
        if let Some(a) = attrs.iter().find(|a| a.values.is_empty()) {
            return Err(StoreError::NoValues {
                attr: a.desc.clone(),
            });
        }
        let mut descs = Vec::with_capacity(attrs.len());
        for a in attrs {
            let desc = self.canonical(&a.desc)?;
            self.precheck_values_as(a, &desc, ModOp::Add)?;
            descs.push(desc);
        }
        let mut seen = HashSet::with_capacity(descs.len());
        for (a, desc) in attrs.iter().zip(&descs) {
            if !seen.insert(desc.to_ascii_lowercase()) {
                return Err(StoreError::DuplicateAttribute {
                    attr: a.desc.clone(),
                });
            }
        }
        if !ctx.import {
            if let Some(desc) = descs.iter().find(|d| self.is_no_user_mod(d)) {
                return Err(StoreError::NoUserModification { attr: desc.clone() });
            }
        }
        Ok(descs)
    }

    /// Step 2 of [`Store::precheck_mods`] for one change.
    fn precheck_values(&self, a: &Attribute, op: ModOp) -> Result<(), StoreError> {
        let desc = self.canonical(&a.desc)?;
        self.precheck_values_as(a, &desc, op)
    }

    /// [`Store::precheck_values`] of `a`, whose canonical description is `desc`.
    fn precheck_values_as(&self, a: &Attribute, desc: &str, op: ModOp) -> Result<(), StoreError> {
        let at = self.schema.attribute_type(desc);
        if op == ModOp::Increment
            && at.is_none_or(|at| at.effective_syntax() != Some(INTEGER_SYNTAX))
        {
            return Err(StoreError::NotIncrementable {
                attr: desc.to_string(),
            });
        }
        // Each value is checked against the syntax; where a key is needed (the duplicate
        // check of add and replace; objectClass, whose values must name known classes)
        // it is made in the same step, so a DN value is normalized once.
        let keyed = matches!(op, ModOp::Add | ModOp::Replace)
            || at.is_some_and(|at| at.oid == oxldap_schema::OBJECT_CLASS_OID);
        let mut keys = Vec::new();
        for v in &a.values {
            match at {
                Some(at) if keyed => keys.push(self.schema.checked_equality_key(at, v)?),
                Some(at) => self.schema.validate_value(at, v)?,
                None if keyed => keys.push(self.schema.equality_key(desc, v)?),
                None => {}
            }
        }
        if matches!(op, ModOp::Add | ModOp::Replace) {
            if at.is_some_and(|at| at.single_value) && a.values.len() > 1 {
                return Err(StoreError::SingleValued {
                    attr: desc.to_string(),
                });
            }
            if keys.len() < 2 {
                // No two values to compare (most attributes of an entry).
                return Ok(());
            }
            // slapd names the first of the two equal values.
            let mut first = std::collections::HashMap::with_capacity(keys.len());
            for (i, key) in keys.into_iter().enumerate() {
                if let Some(&index) = first.get(&key) {
                    return Err(StoreError::DuplicateValue {
                        attr: desc.to_string(),
                        index,
                    });
                }
                first.insert(key, i);
            }
        }
        Ok(())
    }

    /// The checks slapd's frontend makes before the backend checks access
    /// (`slap_mods_check`, then `slap_mods_no_user_mod_check`, in do_modify before
    /// `be_modify` and its ACLs), for a modify: so a user without write access who writes
    /// `memberOf` gets 19 and `memberOf;lang-en` 17, not 50, as with slapd. Only the
    /// descriptions are looked at first (cheap); when one is bad or names a
    /// NO-USER-MODIFICATION type, the full [`Store::precheck_mods`] runs, so the error is
    /// the one slapd reports first (a value invalid for its syntax in an earlier change
    /// is 21). The write itself runs `precheck_mods` again under the write lock.
    pub fn precheck_modify_frontend(&self, mods: &[Mod], ctx: &WriteCtx) -> Result<(), StoreError> {
        if mods.iter().any(|m| self.suspect(&m.attr.desc, ctx)) {
            self.precheck_mods(mods, ctx)?;
        }
        Ok(())
    }

    /// [`Store::precheck_modify_frontend`] for an add (slapd's do_add: the same checks
    /// before `be_add`), with [`Store::precheck_add`].
    pub fn precheck_add_frontend(
        &self,
        attrs: &[Attribute],
        ctx: &WriteCtx,
    ) -> Result<(), StoreError> {
        if attrs.iter().any(|a| self.suspect(&a.desc, ctx)) {
            self.precheck_add(attrs, ctx)?;
        }
        Ok(())
    }

    /// Whether a write of `desc` fails the frontend checks: an undefined type, a bad
    /// option, an operational type with options, or a NO-USER-MODIFICATION type.
    fn suspect(&self, desc: &str, ctx: &WriteCtx) -> bool {
        self.canonical(desc).is_err() || (!ctx.import && self.is_no_user_mod(desc))
    }

    /// Step 3 of [`Store::precheck_mods`].
    fn precheck_user_mod<'a>(
        &self,
        attrs: impl Iterator<Item = &'a Attribute>,
        ctx: &WriteCtx,
    ) -> Result<(), StoreError> {
        if ctx.import {
            return Ok(());
        }
        for a in attrs {
            let desc = self.canonical(&a.desc)?;
            if self.is_no_user_mod(&desc) {
                return Err(StoreError::NoUserModification { attr: desc });
            }
        }
        Ok(())
    }
}
