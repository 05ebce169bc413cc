//! Operation handlers (RFC 4511 §4.2–§4.12): each takes the directory, the caller's
//! identity and a decoded request, and returns the outcome. They are synchronous (the store
//! is) and run on the blocking pool; they know nothing of sockets.

use crate::directory::Directory;
use crate::error::LdapError;
use crate::session::Identity;
use ldap3_proto::proto::{
    LdapAddRequest, LdapCompareRequest, LdapModifyDNRequest, LdapModifyRequest, LdapModifyType,
    LdapPartialAttribute, LdapSearchRequest, LdapSearchResultEntry, LdapSearchScope,
};
use oxldap_proto::entry_ber::EncodedMessages;
use oxldap_proto::{Attribute, Dn, Entry, Filter, FilterError, Rdn, ResultCode};
use oxldap_schema::NormDn;
use oxldap_store::{Mod, ModOp, NoHook, Scope, SearchControl, WriteCtx, WriteHook};
use std::time::{Duration, Instant};

/// The DN of the subschema subentry (RFC 4512 §4.2), as slapd names it.
pub const SUBSCHEMA_DN: &str = "cn=Subschema";
/// The attribute simple binds check (RFC 4513 §5.1.3) and Password Modify writes.
const USER_PASSWORD: &str = "userPassword";

/// The supported controls advertised in the root DSE and accepted when critical.
pub const SUPPORTED_CONTROLS: &[&str] = &[
    // Simple Paged Results (RFC 2696).
    PAGED_RESULTS_OID,
    // Server-side sorting (RFC 2891), for small results.
    crate::sort::SORT_REQUEST_OID,
    // Content synchronization (RFC 4533).
    crate::sync::SYNC_REQUEST_OID,
    // ManageDsaIT (RFC 3296): accepted; this server holds no referral objects, so it
    // changes nothing.
    "2.16.840.1.113730.3.4.2",
    // Assertion (RFC 4528), pre-read and post-read (RFC 4527), matched values (RFC 3876):
    // see crate::controls.
    oxldap_proto::controls::ASSERTION_OID,
    oxldap_proto::controls::PRE_READ_OID,
    oxldap_proto::controls::POST_READ_OID,
    oxldap_proto::controls::MATCHED_VALUES_OID,
];

/// The supported extended operations advertised in the root DSE.
pub const SUPPORTED_EXTENSIONS: &[&str] = &[
    ldap3_proto::proto::OID_WHOAMI,
    ldap3_proto::proto::OID_PASSWORD_MODIFY,
    crate::cancel::CANCEL_OID,
];

/// The supported features (RFC 4512 §5.1.5): all operational attributes `+` (RFC 3673),
/// `@objectClass` attribute lists (RFC 4529), absolute true and false filters (RFC 4526), modify-increment (RFC 4525).
pub const SUPPORTED_FEATURES: &[&str] = &[
    "1.3.6.1.4.1.4203.1.5.1",
    "1.3.6.1.4.1.4203.1.5.2",
    "1.3.6.1.4.1.4203.1.5.3",
    "1.3.6.1.1.14",
];

/// The Simple Paged Results control (RFC 2696).
pub const PAGED_RESULTS_OID: &str = "1.2.840.113556.1.4.319";

/// Where one page of a paged search (RFC 2696) starts and how big it is.
#[derive(Debug, Clone, Copy, Default)]
pub struct Page {
    /// Matching entries already returned by earlier pages (skipped now).
    pub skip: u64,
    /// The most entries this page returns.
    pub size: u64,
}

/// How a search ended when it did not fail.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SearchEnd {
    /// Every matching entry was sent.
    Done,
    /// The size limit stopped it (sizeLimitExceeded, RFC 4511 §4.5.1.4).
    SizeLimit,
    /// The time limit stopped it (timeLimitExceeded).
    TimeLimit,
    /// Abandoned or the client went away: send nothing more.
    Cancelled,
    /// The page is full and more entries match (RFC 2696: answer with a cookie).
    PageFull,
}

/// Parses a DN from a request, answering invalidDNSyntax (34).
pub fn parse_dn(s: &str) -> Result<Dn, LdapError> {
    Ok(Dn::parse(s)?)
}

fn ctx(who: &Identity) -> WriteCtx {
    WriteCtx {
        modifier: who.dn(),
        import: false,
    }
}

fn to_attrs(attrs: Vec<LdapPartialAttribute>) -> Vec<Attribute> {
    attrs
        .into_iter()
        .map(|a| Attribute {
            desc: a.atype,
            values: a.vals,
        })
        .collect()
}

/// Add (RFC 4511 §4.7), subject to access control ([`crate::acl::guard_add`]).
pub fn add(dir: &Directory, who: &Identity, req: LdapAddRequest) -> Result<(), LdapError> {
    add_with(dir, who, req, &mut NoHook)
}

/// [`add`] with a store [`WriteHook`] (request controls, [`crate::controls`]).
pub fn add_with(
    dir: &Directory,
    who: &Identity,
    req: LdapAddRequest,
    hook: &mut dyn WriteHook,
) -> Result<(), LdapError> {
    writable(dir)?;
    let dn = parse_dn(&req.dn)?;
    let entry = Entry {
        dn,
        attrs: to_attrs(req.attributes),
    };
    // slapd's frontend checks before the backend's access control.
    dir.store.precheck_add_frontend(&entry.attrs, &ctx(who))?;
    crate::acl::guard_add(&dir.checker(who), dir, &entry)?;
    Ok(dir.store.add_with(entry, &ctx(who), hook)?)
}

/// `readonly on` refuses every update with unwillingToPerform (53) "operation
/// restricted", as slapd's backend_check_restrictions.
fn writable(dir: &Directory) -> Result<(), LdapError> {
    if dir.readonly {
        return Err(LdapError::new(
            ResultCode::UnwillingToPerform,
            "operation restricted",
        ));
    }
    Ok(())
}

/// Whether the attribute description `desc` (options allowed) names userPassword.
fn is_user_password(dir: &Directory, desc: &str) -> bool {
    dir.schema.canonical_desc(desc).is_some_and(|d| {
        d.split(';')
            .next()
            .unwrap_or("")
            .eq_ignore_ascii_case(USER_PASSWORD)
    })
}

/// The userPassword values to store for `values` written by a client: each value without
/// a known `{SCHEME}` prefix is hashed with the `password-hash` scheme (slapd's
/// `ppolicy_hash_cleartext`); already hashed values are kept. With `password-hash
/// {CLEARTEXT}` values are stored as written.
fn hash_cleartext(dir: &Directory, values: Vec<Vec<u8>>) -> Result<Vec<Vec<u8>>, LdapError> {
    if crate::password::is_cleartext_scheme(&dir.password_scheme) {
        return Ok(values);
    }
    values
        .into_iter()
        .map(|v| {
            if crate::password::has_known_scheme(&v) {
                return Ok(v);
            }
            crate::password::hash(&dir.password_scheme, &v)
                .map(String::into_bytes)
                .map_err(|e| LdapError::new(ResultCode::Other, e.to_string()))
        })
        .collect()
}

