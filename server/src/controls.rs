//! Request controls that change what an operation does or returns: the assertion control
//! (RFC 4528), the pre-read and post-read controls (RFC 4527) and the matched values
//! control (RFC 3876). Their BER values are decoded and encoded in
//! [`oxldap_proto::controls`]; this module decides where they apply and evaluates them.
//!
//! - **Assertion** (1.3.6.1.1.12), on add, modify, delete, modify DN, compare and search:
//!   the filter is evaluated against the target entry (for search, the base entry; for
//!   add, the entry as it will be stored, as slapd's back-mdb does) with the attributes
//!   the client may not `search` Undefined (slapd filterentry.c). Not True: the operation
//!   fails with assertionFailed (122) and changes nothing. For updates it runs under the
//!   store's write lock ([`oxldap_store::WriteHook`]), so the entry cannot change between
//!   the test and the write.
//! - **Pre-read** (1.3.6.1.1.13.1, modify, delete, modify DN) and **post-read**
//!   (1.3.6.1.1.13.2, add, modify, modify DN): the response carries a control whose value
//!   is a SearchResultEntry with the requested attributes (selected as in a search, each
//!   filtered by `read` access) of the entry before or after the change, read under the
//!   same write lock as the write. Without `read` on the entry itself a critical control
//!   fails the operation with insufficientAccessRights (50) and nothing changes; a
//!   non-critical one is left out of the response (slapd `slap_read_controls`).
//! - **Matched values** (1.2.826.0.1.3344810.2.3, search): each returned attribute keeps
//!   only the values some filter item matches (an item on a supertype matches its
//!   subtypes; no ORDERING rule means no match); attributes left with no value are
//!   dropped, the entry itself is still returned (slapd matchedValues.c). With typesOnly
//!   the control has no effect (RFC 3876 §2). Deviation: slapd returns the attributes it
//!   computes after filtering (entryDN, hasSubordinates, subschemaSubentry) with no
//!   values when none matched; they are left out here like any other attribute.
//!
//! RFC 4511 §4.1.11 and slapd controls.c: a control on an operation it does not apply to
//! is ignored when non-critical and answered with unavailableCriticalExtension (12) when
//! critical; a control given twice, or with a malformed value, is a protocolError (2).

use crate::acl::{Level, Target};
use crate::directory::Directory;
use crate::error::LdapError;
use crate::ops;
use crate::session::Identity;
use ldap3_proto::control::LdapControl;
use ldap3_proto::proto::{
    LdapAddRequest, LdapCompareRequest, LdapDerefAliases, LdapFilter, LdapModifyDNRequest,
    LdapModifyRequest, LdapOp, LdapSearchRequest, LdapSearchResultEntry, LdapSearchScope,
};
use oxldap_proto::controls::{
    decode_assertion, decode_attribute_selection, decode_values_return_filter, encode_read_entry,
    raw_control, ASSERTION_OID, MATCHED_VALUES_OID, POST_READ_OID, PRE_READ_OID,
};
use oxldap_proto::{Attribute, Dn, Entry, Filter, RawControl, ResultCode};
use oxldap_store::{HookRefusal, WriteHook};

/// The controls of this module found on one request, decoded.
#[derive(Debug, Default)]
pub struct OpControls {
    /// The assertion's filter (RFC 4528).
    assertion: Option<Filter>,
    /// The pre-read request (RFC 4527 §3.1).
    pre_read: Option<ReadRequest>,
    /// The post-read request (RFC 4527 §3.2).
    post_read: Option<ReadRequest>,
    /// The ValuesReturnFilter items (RFC 3876).
    values_return: Option<Vec<Filter>>,
}

/// A pre-read or post-read request.
#[derive(Debug)]
struct ReadRequest {
    /// Whether the control was critical: a denied read then fails the operation.
    critical: bool,
    /// The AttributeSelection, as in a SearchRequest.
    attrs: Vec<String>,
}

