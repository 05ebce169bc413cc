//! Per-write hooks run under the write lock: the LDAP controls that must see exactly the
//! images a write changes (RFC 4528 assertion, RFC 4527 pre-read and post-read).
//!
//! The store knows nothing of controls: it hands a [`WriteHook`] the target entry before
//! the change and after it, inside the same locked plan-and-commit as the write, so no other
//! write can come between what the hook saw and what is committed. A hook that refuses
//! aborts the write before anything is committed.

use oxldap_proto::{Entry, ResultCode};

/// Why a [`WriteHook`] refused a write; answered with `code` and `message`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct HookRefusal {
    /// The result code of the refused operation (e.g. assertionFailed, 122).
    pub code: ResultCode,
    /// The diagnosticMessage.
    pub message: String,
}

/// Sees the target entry of one update operation before and after the change, under the
/// write lock. Entries carry the computed operational attributes (entryDN,
/// hasSubordinates, subschemaSubentry) as a read would.
pub trait WriteHook {
    /// Whether the hook wants the images at all; when false the store skips building them
    /// (no copy of a large entry for writes without controls).
    fn wants(&self) -> bool;
    /// The target entry before the change: the stored entry for modify, delete and modify
    /// DN; for add, the entry as it will be stored (operational attributes stamped), which
    /// is what slapd's back-mdb tests an add's assertion against.
    fn before(&mut self, entry: &Entry) -> Result<(), HookRefusal>;
    /// The target entry as it will be committed (after overlays); not called for delete.
    fn after(&mut self, entry: &Entry) -> Result<(), HookRefusal>;
}

/// The hook of writes without controls: wants nothing.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoHook;

impl WriteHook for NoHook {
    fn wants(&self) -> bool {
        false
    }
    fn before(&mut self, _entry: &Entry) -> Result<(), HookRefusal> {
        Ok(())
    }
    fn after(&mut self, _entry: &Entry) -> Result<(), HookRefusal> {
        Ok(())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::panic)]
mod tests {
    use super::*;
    use crate::test_support::{add, store};
    use crate::{Mod, ModOp, StoreError, WriteCtx};
    use oxldap_proto::{Attribute, Dn, Rdn};

    /// Records the images it is shown; refuses at `refuse_before` / `refuse_after`.
    #[derive(Default)]
    struct Recorder {
        before: Vec<Entry>,
        after: Vec<Entry>,
        refuse_before: bool,
        refuse_after: bool,
    }

    fn refusal() -> HookRefusal {
        HookRefusal {
            code: ResultCode::AssertionFailed,
            message: String::new(),
        }
    }

    impl WriteHook for Recorder {
        fn wants(&self) -> bool {
            true
        }
        fn before(&mut self, entry: &Entry) -> Result<(), HookRefusal> {
            self.before.push(entry.clone());
            if self.refuse_before {
                return Err(refusal());
            }
            Ok(())
        }
        fn after(&mut self, entry: &Entry) -> Result<(), HookRefusal> {
            self.after.push(entry.clone());
            if self.refuse_after {
                return Err(refusal());
            }
            Ok(())
        }
    }

    fn replace_description(v: &str) -> Vec<Mod> {
        vec![Mod {
            op: ModOp::Replace,
            attr: Attribute {
                desc: "description".into(),
                values: vec![v.as_bytes().to_vec()],
            },
        }]
    }

    fn description(s: &crate::Store, dn: &Dn) -> Vec<Vec<u8>> {
        s.get(dn).unwrap().unwrap().values("description").to_vec()
    }

    #[test]
    fn modify_hook_sees_before_and_after_images() {
        let s = store();
        add(&s, "dc=example,dc=com", "domain");
        let dn = Dn::parse("ou=a,dc=example,dc=com").unwrap();
        add(&s, "ou=a,dc=example,dc=com", "organizationalUnit");
        let mut h = Recorder::default();
        s.modify_with(&dn, replace_description("x"), &WriteCtx::default(), &mut h)
            .unwrap();
        assert!(h.before[0].values("description").is_empty());
        assert_eq!(h.after[0].values("description"), [b"x".to_vec()]);
        // Images are presented as a read would: computed attributes included.
        assert_eq!(h.after[0].values("hasSubordinates"), [b"FALSE".to_vec()]);
    }

    #[test]
    fn refusals_commit_nothing() {
        let s = store();
        add(&s, "dc=example,dc=com", "domain");
        let dn = Dn::parse("ou=a,dc=example,dc=com").unwrap();
        add(&s, "ou=a,dc=example,dc=com", "organizationalUnit");
        let ctx = WriteCtx::default();
        for (refuse_before, refuse_after) in [(true, false), (false, true)] {
            let mut h = Recorder {
                refuse_before,
                refuse_after,
                ..Recorder::default()
            };
            let e = s.modify_with(&dn, replace_description("y"), &ctx, &mut h);
            assert!(matches!(e, Err(StoreError::Refused(_))), "{e:?}");
            assert!(description(&s, &dn).is_empty());
        }
        let mut h = Recorder {
            refuse_before: true,
            ..Recorder::default()
        };
        assert!(s.delete_with(&dn, &ctx, &mut h).is_err());
        assert!(s.get(&dn).unwrap().is_some());
        let rdn = Rdn::parse("ou=b").unwrap();
        assert!(s
            .modify_dn_with(&dn, &rdn, true, None, &ctx, &mut h)
            .is_err());
        assert!(s.get(&dn).unwrap().is_some());
        let mut new = Entry::new(Dn::parse("ou=c,dc=example,dc=com").unwrap());
        new.push_value("objectClass", b"organizationalUnit".to_vec());
        let mut h = Recorder {
            refuse_after: true,
            ..Recorder::default()
        };
        assert!(s.add_with(new.clone(), &ctx, &mut h).is_err());
        assert!(s.get(&new.dn).unwrap().is_none());
        // An add's before image is the entry as it would be stored (stamped).
        assert!(!h.before[0].values("entryUUID").is_empty());
        // The id a refused add allocated is not reused wrongly: the add now succeeds.
        s.add_with(new.clone(), &ctx, &mut Recorder::default())
            .unwrap();
        assert!(s.get(&new.dn).unwrap().is_some());
    }
}