/// Hashes the cleartext userPassword values of an Add request from a client, as slapd
/// with `ppolicy_hash_cleartext` (see [`hash_cleartext`]); the embedded API's in-process
/// `Server::add`/`modify` call it too. Loads (`--ldif`, `import`, seed LDIF) store values
/// as given, like slapadd.
pub fn hash_passwords_in_add(dir: &Directory, req: &mut LdapAddRequest) -> Result<(), LdapError> {
    for a in &mut req.attributes {
        if is_user_password(dir, &a.atype) {
            a.vals = hash_cleartext(dir, std::mem::take(&mut a.vals))?;
        }
    }
    Ok(())
}

/// Hashes the cleartext userPassword values of a Modify request from a client: added and
/// replacing values as [`hash_passwords_in_add`]; a value to delete that is not stored as
/// written but verifies against a stored value is replaced by that stored value, so
/// `delete: userPassword` with the old cleartext password works on a hashed value
/// (slapd's ppolicy does the same).
pub fn hash_passwords_in_modify(
    dir: &Directory,
    req: &mut LdapModifyRequest,
) -> Result<(), LdapError> {
    for change in &mut req.changes {
        let attr = &mut change.modification;
        if !is_user_password(dir, &attr.atype) {
            continue;
        }
        match change.operation {
            LdapModifyType::Add | LdapModifyType::Replace => {
                attr.vals = hash_cleartext(dir, std::mem::take(&mut attr.vals))?;
            }
            LdapModifyType::Delete if !attr.vals.is_empty() => {
                let dn = parse_dn(&req.dn)?;
                let desc = dir.schema.canonical_desc(&attr.atype).unwrap_or_default();
                // A missing entry is answered by the modify itself.
                let have = match dir.store.get(&dn)? {
                    Some(e) => e.values(&desc).to_vec(),
                    None => Vec::new(),
                };
                for v in &mut attr.vals {
                    if have.contains(v) {
                        continue;
                    }
                    if let Some(s) = have.iter().find(|s| crate::password::verify(s, v)) {
                        *v = s.clone();
                    }
                }
            }
            LdapModifyType::Delete => {}
        }
    }
    Ok(())
}

/// Converts modify changes; `increments` lists the indexes the codec saw as increment (3).
pub fn to_mods(changes: Vec<ldap3_proto::proto::LdapModify>, increments: &[usize]) -> Vec<Mod> {
    changes
        .into_iter()
        .enumerate()
        .map(|(i, c)| Mod {
            op: if increments.contains(&i) {
                ModOp::Increment
            } else {
                match c.operation {
                    LdapModifyType::Add => ModOp::Add,
                    LdapModifyType::Delete => ModOp::Delete,
                    LdapModifyType::Replace => ModOp::Replace,
                }
            },
            attr: Attribute {
                desc: c.modification.atype,
                values: c.modification.vals,
            },
        })
        .collect()
}

/// Modify (RFC 4511 §4.6), subject to access control ([`crate::acl::guard_modify`]).
pub fn modify(
    dir: &Directory,
    who: &Identity,
    req: LdapModifyRequest,
    increments: &[usize],
) -> Result<(), LdapError> {
    modify_with(dir, who, req, increments, &mut NoHook)
}

/// [`modify`] with a store [`WriteHook`] (request controls, [`crate::controls`]).
pub fn modify_with(
    dir: &Directory,
    who: &Identity,
    req: LdapModifyRequest,
    increments: &[usize],
    hook: &mut dyn WriteHook,
) -> Result<(), LdapError> {
    writable(dir)?;
    let dn = parse_dn(&req.dn)?;
    let mods = to_mods(req.changes, increments);
    // slapd's frontend checks before the backend's access control.
    dir.store.precheck_modify_frontend(&mods, &ctx(who))?;
    crate::acl::guard_modify(
        &dir.checker(who),
        dir,
        &dn,
        mods.iter().map(|m| m.attr.desc.as_str()),
    )?;
    Ok(dir.store.modify_with(&dn, mods, &ctx(who), hook)?)
}

/// Delete (RFC 4511 §4.8).
pub fn delete(dir: &Directory, who: &Identity, dn: &str) -> Result<(), LdapError> {
    delete_with(dir, who, dn, &mut NoHook)
}

/// [`delete`] with a store [`WriteHook`] (request controls, [`crate::controls`]).
pub fn delete_with(
    dir: &Directory,
    who: &Identity,
    dn: &str,
    hook: &mut dyn WriteHook,
) -> Result<(), LdapError> {
    writable(dir)?;
    let dn = parse_dn(dn)?;
    crate::acl::guard_delete(&dir.checker(who), dir, &dn)?;
    Ok(dir.store.delete_with(&dn, &ctx(who), hook)?)
}

/// Modify DN (RFC 4511 §4.9).
pub fn modify_dn(
    dir: &Directory,
    who: &Identity,
    req: LdapModifyDNRequest,
) -> Result<(), LdapError> {
    modify_dn_with(dir, who, req, &mut NoHook)
}

/// [`modify_dn`] with a store [`WriteHook`] (request controls, [`crate::controls`]).
pub fn modify_dn_with(
    dir: &Directory,
    who: &Identity,
    req: LdapModifyDNRequest,
    hook: &mut dyn WriteHook,
) -> Result<(), LdapError> {
    writable(dir)?;
    let dn = parse_dn(&req.dn)?;
    let rdn = Rdn::parse(&req.newrdn)?;
    let sup = req.new_superior.as_deref().map(parse_dn).transpose()?;
    crate::acl::guard_modify_dn(
        &dir.checker(who),
        dir,
        &dn,
        &rdn,
        req.deleteoldrdn,
        sup.as_ref(),
    )?;
    Ok(dir
        .store
        .modify_dn_with(&dn, &rdn, req.deleteoldrdn, sup.as_ref(), &ctx(who), hook)?)
}

/// Compare (RFC 4511 §4.10): Ok(true) is compareTrue, Ok(false) compareFalse.
pub fn compare(
    dir: &Directory,
    who: &Identity,
    req: LdapCompareRequest,
) -> Result<bool, LdapError> {
    let dn = parse_dn(&req.dn)?;
    let chk = dir.checker(who);
    let entry = dir
        .store
        .lookup(&dn)
        .map_err(|e| crate::acl::hide_matched(&chk, dir, e.into()))?;
    crate::acl::guard_compare(&chk, &entry, &req.atype)?;
    Ok(dir.schema.compare(&entry, &req.atype, &req.val)?)
}