/// The operations these controls distinguish.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Add,
    Modify,
    Delete,
    ModifyDn,
    Compare,
    Search,
    Other,
}

impl Kind {
    fn of(op: &LdapOp) -> Kind {
        match op {
            LdapOp::AddRequest(_) => Kind::Add,
            LdapOp::ModifyRequest(_) => Kind::Modify,
            LdapOp::DelRequest(_) => Kind::Delete,
            LdapOp::ModifyDNRequest(_) => Kind::ModifyDn,
            LdapOp::CompareRequest(_) => Kind::Compare,
            LdapOp::SearchRequest(_) => Kind::Search,
            _ => Kind::Other,
        }
    }
}

/// Which operations each control applies to (slapd's control masks).
fn applies(oid: &str, kind: Kind) -> Option<bool> {
    use Kind::*;
    let ok: &[Kind] = match oid {
        ASSERTION_OID => &[Add, Modify, Delete, ModifyDn, Compare, Search],
        PRE_READ_OID => &[Modify, Delete, ModifyDn],
        POST_READ_OID => &[Add, Modify, ModifyDn],
        MATCHED_VALUES_OID => &[Search],
        _ => return None,
    };
    Some(ok.contains(&kind))
}

fn protocol_error(e: impl std::fmt::Display) -> LdapError {
    LdapError::new(ResultCode::ProtocolError, e.to_string())
}

impl OpControls {
    /// Decodes this module's controls among `controls` of request `op`.
    ///
    /// Errors: unavailableCriticalExtension (12) for a critical control on an operation it
    /// does not apply to; protocolError (2) for a control given twice or a malformed value.
    pub fn parse(op: &LdapOp, controls: &[RawControl]) -> Result<OpControls, LdapError> {
        let kind = Kind::of(op);
        let mut out = OpControls::default();
        for c in controls {
            match applies(&c.oid, kind) {
                None => continue,
                Some(false) if c.critical => {
                    return Err(LdapError::new(
                        ResultCode::UnavailableCriticalExtension,
                        "critical extension is unavailable",
                    ))
                }
                Some(false) => continue,
                Some(true) => {}
            }
            let twice = || protocol_error(format!("{} control specified multiple times", c.oid));
            match c.oid.as_str() {
                ASSERTION_OID => {
                    if out.assertion.is_some() {
                        return Err(twice());
                    }
                    out.assertion = Some(decode_assertion(c).map_err(protocol_error)?);
                }
                PRE_READ_OID | POST_READ_OID => {
                    let slot = if c.oid == PRE_READ_OID {
                        &mut out.pre_read
                    } else {
                        &mut out.post_read
                    };
                    if slot.is_some() {
                        return Err(twice());
                    }
                    *slot = Some(ReadRequest {
                        critical: c.critical,
                        attrs: decode_attribute_selection(c).map_err(protocol_error)?,
                    });
                }
                _ => {
                    if out.values_return.is_some() {
                        return Err(twice());
                    }
                    out.values_return =
                        Some(decode_values_return_filter(c).map_err(protocol_error)?);
                }
            }
        }
        Ok(out)
    }

    /// Whether a write needs the store hook at all.
    fn needs_hook(&self) -> bool {
        self.assertion.is_some() || self.pre_read.is_some() || self.post_read.is_some()
    }
}

/// Whether `filter` is True for `entry` as `who` may see it (slapd test_filter: items on
/// attributes without `search` access are Undefined).
fn asserts(dir: &Directory, chk: &crate::acl::Checker<'_>, filter: &Filter, entry: &Entry) -> bool {
    if !dir.schema.matches(filter, entry) {
        return false;
    }
    chk.bypass()
        || chk
            .subject(entry)
            .is_some_and(|s| chk.filter_matches(&s, filter))
}

fn assertion_failed() -> LdapError {
    LdapError::new(ResultCode::AssertionFailed, "")
}