/// Which attributes a search returns (RFC 4511 §4.5.1.8, RFC 3673).
#[derive(Debug, Default)]
struct Selection<'d> {
    all_user: bool,
    all_operational: bool,
    /// Requested descriptions that name known attribute types, resolved once per search
    /// (an entry's attributes are checked against each of them).
    named: Vec<Requested<'d>>,
}

/// One requested attribute description: its type and its options part (`;lang-en`...).
#[derive(Debug)]
struct Requested<'d> {
    at: &'d oxldap_schema::AttributeType,
    options: String,
}

impl<'d> Selection<'d> {
    /// `@class` names every attribute the class and its superclasses allow (RFC 4529).
    fn new(dir: &'d Directory, attrs: &[String]) -> Selection<'d> {
        let mut s = Selection::default();
        let only_11 = attrs.iter().all(|a| a == "1.1");
        if attrs.is_empty() {
            s.all_user = true;
            return s;
        }
        if only_11 {
            return s;
        }
        let mut name = |desc: &str| {
            // An empty option (`cn;`, `cn;;x`) makes the description invalid (RFC 4512
            // §2.5: `option = 1*keychar`); slapd returns nothing for it.
            if desc.split(';').skip(1).any(str::is_empty) {
                return;
            }
            if let Some(at) = dir.schema.attribute_type(desc) {
                let options = oxldap_schema::split_description(desc).1.to_string();
                s.named.push(Requested { at, options });
            }
        };
        let mut all_user = false;
        let mut all_operational = false;
        for a in attrs {
            match a.as_str() {
                "*" => all_user = true,
                "+" => all_operational = true,
                "1.1" => {}
                other => match other.strip_prefix('@') {
                    Some(class) => {
                        if let Some(oc) = dir.schema.object_class(class) {
                            let mut classes = vec![oc];
                            classes.extend(dir.schema.superclasses(oc));
                            for c in classes {
                                c.must.iter().chain(&c.may).for_each(|d| name(d));
                            }
                        }
                    }
                    None => name(other),
                },
            }
        }
        s.all_user = all_user;
        s.all_operational = all_operational;
        s
    }

    /// Whether any attribute the store computes on read (hasSubordinates, entryDN,
    /// subschemaSubentry, contextCSN) is selected.
    fn wants_computed(&self, dir: &Directory) -> bool {
        self.all_operational
            || [
                "hasSubordinates",
                "entryDN",
                "subschemaSubentry",
                "contextCSN",
            ]
            .iter()
            .any(|c| self.wants(dir, c))
    }

    /// Whether no attribute at all is selected: `1.1` alone (RFC 4511 §4.5.1.8), or only
    /// unknown names.
    fn wants_none(&self) -> bool {
        !self.all_user && !self.all_operational && self.named.is_empty()
    }

    fn wants(&self, dir: &Directory, desc: &str) -> bool {
        if self.wants_none() {
            return false;
        }
        let Some(at) = dir.schema.attribute_type(desc) else {
            return false;
        };
        if at.is_operational() {
            if self.all_operational {
                return true;
            }
        } else if self.all_user {
            return true;
        }
        self.named
            .iter()
            .any(|req| dir.schema.is_subtype(at, req.at) && options_ok(&req.options, desc))
    }
}

/// A requested description with options only selects attributes carrying them (RFC 4512
/// §2.5; language ranges as RFC 3866 §3, [`oxldap_schema::option_satisfied`]).
/// `requested` is the options part (`;a;b`).
fn options_ok(requested: &str, have: &str) -> bool {
    let got = oxldap_schema::split_description(have).1;
    requested.split(';').filter(|o| !o.is_empty()).all(|w| {
        got.split(';')
            .any(|g| oxldap_schema::option_satisfied(w, g))
    })
}

/// `entry` as a SearchResultEntry: the selected attributes `chk`'s identity may read
/// (slapd send_search_entry checks `read` per attribute).
fn to_result_entry(
    dir: &Directory,
    chk: &crate::acl::Checker<'_>,
    entry: Entry,
    sel: &Selection,
    types_only: bool,
) -> LdapSearchResultEntry {
    let keep = if chk.bypass() {
        None
    } else {
        Some(match chk.subject(&entry) {
            Some(s) => readable(dir, chk, &s, sel),
            None => vec![false; entry.attrs.len()],
        })
    };
    select(dir, entry, sel, types_only, keep)
}

/// For each attribute of the entry (owned or read in place): whether it is selected and
/// `read` is granted. Access is evaluated only for selected attributes.
fn readable<E: oxldap_proto::Attributes + ?Sized>(
    dir: &Directory,
    chk: &crate::acl::Checker<'_>,
    s: &crate::acl::Subject<'_, E>,
    sel: &Selection,
) -> Vec<bool> {
    s.entry
        .attributes()
        .map(|(desc, _)| {
            sel.wants(dir, desc)
                && chk.allowed_on(s, crate::acl::Target::Attr(desc), crate::acl::Level::Read)
        })
        .collect()
}

/// The SearchResultEntry with the selected attributes, or those marked in `keep` (from
/// [`readable`]) when access control applies.
fn select(
    dir: &Directory,
    entry: Entry,
    sel: &Selection,
    types_only: bool,
    keep: Option<Vec<bool>>,
) -> LdapSearchResultEntry {
    let keep = keep.unwrap_or_else(|| {
        entry
            .attrs
            .iter()
            .map(|a| sel.wants(dir, &a.desc))
            .collect()
    });
    let attributes = entry
        .attrs
        .into_iter()
        .zip(keep)
        .filter(|(_, k)| *k)
        .map(|(a, _)| LdapPartialAttribute {
            atype: a.desc,
            vals: if types_only { Vec::new() } else { a.values },
        })
        .collect();
    LdapSearchResultEntry {
        dn: entry.dn.to_text(),
        attributes,
    }
}

/// A search result on its way to the client: an owned SearchResultEntry, or a stored
/// entry read in place ([`oxldap_store::EntryView`]) with what to return of it, which is
/// BER-encoded straight from the stored bytes ([`Found::encode`]).
#[derive(Debug)]
pub enum Found<'v> {
    /// An entry built as a SearchResultEntry.
    Entry(LdapSearchResultEntry),
    /// A stored entry and the attributes selected from it.
    View(Selected<'v>),
}

/// A stored entry read in place with the attributes a search returns of it: those its
/// [`Selection`] wants, or under access control those marked in `keep` (from
/// [`readable`]), values left out with typesOnly.
#[derive(Debug)]
pub struct Selected<'v> {
    dir: &'v Directory,
    view: &'v oxldap_store::EntryView<'v>,
    sel: &'v Selection<'v>,
    types_only: bool,
    /// Per attribute of the view, in stored order: whether it goes out (selected and
    /// readable); None when access control is bypassed (the selection alone decides).
    keep: Option<Vec<bool>>,
}

impl Selected<'_> {
    /// The attributes that go out, with their values, in stored order.
    fn attrs(&self) -> impl Iterator<Item = (&str, oxldap_store::ValueIter<'_>)> + '_ {
        let mut keep = self.keep.as_deref().map(|k| k.iter());
        // A DN-only search (`1.1`) skips the walk (a `keep` list can only narrow).
        let none = self.sel.wants_none();
        self.view
            .attrs()
            .take(if none { 0 } else { usize::MAX })
            .filter(move |(d, _)| match keep.as_mut() {
                Some(k) => k.next().copied().unwrap_or(false),
                None => self.sel.wants(self.dir, d),
            })
    }
}

impl Found<'_> {
    /// The result as an owned SearchResultEntry (values copied out of a view).
    pub fn into_entry(self) -> LdapSearchResultEntry {
        match self {
            Found::Entry(e) => e,
            Found::View(s) => LdapSearchResultEntry {
                dn: s.view.dn_text().to_string(),
                attributes: s
                    .attrs()
                    .map(|(d, vals)| LdapPartialAttribute {
                        atype: d.to_string(),
                        vals: if s.types_only {
                            Vec::new()
                        } else {
                            vals.map(<[u8]>::to_vec).collect()
                        },
                    })
                    .collect(),
            },
        }
    }

    /// Appends the result as the SearchResultEntry message `msgid` (no controls) to `out`;
    /// the same bytes as encoding [`Found::into_entry`].
    pub fn encode(self, msgid: i32, out: &mut EncodedMessages) {
        match self {
            Found::Entry(e) => out.push(msgid, &e),
            Found::View(s) => {
                let dn = s.view.dn_text();
                let keep = if s.types_only { 0 } else { usize::MAX };
                // Selected once: the encoder walks the list twice (lengths, then bytes).
                let attrs: Vec<_> = s
                    .attrs()
                    .map(|(d, vals)| (d.as_bytes(), vals.take(keep)))
                    .collect();
                out.push_parts(msgid, dn.as_bytes(), attrs.iter().cloned());
            }
        }
    }
}

/// The root DSE (RFC 4512 §5.1): user attribute objectClass, everything else operational.
pub fn root_dse(dir: &Directory) -> Entry {
    let mut e = Entry::default();
    let mut put = |d: &str, vals: &[&str]| {
        for v in vals {
            e.push_value(d, v.as_bytes().to_vec());
        }
    };
    put("objectClass", &["top", "OpenLDAProotDSE"]);
    put("structuralObjectClass", &["OpenLDAProotDSE"]);
    put("namingContexts", &[&dir.suffix.to_string()]);
    // draft-good-ldap-changelog: where the change log is (crate::changelog_view).
    put("changelog", &[crate::changelog_view::CHANGELOG_DN]);
    put("subschemaSubentry", &[SUBSCHEMA_DN]);
    put("supportedLDAPVersion", &["3"]);
    put("supportedControl", SUPPORTED_CONTROLS);
    put("supportedExtension", SUPPORTED_EXTENSIONS);
    if dir.tls.is_some() {
        // RFC 4511 §4.14: advertised only when a certificate is configured (slapd).
        put("supportedExtension", &[crate::tls::START_TLS_OID]);
    }
    put("supportedFeatures", SUPPORTED_FEATURES);
    put("supportedSASLMechanisms", &[]);
    put("vendorName", &["oxldap"]);
    put("vendorVersion", &[env!("CARGO_PKG_VERSION")]);
    put("entryDN", &[""]);
    put("hasSubordinates", &["TRUE"]);
    e
}

/// The subschema subentry (RFC 4512 §4.2) with the schema in RFC 4512 form
/// (attributeTypes, objectClasses, ldapSyntaxes, matchingRules, matchingRuleUse).
fn subschema_entry(dir: &Directory) -> Entry {
    let mut e = Entry {
        dn: Dn::parse(SUBSCHEMA_DN).unwrap_or_default(),
        attrs: Vec::new(),
    };
    for oc in ["top", "subentry", "subschema", "extensibleObject"] {
        e.push_value("objectClass", oc.as_bytes().to_vec());
    }
    e.push_value("cn", b"Subschema".to_vec());
    for (desc, values) in dir.schema.subschema_attributes() {
        for v in values {
            e.push_value(desc, v);
        }
    }
    e.push_value("structuralObjectClass", b"subentry".to_vec());
    e.push_value("entryDN", SUBSCHEMA_DN.as_bytes().to_vec());
    e.push_value("subschemaSubentry", SUBSCHEMA_DN.as_bytes().to_vec());
    e
}

fn scope_of(s: &LdapSearchScope) -> Scope {
    match s {
        LdapSearchScope::Base => Scope::Base,
        LdapSearchScope::OneLevel => Scope::One,
        LdapSearchScope::Subtree => Scope::Sub,
        LdapSearchScope::Children => Scope::Children,
    }
}

/// Searches reading at most this many entries are "small" ([`is_small_search`]).
pub const SMALL_SEARCH_ENTRIES: u64 = 64;

/// Searches that return no attribute (`1.1` alone, RFC 4511 §4.5.1.8) reading at most
/// this many entries are "small" too: their answer holds DNs only (tens of KiB), and
/// each entry costs about 2 µs, so the connection's task is busy about a millisecond at
/// most. On the blocking pool, the hand-off's thread wake-ups cost a 250-entry DN-only
/// search a tenth of its CPU.
pub const SMALL_DN_SEARCH_ENTRIES: u64 = 512;

/// Filters with more nodes than this are planned on the blocking pool, so that deciding
/// where a search runs costs the connection's task a few index lookups at most.
pub const SMALL_SEARCH_FILTER_NODES: usize = 8;

/// Whether `req` reads at most [`SMALL_SEARCH_ENTRIES`] entries of the database
/// ([`SMALL_DN_SEARCH_ENTRIES`] when it returns no attribute: a base search, or an
/// indexed filter of at most [`SMALL_SEARCH_FILTER_NODES`] nodes with few candidates),
/// or is answered without reading it (the root DSE, a malformed base or filter). Such a search runs on the connection's task; others run on the blocking pool.
/// Costs the index lookups of the filter's plan.
pub fn is_small_search(dir: &Directory, req: &LdapSearchRequest) -> bool {
    let (Ok(base), Ok(filter)) = (parse_dn(&req.base), Filter::try_from(&req.filter)) else {
        return true;
    };
    if base.is_root() {
        return true;
    }
    let scope = scope_of(&req.scope);
    let mut budget = SMALL_SEARCH_FILTER_NODES;
    if scope != Scope::Base && !fits_nodes(&filter, &mut budget) {
        return false;
    }
    let dn_only = !req.attrs.is_empty() && req.attrs.iter().all(|a| a == "1.1");
    let limit = if dn_only {
        SMALL_DN_SEARCH_ENTRIES
    } else {
        SMALL_SEARCH_ENTRIES
    };
    let small = dir
        .store
        .search_cost(&base, scope, &filter)
        .ok()
        .flatten()
        .is_some_and(|n| n <= limit);
    if small {
        // The search runs next on this thread: it takes the parsed base.
        ParsedBase::keep(&req.base, base);
    }
    small
}