/// The store hook of one write: tests the assertion and takes the read-entry images.
struct Hook<'a> {
    dir: &'a Directory,
    who: &'a Identity,
    chk: crate::acl::Checker<'a>,
    ctrls: &'a OpControls,
    /// The response controls, in the order slapd sends them (pre-read, then post-read).
    out: Vec<LdapControl>,
}

impl Hook<'_> {
    /// Adds the read-entry response control `oid` for `entry`, or refuses the write when
    /// a critical request may not read the entry.
    fn read(&mut self, oid: &str, req: &ReadRequest, entry: &Entry) -> Result<(), HookRefusal> {
        if !self.chk.allowed(entry, Target::Entry, Level::Read) {
            if req.critical {
                return Err(HookRefusal {
                    code: ResultCode::InsufficientAccessRights,
                    message: "no read access to the entry".into(),
                });
            }
            return Ok(());
        }
        let sel = LdapSearchRequest {
            base: String::new(),
            scope: LdapSearchScope::Base,
            aliases: LdapDerefAliases::Never,
            sizelimit: 0,
            timelimit: 0,
            typesonly: false,
            filter: LdapFilter::Present("objectClass".into()),
            attrs: req.attrs.clone(),
        };
        let e = ops::result_entry(self.dir, self.who, entry.clone(), &sel);
        self.out.push(raw_control(oid, &encode_read_entry(e)));
        Ok(())
    }
}

impl WriteHook for Hook<'_> {
    fn wants(&self) -> bool {
        true
    }

    fn before(&mut self, entry: &Entry) -> Result<(), HookRefusal> {
        let ctrls = self.ctrls;
        if let Some(f) = &ctrls.assertion {
            if !asserts(self.dir, &self.chk, f, entry) {
                let e = assertion_failed();
                return Err(HookRefusal {
                    code: e.code,
                    message: e.message.into_owned(),
                });
            }
        }
        if let Some(r) = &ctrls.pre_read {
            self.read(PRE_READ_OID, r, entry)?;
        }
        Ok(())
    }

    fn after(&mut self, entry: &Entry) -> Result<(), HookRefusal> {
        let ctrls = self.ctrls;
        if let Some(r) = &ctrls.post_read {
            self.read(POST_READ_OID, r, entry)?;
        }
        Ok(())
    }
}

/// Runs `write` with the hook for `ctrls`; response controls go to `resp` on success.
fn with_hook(
    dir: &Directory,
    who: &Identity,
    ctrls: &OpControls,
    resp: &mut Vec<LdapControl>,
    write: impl FnOnce(&mut dyn WriteHook) -> Result<(), LdapError>,
) -> Result<(), LdapError> {
    if !ctrls.needs_hook() {
        return write(&mut oxldap_store::NoHook);
    }
    let mut hook = Hook {
        dir,
        who,
        chk: dir.checker(who),
        ctrls,
        out: Vec::new(),
    };
    write(&mut hook)?;
    resp.append(&mut hook.out);
    Ok(())
}

/// [`ops::add`] under `ctrls` (assertion, post-read).
pub fn add(
    dir: &Directory,
    who: &Identity,
    req: LdapAddRequest,
    ctrls: &OpControls,
    resp: &mut Vec<LdapControl>,
) -> Result<(), LdapError> {
    with_hook(dir, who, ctrls, resp, |h| ops::add_with(dir, who, req, h))
}

/// [`ops::modify`] under `ctrls` (assertion, pre-read, post-read).
pub fn modify(
    dir: &Directory,
    who: &Identity,
    req: LdapModifyRequest,
    increments: &[usize],
    ctrls: &OpControls,
    resp: &mut Vec<LdapControl>,
) -> Result<(), LdapError> {
    with_hook(dir, who, ctrls, resp, |h| {
        ops::modify_with(dir, who, req, increments, h)
    })
}