/// The base DN [`is_small_search`] parsed, kept for the search that follows on the same
/// thread (`search_entries_limited`), so a small search parses its base once. Keyed by
/// the base's text: parsing is a pure function of it.
struct ParsedBase {
    text: String,
    dn: Dn,
}

thread_local! {
    static LAST_BASE: std::cell::RefCell<Option<ParsedBase>> = const { std::cell::RefCell::new(None) };
}

impl ParsedBase {
    fn keep(text: &str, dn: Dn) {
        let memo = ParsedBase {
            text: text.to_string(),
            dn,
        };
        LAST_BASE.with(|m| *m.borrow_mut() = Some(memo));
    }

    /// `text` parsed: the kept DN if it was parsed from the same text, else parsed now.
    fn parse(text: &str) -> Result<Dn, LdapError> {
        match LAST_BASE.with(|m| m.borrow_mut().take()) {
            Some(memo) if memo.text == text => Ok(memo.dn),
            _ => parse_dn(text),
        }
    }
}

/// Whether `f` has at most `budget` nodes (the budget is spent as they are counted).
fn fits_nodes(f: &Filter, budget: &mut usize) -> bool {
    if *budget == 0 {
        return false;
    }
    *budget -= 1;
    match f {
        Filter::And(v) | Filter::Or(v) => v.iter().all(|c| fits_nodes(c, budget)),
        Filter::Not(x) => fits_nodes(x, budget),
        _ => true,
    }
}

/// Search (RFC 4511 §4.5). Sends each result entry to `send`, which returns false when the
/// client is gone; `cancelled` is polled between entries (Abandon).
///
/// With `page`, the first `page.skip` matching entries are skipped (they went out in
/// earlier pages) and at most `page.size` are sent; the size limit then counts entries of
/// the whole paged search (RFC 2696 §3), `page.skip` included.
pub fn search(
    dir: &Directory,
    who: &Identity,
    req: &LdapSearchRequest,
    page: Option<Page>,
    cancelled: &dyn Fn() -> bool,
    send: &mut dyn FnMut(LdapSearchResultEntry) -> bool,
) -> Result<SearchEnd, LdapError> {
    search_found(dir, who, req, page, cancelled, &mut |f| {
        send(f.into_entry())
    })
}