/// [`ops::delete`] under `ctrls` (assertion, pre-read).
pub fn delete(
    dir: &Directory,
    who: &Identity,
    dn: &str,
    ctrls: &OpControls,
    resp: &mut Vec<LdapControl>,
) -> Result<(), LdapError> {
    with_hook(dir, who, ctrls, resp, |h| ops::delete_with(dir, who, dn, h))
}

/// [`ops::modify_dn`] under `ctrls` (assertion, pre-read, post-read).
pub fn modify_dn(
    dir: &Directory,
    who: &Identity,
    req: LdapModifyDNRequest,
    ctrls: &OpControls,
    resp: &mut Vec<LdapControl>,
) -> Result<(), LdapError> {
    with_hook(dir, who, ctrls, resp, |h| {
        ops::modify_dn_with(dir, who, req, h)
    })
}

/// [`ops::compare`] under `ctrls`: the assertion is tested on the entry first (slapd
/// back-mdb compare.c: after the lookup, before the compare access check). A missing entry
/// is left to the compare itself, which answers it.
pub fn compare(
    dir: &Directory,
    who: &Identity,
    req: LdapCompareRequest,
    ctrls: &OpControls,
) -> Result<bool, LdapError> {
    if let Some(f) = &ctrls.assertion {
        let dn = ops::parse_dn(&req.dn)?;
        if let Ok(Some(entry)) = dir.store.get(&dn) {
            if !asserts(dir, &dir.checker(who), f, &entry) {
                return Err(assertion_failed());
            }
        }
    }
    ops::compare(dir, who, req)
}

/// The assertion of a search, tested on its base entry (slapd back-mdb search.c) or the
/// root DSE. A base the store does not hold is left to the search, which answers it.
pub fn check_search_base(
    dir: &Directory,
    who: &Identity,
    req: &LdapSearchRequest,
    ctrls: &OpControls,
) -> Result<(), LdapError> {
    let Some(f) = &ctrls.assertion else {
        return Ok(());
    };
    let base = ops::parse_dn(&req.base)?;
    let entry = if base.is_root() {
        Some(ops::root_dse(dir))
    } else {
        dir.store.get(&base).ok().flatten()
    };
    match entry {
        Some(e) if !asserts(dir, &dir.checker(who), f, &e) => Err(assertion_failed()),
        _ => Ok(()),
    }
}

/// The matched values of one search (RFC 3876); a no-op without the control.
#[derive(Debug, Default)]
pub struct ValuesReturn {
    /// The filter items; None without the control.
    filters: Option<Vec<Filter>>,
}

impl ValuesReturn {
    /// Takes the matched values filter out of `ctrls` for `req`. With typesOnly the
    /// control has no effect (RFC 3876 §2; slapd returns every selected type).
    pub fn take(ctrls: &mut OpControls, req: &LdapSearchRequest) -> ValuesReturn {
        let filters = ctrls.values_return.take().filter(|_| !req.typesonly);
        ValuesReturn { filters }
    }

    /// Whether the request carried the control, i.e. [`ValuesReturn::apply`] may change
    /// an entry (without it, an entry read in place goes out as it is).
    pub fn is_active(&self) -> bool {
        self.filters.is_some()
    }

    /// `e` with each attribute reduced to the values some filter item matches; attributes
    /// with none are left out.
    pub fn apply(&self, dir: &Directory, mut e: LdapSearchResultEntry) -> LdapSearchResultEntry {
        let Some(filters) = &self.filters else {
            return e;
        };
        e.attributes.retain_mut(|a| {
            let vals = std::mem::take(&mut a.vals);
            a.vals = vals
                .into_iter()
                .filter(|v| {
                    // One value as an entry of its own: the schema's filter evaluation
                    // then gives subtypes, superclasses and matching rules as a search.
                    let one = Entry {
                        dn: Dn::default(),
                        attrs: vec![Attribute {
                            desc: a.atype.clone(),
                            values: vec![v.clone()],
                        }],
                    };
                    filters.iter().any(|f| dir.schema.matches(f, &one))
                })
                .collect();
            !a.vals.is_empty()
        });
        e
    }
}