/// [`search`], handing `send` each result as a [`Found`]: entries the store reads in
/// place stay views until they are encoded.
pub fn search_found(
    dir: &Directory,
    who: &Identity,
    req: &LdapSearchRequest,
    page: Option<Page>,
    cancelled: &dyn Fn() -> bool,
    send: &mut dyn FnMut(Found<'_>) -> bool,
) -> Result<SearchEnd, LdapError> {
    search_found_with(dir, who, req, page, true, cancelled, send)
}

/// [`search_found`] without the size limit, for a sorting search (RFC 2891): slapd's
/// sssvlv sorts the whole candidate set and applies the limit to the sorted result
/// (`sort::Sorter`, with [`size_limit`]). The time limit still applies.
pub fn search_found_unsized(
    dir: &Directory,
    who: &Identity,
    req: &LdapSearchRequest,
    cancelled: &dyn Fn() -> bool,
    send: &mut dyn FnMut(Found<'_>) -> bool,
) -> Result<SearchEnd, LdapError> {
    search_found_with(dir, who, req, None, false, cancelled, send)
}

/// [`search_found`] with or without the size limit (`size_limited`).
fn search_found_with(
    dir: &Directory,
    who: &Identity,
    req: &LdapSearchRequest,
    page: Option<Page>,
    size_limited: bool,
    cancelled: &dyn Fn() -> bool,
    send: &mut dyn FnMut(Found<'_>) -> bool,
) -> Result<SearchEnd, LdapError> {
    // The read-only change log view (cn=changelog) lives outside the store's suffix.
    let mut owned = |e| send(Found::Entry(e));
    if let Some(r) = crate::changelog_view::search(dir, who, req, cancelled, &mut owned) {
        return r;
    }
    // No EntryState: copying entryUUID and entryCSN out of every entry is for content sync.
    search_entries_limited(
        dir,
        who,
        req,
        page,
        size_limited,
        false,
        cancelled,
        &mut |_, f| send(f),
    )
}

/// The size limit `who`'s search `req` runs under (None: unlimited): the client's limit
/// within the server's (`limits::effective`).
pub fn size_limit(dir: &Directory, who: &Identity, req: &LdapSearchRequest) -> Option<u32> {
    let limits = dir.search_limits(who, &req.base);
    crate::limits::effective(req.sizelimit, who.is_root(), limits.size, limits.size_hard)
}

/// The replication state of a matching entry, whatever attributes the client asked for.
#[derive(Debug, Clone, Default)]
pub struct EntryState {
    /// entryUUID (RFC 4530), if stored.
    pub uuid: Option<String>,
    /// entryCSN, if stored.
    pub csn: Option<String>,
}

impl EntryState {
    fn of(e: &Entry) -> EntryState {
        EntryState {
            uuid: e.first_str("entryUUID").map(str::to_string),
            csn: e.first_str("entryCSN").map(str::to_string),
        }
    }
}

/// [`search`], handing `send` each matching entry's [`EntryState`] with the entry as it
/// goes on the wire (attributes selected); used by content sync, which needs entryUUID and
/// entryCSN whatever the client asked for. Only those two values are copied, not the entry.
pub fn search_entries(
    dir: &Directory,
    who: &Identity,
    req: &LdapSearchRequest,
    page: Option<Page>,
    cancelled: &dyn Fn() -> bool,
    send: &mut dyn FnMut(&EntryState, LdapSearchResultEntry) -> bool,
) -> Result<SearchEnd, LdapError> {
    search_entries_limited(dir, who, req, page, true, true, cancelled, &mut |st, f| {
        send(st, f.into_entry())
    })
}

/// [`search_entries`] without the size limit, for a content-sync refresh: it counts only
/// the entries it sends in full, not those it reports present by entryUUID (slapd), so it
/// applies the limit itself (`sync::present_phase`).
pub fn search_entries_uncounted(
    dir: &Directory,
    who: &Identity,
    req: &LdapSearchRequest,
    cancelled: &dyn Fn() -> bool,
    send: &mut dyn FnMut(&EntryState, LdapSearchResultEntry) -> bool,
) -> Result<SearchEnd, LdapError> {
    search_entries_limited(dir, who, req, None, false, true, cancelled, &mut |st, f| {
        send(st, f.into_entry())
    })
}

/// [`search_entries`] with the size limit applied or not (`size_limited`), and each
/// entry's [`EntryState`] copied out or left empty (`with_state`: only content sync reads
/// it; a plain search would pay two copies per entry for nothing).
#[allow(clippy::too_many_arguments)]
fn search_entries_limited(
    dir: &Directory,
    who: &Identity,
    req: &LdapSearchRequest,
    page: Option<Page>,
    size_limited: bool,
    with_state: bool,
    cancelled: &dyn Fn() -> bool,
    send: &mut dyn FnMut(&EntryState, Found<'_>) -> bool,
) -> Result<SearchEnd, LdapError> {
    let base = ParsedBase::parse(&req.base)?;
    // Both are protocolError, as slapd (a filter nested deeper than 1,000 levels is
    // `SLAPD_DISCONNECT` in get_filter0, sent as protocolError).
    let filter = Filter::try_from(&req.filter).map_err(|e| match e {
        FilterError::TooDeep { .. } | FilterError::Syntax { .. } => {
            LdapError::new(ResultCode::ProtocolError, e.to_string())
        }
    })?;
    let sel = Selection::new(dir, &req.attrs);
    let scope = scope_of(&req.scope);
    let chk = dir.checker(who);
    // Whether an entry the store matched goes out to this client (slapd.access(5)).
    let visible = |e: &Entry| {
        chk.bypass()
            || chk
                .subject(e)
                .is_some_and(|s| crate::acl::visible(&chk, &s, &filter))
    };

    // The root DSE and the subschema subentry live outside the database.
    if base.is_root() {
        if scope != Scope::Base {
            return Err(LdapError::new(ResultCode::NoSuchObject, ""));
        }
        let e = root_dse(dir);
        if dir.schema.matches(&filter, &e)
            && visible(&e)
            && !send(
                &EntryState::of(&e),
                Found::Entry(to_result_entry(dir, &chk, e, &sel, req.typesonly)),
            )
        {
            return Ok(SearchEnd::Cancelled);
        }
        return Ok(SearchEnd::Done);
    }
    // Building the subschema entry renders the whole schema: only when it is asked for.
    let is_subschema = base.rdns.len() == 1
        && dir.schema.normalize_dn(&base).ok()
            == Dn::parse(SUBSCHEMA_DN)
                .ok()
                .and_then(|d| dir.schema.normalize_dn(&d).ok());
    if is_subschema {
        // Base scope only, as the root DSE: slapd answers noSuchObject for one level and
        // subtree searches of cn=Subschema (RFC 4512 §4.2 asks clients for base).
        if scope != Scope::Base {
            return Err(LdapError::new(ResultCode::NoSuchObject, ""));
        }
        let sub = subschema_entry(dir);
        if dir.schema.matches(&filter, &sub)
            && visible(&sub)
            && !send(
                &EntryState::of(&sub),
                Found::Entry(to_result_entry(dir, &chk, sub, &sel, req.typesonly)),
            )
        {
            return Ok(SearchEnd::Cancelled);
        }
        return Ok(SearchEnd::Done);
    }

    // cn=Monitor and the backup DN live outside the database too; they have their own
    // check (the rootdn only, `monitor::may_read_monitor`), made before access control.
    if let Some(entries) = crate::monitor::entries_for(dir, who, &base, scope)? {
        for e in entries {
            if dir.schema.matches(&filter, &e)
                && !send(
                    &EntryState::of(&e),
                    Found::Entry(to_result_entry(dir, &chk, e, &sel, req.typesonly)),
                )
            {
                return Ok(SearchEnd::Cancelled);
            }
        }
        return Ok(SearchEnd::Done);
    }
    if let Some(image) = crate::backup::image_for(dir, who, &base)? {
        if !send(
            &EntryState::default(),
            Found::Entry(crate::backup::header(&image)),
        ) {
            return Ok(SearchEnd::Cancelled);
        }
        for e in image.entries {
            if cancelled() {
                return Ok(SearchEnd::Cancelled);
            }
            if !send(
                &EntryState::of(&e),
                Found::Entry(crate::backup::raw_entry(e)),
            ) {
                return Ok(SearchEnd::Cancelled);
            }
        }
        return Ok(SearchEnd::Done);
    }

    crate::acl::guard_search_base(&chk, dir, &base)?;
    let limits = dir.search_limits(who, &req.base);
    let size_limit = size_limit(dir, who, req).filter(|_| size_limited);
    let time_limit =
        crate::limits::effective(req.timelimit, who.is_root(), limits.time, limits.time_hard);
    let deadline = time_limit.map(|s| Instant::now() + Duration::from_secs(u64::from(s)));
    let mut progress = Progress::new(page, size_limit, deadline);
    // The computed attributes cost lookups per entry: only when returned, or when an
    // access rule's `filter=` may look at them.
    let computed = if sel.wants_computed(dir) || (!chk.bypass() && dir.acl.has_filter_rules()) {
        oxldap_store::Computed::Add
    } else {
        oxldap_store::Computed::Omit
    };
    // Entries read in place (no owned decode): when nothing per entry needs the decoded
    // entry (no computed attribute, for the client or for an access rule's `filter=`; no
    // EntryState). Access rules are evaluated on the view, its DN decoded alone. The store
    // declines (false) when the filter names a computed attribute.
    if computed == oxldap_store::Computed::Omit && !with_state {
        let searched = dir.store.search_views(&base, scope, &filter, |view| {
            if progress.interrupted(cancelled()) {
                return SearchControl::Stop;
            }
            // Access control (slapd.access(5)), as on the owned path below; the DN alone
            // is decoded and normalized once per entry.
            let dn;
            let subject = if chk.bypass() {
                None
            } else {
                dn = view.dn();
                match chk.subject_with_dn(view, &dn) {
                    Some(s) if crate::acl::visible(&chk, &s, &filter) => Some(s),
                    _ => return SearchControl::Continue,
                }
            };
            if let Some(skip_or_stop) = progress.admit() {
                return skip_or_stop;
            }
            let keep = subject.map(|s| readable(dir, &chk, &s, &sel));
            let found = Found::View(Selected {
                dir,
                view,
                sel: &sel,
                types_only: req.typesonly,
                keep,
            });
            if !send(&EntryState::default(), found) {
                progress.end = SearchEnd::Cancelled;
                return SearchControl::Stop;
            }
            progress.sent += 1;
            SearchControl::Continue
        });
        match searched {
            Ok(true) => return Ok(progress.end),
            Ok(false) => {}
            Err(e) => return Err(crate::acl::hide_matched(&chk, dir, e.into())),
        }
    }
    let searched = dir
        .store
        .search_with(&base, scope, &filter, computed, |entry| {
            if progress.interrupted(cancelled()) {
                return SearchControl::Stop;
            }
            // Access control (slapd.access(5)): the DN is normalized once per entry.
            let subject = if chk.bypass() {
                None
            } else {
                match chk.subject(&entry) {
                    Some(s) if crate::acl::visible(&chk, &s, &filter) => Some(s),
                    _ => return SearchControl::Continue,
                }
            };
            if let Some(skip_or_stop) = progress.admit() {
                return skip_or_stop;
            }
            let keep = subject.map(|s| readable(dir, &chk, &s, &sel));
            let state = if with_state {
                EntryState::of(&entry)
            } else {
                EntryState::default()
            };
            if !send(
                &state,
                Found::Entry(select(dir, entry, &sel, req.typesonly, keep)),
            ) {
                progress.end = SearchEnd::Cancelled;
                return SearchControl::Stop;
            }
            progress.sent += 1;
            SearchControl::Continue
        });
    // A missing base must not name a matched entry the client may not disclose.
    searched.map_err(|e| crate::acl::hide_matched(&chk, dir, e.into()))?;
    Ok(progress.end)
}

/// Where a search stands against its limits, entry by entry: the time limit and abandon
/// (checked before each candidate), then the page's skip, the size limit and the page
/// size (checked for each entry the client may see), as RFC 4511 §4.5.1 and RFC 2696 ask.
struct Progress {
    /// Entries of the whole (paged) search returned so far, earlier pages included.
    sent: u64,
    /// Visible matching entries met by this pass, skipped ones included.
    seen: u64,
    /// Entries returned by earlier pages, skipped again by this pass.
    skip: u64,
    page: Option<Page>,
    size_limit: Option<u32>,
    deadline: Option<Instant>,
    /// How the search ends (Done until something stops it).
    end: SearchEnd,
}

impl Progress {
    fn new(page: Option<Page>, size_limit: Option<u32>, deadline: Option<Instant>) -> Progress {
        let skip = page.map_or(0, |p| p.skip);
        Progress {
            sent: skip,
            seen: 0,
            skip,
            page,
            size_limit,
            deadline,
            end: SearchEnd::Done,
        }
    }

    /// Whether the search must stop before the next candidate (abandoned, or past the
    /// time limit); `end` then says why.
    fn interrupted(&mut self, cancelled: bool) -> bool {
        if cancelled {
            self.end = SearchEnd::Cancelled;
        } else if self.deadline.is_some_and(|d| Instant::now() > d) {
            self.end = SearchEnd::TimeLimit;
        } else {
            return false;
        }
        true
    }

    /// Counts a visible matching entry: None to return it; Continue to skip it (an
    /// earlier page returned it); Stop when the size limit or the page ends the search
    /// first (`end` says which).
    fn admit(&mut self) -> Option<SearchControl> {
        self.seen += 1;
        if self.seen <= self.skip {
            return Some(SearchControl::Continue);
        }
        if self.size_limit.is_some_and(|l| self.sent >= u64::from(l)) {
            self.end = SearchEnd::SizeLimit;
        } else if self.page.is_some_and(|p| self.sent - self.skip >= p.size) {
            self.end = SearchEnd::PageFull;
        } else {
            return None;
        }
        Some(SearchControl::Stop)
    }
}

/// Whether `entry` lies in the scope of `req`, matches `filter` and is visible to `who`
/// under access control (content sync decides add, modify or delete by applying this to an
/// entry's before and after images).
pub fn covers(
    dir: &Directory,
    who: &Identity,
    req: &LdapSearchRequest,
    filter: &Filter,
    entry: &Entry,
) -> bool {
    let (Ok(base), Ok(dn)) = (
        parse_dn(&req.base).and_then(|b| Ok(dir.schema.normalize_dn(&b)?)),
        dir.schema.normalize_dn(&entry.dn),
    ) else {
        return false;
    };
    let in_scope = match scope_of(&req.scope) {
        Scope::Base => dn == base,
        Scope::One => dn.parent().as_ref() == Some(&base),
        Scope::Sub => dn == base || dn.is_descendant_of(&base),
        Scope::Children => dn.is_descendant_of(&base),
    };
    if !(in_scope && dir.schema.matches(filter, entry)) {
        return false;
    }
    let chk = dir.checker(who);
    chk.bypass()
        || chk
            .subject(entry)
            .is_some_and(|s| crate::acl::visible(&chk, &s, filter))
}

/// `entry` as a SearchResultEntry for `req` (its attribute list and typesOnly) and `who`.
pub fn result_entry(
    dir: &Directory,
    who: &Identity,
    entry: Entry,
    req: &LdapSearchRequest,
) -> LdapSearchResultEntry {
    to_result_entry(
        dir,
        &dir.checker(who),
        entry,
        &Selection::new(dir, &req.attrs),
        req.typesonly,
    )
}

/// A simple bind whose stored secrets are looked up but not yet compared with the
/// presented password: comparing is the slow part of a bind for `{PBKDF2*}`, `{ARGON2}`
/// and `{CRYPT}` values, so the connection runs [`PendingBind::finish`] on the blocking
/// pool unless [`PendingBind::is_cheap`].
#[derive(Debug)]
pub struct PendingBind {
    /// Secrets to try in order (the rootpw, then the entry's userPassword values), each
    /// with the identity a match gives.
    tries: Vec<(Vec<Vec<u8>>, Identity)>,
    norm: NormDn,
    password: Vec<u8>,
}

impl PendingBind {
    /// Whether every stored secret compares in microseconds (no scheme, `{CLEARTEXT}`, or
    /// a salted or plain digest; see [`crate::password::is_cheap`]).
    pub fn is_cheap(&self) -> bool {
        self.tries
            .iter()
            .flat_map(|(vals, _)| vals)
            .all(|v| crate::password::is_cheap(v))
    }

    /// Compares the password: the identity of the first matching secret, or
    /// invalidCredentials (49) without saying why (RFC 4513 §5.1.3).
    pub fn finish(self) -> Result<Identity, LdapError> {
        for (vals, who) in self.tries {
            if vals
                .iter()
                .any(|stored| crate::password::verify(stored, &self.password))
            {
                return Ok(who);
            }
        }
        tracing::info!(dn = %self.norm, "bind failed: invalid credentials");
        Err(LdapError::new(ResultCode::InvalidCredentials, ""))
    }
}

/// The first part of a simple bind: decided, or a password left to compare.
#[derive(Debug)]
pub enum SimpleBind {
    /// Decided without comparing a password (an anonymous bind).
    Decided(Identity),
    /// The stored secrets to compare.
    Pending(PendingBind),
}

/// The first part of a simple bind (RFC 4511 §4.2, RFC 4513 §5.1): the outcome when it is
/// known without comparing a password (anonymous; unauthenticated is unwillingToPerform
/// 53; a bad DN or a password without a DN is invalidCredentials 49), else the secrets to
/// compare. An unknown DN gives a [`PendingBind`] with nothing to try, which fails in
/// [`PendingBind::finish`] exactly as a wrong password.
pub fn lookup_simple_bind(
    dir: &Directory,
    name: &str,
    password: &[u8],
) -> Result<SimpleBind, LdapError> {
    let invalid = || LdapError::new(ResultCode::InvalidCredentials, "");
    if name.is_empty() {
        // RFC 4513 §5.1.1 anonymous; a password without a name is refused (slapd: 49).
        return if password.is_empty() {
            Ok(SimpleBind::Decided(Identity::Anonymous))
        } else {
            Err(invalid())
        };
    }
    let dn = parse_dn(name)?;
    if password.is_empty() {
        // RFC 4513 §5.1.2: unauthenticated binds are refused.
        return Err(LdapError::new(
            ResultCode::UnwillingToPerform,
            "unauthenticated bind (DN with no password) disallowed",
        ));
    }
    let norm = dir.schema.normalize_dn(&dn).map_err(|_| invalid())?;
    let mut tries = Vec::new();
    // The rootdn may also exist as an entry with its own userPassword (tried second).
    if dir.is_rootdn(&norm) {
        if let Some(pw) = dir.rootpw() {
            // As slapd (be_rootdn_bind): the identity is the DN as the client spelled it
            // (its pretty form: `CN=Admin ,DC=X` is `cn=Admin,dc=X`), not the configured
            // one; Who am I? answers with it.
            tries.push((
                vec![pw.to_vec()],
                Identity::Root {
                    dn: dir.schema.pretty_dn(&dn).unwrap_or_else(|_| dn.clone()),
                    norm: norm.clone(),
                },
            ));
        }
    }
    match dir.store.get(&dn) {
        // slapd bind.c: `auth` access on userPassword, as anonymous; denied is 49.
        Ok(Some(entry)) if crate::acl::may_authenticate(dir, &entry) => {
            let vals = entry.values(USER_PASSWORD).to_vec();
            let who = if dir.is_rootdn(&norm) {
                Identity::Root {
                    dn: entry.dn,
                    norm: norm.clone(),
                }
            } else {
                Identity::User {
                    dn: entry.dn,
                    norm: norm.clone(),
                }
            };
            tries.push((vals, who));
        }
        Ok(_) => {}
        Err(e) if e.is_failure() && tries.is_empty() => return Err(e.into()),
        Err(_) => {}
    }
    Ok(SimpleBind::Pending(PendingBind {
        tries,
        norm,
        password: password.to_vec(),
    }))
}

/// A simple bind (RFC 4511 §4.2, RFC 4513 §5.1): [`lookup_simple_bind`] then
/// [`PendingBind::finish`]. Returns the new identity, or the error (after which the
/// connection is anonymous).
pub fn simple_bind(dir: &Directory, name: &str, password: &[u8]) -> Result<Identity, LdapError> {
    match lookup_simple_bind(dir, name, password)? {
        SimpleBind::Decided(who) => Ok(who),
        SimpleBind::Pending(p) => p.finish(),
    }
}

/// Password Modify (RFC 3062). Returns the generated password when none was given.
pub fn password_modify(
    dir: &Directory,
    who: &Identity,
    user: Option<&str>,
    old: Option<&[u8]>,
    new: Option<&[u8]>,
) -> Result<Option<String>, LdapError> {
    // slapd (passwd.c) refuses anonymous clients first, whatever the userIdentity:
    // strongerAuthRequired (8).
    if matches!(who, Identity::Anonymous) {
        return Err(LdapError::new(
            ResultCode::StrongerAuthRequired,
            "only authenticated users may change passwords",
        ));
    }
    writable(dir)?;
    let target = match user {
        // slapd (passwd.c) answers an unparsable userIdentity with invalidAttributeSyntax
        // (21) "Invalid DN", where other operations' DNs get invalidDNSyntax (34).
        Some(u) => parse_dn(u.strip_prefix("dn:").unwrap_or(u))
            .map_err(|_| LdapError::new(ResultCode::InvalidAttributeSyntax, "Invalid DN"))?,
        None => who.dn(),
    };
    let entry = dir
        .store
        .get(&target)?
        .ok_or_else(|| LdapError::new(ResultCode::NoSuchObject, "no such entry"))?;
    crate::acl::guard_password(&dir.checker(who), &entry)?;
    if let Some(old) = old {
        let ok = entry
            .values(USER_PASSWORD)
            .iter()
            .any(|stored| crate::password::verify(stored, old));
        // slapd's passwd.c: unwillingToPerform (53), "unwilling to verify old password".
        if !ok {
            return Err(LdapError::new(
                ResultCode::UnwillingToPerform,
                "unwilling to verify old password",
            ));
        }
    }
    // RFC 3062 §2: a password is generated only when newPasswd is absent. One present
    // but empty is refused, as slapd ("new password value is empty"): generating one
    // would lock out a user whose client ignores the response value.
    let (new, generated) = match new {
        Some([]) => {
            return Err(LdapError::new(
                ResultCode::UnwillingToPerform,
                "new password value is empty",
            ))
        }
        Some(n) => (n.to_vec(), None),
        None => {
            let g = crate::password::generate();
            (g.clone().into_bytes(), Some(g))
        }
    };
    let hashed = crate::password::hash(&dir.password_scheme, &new)
        .map_err(|e| LdapError::new(ResultCode::Other, e.to_string()))?;
    let m = Mod {
        op: ModOp::Replace,
        attr: Attribute {
            desc: USER_PASSWORD.to_string(),
            values: vec![hashed.into_bytes()],
        },
    };
    dir.store.modify(&target, vec![m], &ctx(who))?;
    Ok(generated)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filter_node_budget_counts_every_node() {
        let f = |s: &str| Filter::parse(s).expect("filter");
        let fits = |s: &str| {
            let mut budget = SMALL_SEARCH_FILTER_NODES;
            fits_nodes(&f(s), &mut budget)
        };
        assert!(fits("(mail=a@b)"));
        assert!(fits("(&(objectClass=person)(givenName=Ana))"));
        // Eight nodes fit, nine do not.
        assert!(fits("(|(cn=1)(cn=2)(cn=3)(cn=4)(cn=5)(cn=6)(cn=7))"));
        assert!(!fits("(|(cn=1)(cn=2)(cn=3)(cn=4)(cn=5)(cn=6)(cn=7)(cn=8))"));
        assert!(!fits("(!(!(!(!(!(!(!(!(cn=x)))))))))"));
    }

    #[test]
    fn requested_options_must_all_be_on_the_attribute() {
        // RFC 4512 §2.5.2: `cn;lang-en` selects `cn;lang-en` and `cn;lang-en;x`, not `cn`.
        assert!(options_ok("", "cn"));
        assert!(options_ok("", "cn;lang-en"));
        assert!(options_ok(";lang-en", "cn;LANG-EN"));
        assert!(options_ok(";lang-en", "cn;x;lang-en"));
        assert!(!options_ok(";lang-en", "cn"));
        assert!(!options_ok(";lang-en;x", "cn;lang-en"));
    }
}
