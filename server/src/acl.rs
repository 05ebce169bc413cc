//! Access control: slapd.access(5) `access to <what> [by <who> <access> [<control>]]+`
//! directives, parsed once into [`AccessRule`]s and evaluated by [`Acl`] per operation.
//!
//! # Supported subset
//!
//! * what: `*`, `dn[.base|.baseObject|.exact|.one|.onelevel|.sub|.subtree|.children|.regex]=`,
//!   `attrs=` (attribute names, subtypes included, and the pseudo-attributes `entry` and
//!   `children`), `filter=`. As slapd 2.5 (aclparse.c), a `dn=` without a style is `base`,
//!   not a regular expression; `dn.regex=` matches the normalized DN (lowercased primary
//!   type names, normalized values, no spaces) case-insensitively and unanchored.
//! * who: `*`, `anonymous`, `users`, `self`, `dn[.style]=` (the same styles),
//!   `group[/objectClass[/attribute]][.exact]=` (membership of the bound DN in a
//!   `groupOfNames`/`member` group unless other names are given).
//! * access: the levels `none < disclose < auth < compare < search < read < write < manage`
//!   (each includes the ones below it) or the privilege form `=`/`+`/`-` with the letters
//!   `m w a z r s c x d 0` (slapd.access(5) "THE <ACCESS> FIELD").
//! * control: `stop` (the default), `continue`, `break`.
//!
//! Not supported (refused when the configuration is read): `val=`, `@objectClass` and `!`
//! in attribute lists, `$n` submatch substitution, `dnattr=`, `peername=`, `ssf=`, sets,
//! `self` levels and the `selfwrite` family.
//!
//! # Evaluation (slapd's `slap_access_allowed` / `slap_acl_mask`, acl.c)
//!
//! The database's rules come first, the global ones after them. For one access to one
//! (pseudo-)attribute of one entry, the rules whose what-clause matches are tried in order;
//! in a rule, the first who-clause that matches applies its access to the privilege mask
//! and its control decides: `stop` ends, `continue` tries the rule's next who-clauses,
//! `break` goes on to the next matching rule. A rule that runs out of who-clauses ends with
//! its implicit `by * none` (the mask becomes empty and evaluation stops). When no rule
//! matches at all, access is denied (the implicit `access to * by * none`). The rootdn
//! bypasses all of this.
//!
//! # Default
//!
//! With no access line at all (neither global nor database), slapd grants `read` to
//! everyone. oxldap adds the Axigen guide's password rule in front of that, so the default
//! is exactly the two rules of [`DEFAULT_RULES`]:
//!
//! ```text
//! access to attrs=userPassword by self write by anonymous auth by * none
//! access to * by * read
//! ```
//!
//! # What each operation needs (back-mdb)
//!
//! Search: `search` on the base's `entry` (else noSuchObject when not even `disclose`,
//! insufficientAccessRights otherwise); a filter item whose attribute lacks `search` is
//! Undefined; an entry is returned only with `read` on its `entry`, and each attribute only
//! with `read`. Compare: `compare` on the attribute. Bind: `auth` on `userPassword`, as
//! anonymous. Add: `write` on the parent's `children` and the new entry's `entry`. Delete:
//! `write` on the entry's `entry` and its parent's `children`. Modify: `write` on each
//! modified attribute. Modify DN: `write` on the entry, the old and new parents'
//! `children` and the naming attributes.
//!
//! The evaluator ([`Acl`], [`Checker`]) knows no result codes; the operation guards at the
//! end of this file ([`guard_search_base`], [`guard_add`], ...) choose them for the
//! handlers in `ops.rs`: insufficientAccessRights (50) when the client may learn that the
//! entry exists (`disclose` on its `entry`), noSuchObject (32) when it may not.

use crate::session::Identity;
use oxldap_proto::{Attributes, Dn, Entry, Filter};
use oxldap_schema::{NormDn, Schema, Ternary};
use oxldap_store::Store;
use std::cell::RefCell;
use std::collections::HashMap;

/// The rules in force when the configuration has no `access` line at all: slapd's default
/// (`access to * by * read`) behind the Axigen guide's rule that a password can only be
/// used to bind by others and written by its owner.
pub const DEFAULT_RULES: &[&str] = &[
    "to attrs=userPassword by self write by anonymous auth by * none",
    "to * by * read",
];

/// Why an access directive was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct AclError(pub String);

fn err(msg: impl Into<String>) -> AclError {
    AclError(msg.into())
}

/// A set of privileges (slapd's `slap_mask_t` privilege bits).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Privs(u8);

impl Privs {
    /// `d`: disclose that the entry exists (in error results).
    pub const DISCLOSE: Privs = Privs(1);
    /// `x`: authenticate with the attribute (bind).
    pub const AUTH: Privs = Privs(1 << 1);
    /// `c`: compare.
    pub const COMPARE: Privs = Privs(1 << 2);
    /// `s`: use in a search filter.
    pub const SEARCH: Privs = Privs(1 << 3);
    /// `r`: read.
    pub const READ: Privs = Privs(1 << 4);
    /// `a`: add values (write-add).
    pub const ADD: Privs = Privs(1 << 5);
    /// `z`: delete values (write-delete).
    pub const DELETE: Privs = Privs(1 << 6);
    /// `m`: manage.
    pub const MANAGE: Privs = Privs(1 << 7);

    /// Whether every privilege of `other` is in `self`.
    pub fn contains(self, other: Privs) -> bool {
        self.0 & other.0 == other.0
    }

    fn union(self, other: Privs) -> Privs {
        Privs(self.0 | other.0)
    }

    fn minus(self, other: Privs) -> Privs {
        Privs(self.0 & !other.0)
    }

    /// Parses the letters of the privilege form (`wrscxd`, `0`).
    fn parse_letters(s: &str) -> Option<Privs> {
        let mut p = Privs::default();
        for c in s.chars() {
            p = p.union(match c.to_ascii_lowercase() {
                'm' => Privs::MANAGE,
                'w' => Privs::ADD.union(Privs::DELETE),
                'a' => Privs::ADD,
                'z' => Privs::DELETE,
                'r' => Privs::READ,
                's' => Privs::SEARCH,
                'c' => Privs::COMPARE,
                'x' => Privs::AUTH,
                'd' => Privs::DISCLOSE,
                '0' => Privs::default(),
                _ => return None,
            });
        }
        Some(p)
    }
}

/// An access level (slapd.access(5)); each level includes every lower one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    /// No access.
    None,
    /// Learn that the entry exists (noSuchObject versus insufficientAccessRights).
    Disclose,
    /// Use the attribute to authenticate (bind).
    Auth,
    /// Compare.
    Compare,
    /// Use in search filters.
    Search,
    /// Read.
    Read,
    /// Add, modify, delete.
    Write,
    /// Manage (administrative operations).
    Manage,
}

impl Level {
    fn parse(s: &str) -> Option<Level> {
        Some(match s.to_ascii_lowercase().as_str() {
            "none" => Level::None,
            "disclose" => Level::Disclose,
            "auth" => Level::Auth,
            "compare" => Level::Compare,
            "search" => Level::Search,
            "read" => Level::Read,
            "write" => Level::Write,
            "manage" => Level::Manage,
            _ => return None,
        })
    }

    /// The privileges the level grants (itself and every lower level).
    pub fn granted(self) -> Privs {
        let own = self.needed();
        match self {
            Level::None => own,
            Level::Disclose => own,
            Level::Auth => own.union(Level::Disclose.granted()),
            Level::Compare => own.union(Level::Auth.granted()),
            Level::Search => own.union(Level::Compare.granted()),
            Level::Read => own.union(Level::Search.granted()),
            Level::Write => own.union(Level::Read.granted()),
            Level::Manage => own.union(Level::Write.granted()),
        }
    }

    /// The privileges an operation needing this level must hold.
    pub fn needed(self) -> Privs {
        match self {
            Level::None => Privs::default(),
            Level::Disclose => Privs::DISCLOSE,
            Level::Auth => Privs::AUTH,
            Level::Compare => Privs::COMPARE,
            Level::Search => Privs::SEARCH,
            Level::Read => Privs::READ,
            Level::Write => Privs::ADD.union(Privs::DELETE),
            Level::Manage => Privs::MANAGE,
        }
    }
}

/// What a who-clause does to the privilege mask.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Grant {
    /// A level or `=privs`: the mask becomes exactly this.
    Assign(Privs),
    /// `+privs`: these are added.
    Add(Privs),
    /// `-privs`: these are removed.
    Remove(Privs),
}

/// What happens after a who-clause matched (slapd.access(5) "THE <CONTROL> FIELD").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Control {
    /// The decision is made (the default).
    Stop,
    /// Try the next who-clauses of the same rule.
    Continue,
    /// Go on with the next rule whose what-clause matches.
    Break,
}

/// How a DN pattern selects DNs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DnStyle {
    /// The DN itself (`base`, `baseObject`, `exact`, no style).
    Base,
    /// Entries immediately below it (`one`, `onelevel`).
    One,
    /// It and everything below it (`sub`, `subtree`).
    Subtree,
    /// Everything strictly below it (`children`).
    Children,
}

/// A DN selector of a what- or who-clause.
#[derive(Debug, Clone)]
pub enum DnPattern {
    /// A DN with a scope; normalized against the schema when the [`Acl`] is built.
    Scoped {
        /// The scope.
        style: DnStyle,
        /// The DN as written.
        dn: Dn,
        /// The normalized DN (filled by [`Acl::new`]).
        norm: NormDn,
    },
    /// A POSIX-extended style regular expression over the normalized DN, case-insensitive
    /// and unanchored as slapd's `regexec`.
    Regex(regex::Regex),
}

impl DnPattern {
    /// Parses a DN selector: `style` is the word after `dn.` (none: exact), `value` the
    /// DN or regular expression. Errors: unknown style, invalid DN or expression.
    pub(crate) fn parse(style: Option<&str>, value: &str) -> Result<DnPattern, AclError> {
        let style = match style.map(str::to_ascii_lowercase).as_deref() {
            None | Some("") | Some("base") | Some("baseobject") | Some("exact") => DnStyle::Base,
            Some("one") | Some("onelevel") => DnStyle::One,
            Some("sub") | Some("subtree") => DnStyle::Subtree,
            Some("children") => DnStyle::Children,
            Some("regex") => {
                if has_submatch(value) {
                    return Err(err(format!(
                        "submatch substitution in {value:?} is not supported"
                    )));
                }
                // slapd.access(5): "$$" stands for a literal "$" (end of string).
                let value = value.replace("$$", "$");
                let re = regex::RegexBuilder::new(&value)
                    .case_insensitive(true)
                    .build()
                    .map_err(|e| err(format!("bad regular expression {value:?}: {e}")))?;
                return Ok(DnPattern::Regex(re));
            }
            Some(other) => return Err(err(format!("unsupported dn style {other:?}"))),
        };
        let dn = Dn::parse(value).map_err(|e| err(format!("invalid DN {value:?}: {e}")))?;
        Ok(DnPattern::Scoped {
            style,
            dn,
            norm: NormDn::default(),
        })
    }

    /// Normalizes a scoped pattern's DN against `schema` (once, when rules are built).
    pub(crate) fn resolve(&mut self, schema: &Schema) -> Result<(), AclError> {
        if let DnPattern::Scoped { dn, norm, .. } = self {
            *norm = schema
                .normalize_dn(dn)
                .map_err(|e| err(format!("invalid DN {:?}: {e}", dn.to_string())))?;
        }
        Ok(())
    }

    /// Whether the normalized DN `ndn` (`ndn_text` its string form) is selected.
    pub(crate) fn matches(&self, ndn: &NormDn, ndn_text: &str) -> bool {
        match self {
            DnPattern::Scoped { style, norm, .. } => match style {
                DnStyle::Base => ndn == norm,
                DnStyle::One => ndn.parent().as_ref() == Some(norm),
                DnStyle::Subtree => ndn.ends_with(norm),
                DnStyle::Children => ndn.is_descendant_of(norm),
            },
            DnPattern::Regex(re) => re.is_match(ndn_text),
        }
    }
}

/// Whether a who-pattern uses `$n` / `${n}` submatch substitution.
fn has_submatch(s: &str) -> bool {
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c == '$' {
            match chars.next() {
                Some(n) if n.is_ascii_digit() || n == '{' => return true,
                _ => {}
            }
        }
    }
    false
}

/// An element of an `attrs=` list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AttrName {
    /// The `entry` pseudo-attribute: access to the entry as a whole.
    Entry,
    /// The `children` pseudo-attribute: adding or removing entries below it.
    Children,
    /// An attribute type (and its subtypes), by name or OID as written.
    Type(String),
}

/// What an access check is about: one (pseudo-)attribute of an entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target<'a> {
    /// The `entry` pseudo-attribute.
    Entry,
    /// The `children` pseudo-attribute.
    Children,
    /// An attribute description (options are ignored).
    Attr(&'a str),
}

/// The `<what>` of a rule. All parts given must match; none given is `*`.
#[derive(Debug, Clone, Default)]
pub struct What {
    /// `dn...=`.
    pub dn: Option<DnPattern>,
    /// `attrs=`.
    pub attrs: Option<Vec<AttrName>>,
    /// `filter=`.
    pub filter: Option<Filter>,
}

/// The `<who>` of a by-clause.
#[derive(Debug, Clone)]
pub enum Who {
    /// `*`: everybody.
    Anyone,
    /// `anonymous`: not authenticated.
    Anonymous,
    /// `users`: authenticated.
    Users,
    /// `self`: the bound DN is the entry's DN.
    SelfEntry,
    /// `dn...=`: the bound DN matches.
    Dn(DnPattern),
    /// `group[/class[/attr]]=`: the bound DN is a value of the group's member attribute.
    Group {
        /// The group entry.
        group: DnPattern,
        /// The group's object class (default `groupOfNames`).
        class: String,
        /// The member attribute (default `member`).
        member: String,
    },
}

/// One `by <who> <access> [<control>]` clause.
#[derive(Debug, Clone)]
pub struct By {
    /// Whom it applies to.
    pub who: Who,
    /// What it does to the privileges.
    pub grant: Grant,
    /// What happens next.
    pub control: Control,
}

/// One `access to` directive.
#[derive(Debug, Clone)]
pub struct AccessRule {
    /// The selected entries and attributes.
    pub what: What,
    /// The who-clauses in order.
    pub by: Vec<By>,
}

impl AccessRule {
    /// Parses the text after the `access` keyword (`to <what> by <who> <access> ...`),
    /// with slapd.conf's quoting (`dn.subtree="o=x, c=y"`).
    pub fn parse(text: &str) -> Result<AccessRule, AclError> {
        let words = split_words(text)?;
        let mut it = words.iter().map(String::as_str).peekable();
        if !it.next().is_some_and(|w| w.eq_ignore_ascii_case("to")) {
            return Err(err("expected \"to\""));
        }
        let mut what = What::default();
        let mut star = false;
        while let Some(w) = it.peek().copied() {
            if w.eq_ignore_ascii_case("by") {
                break;
            }
            it.next();
            if w == "*" {
                star = true;
                continue;
            }
            let (left, right) = w
                .split_once('=')
                .ok_or_else(|| err(format!("missing \"=\" in {w:?} in to clause")))?;
            let (key, style) = match left.split_once('.') {
                Some((k, s)) => (k, Some(s)),
                None => (left, None),
            };
            match key.to_ascii_lowercase().as_str() {
                "dn" => {
                    if what.dn.is_some() || star {
                        return Err(err("dn pattern already specified in to clause"));
                    }
                    what.dn = Some(DnPattern::parse(style, right)?);
                }
                "attrs" | "attr" => {
                    let mut list = what.attrs.take().unwrap_or_default();
                    for a in right.split(',').map(str::trim).filter(|a| !a.is_empty()) {
                        if a.starts_with('@') || a.starts_with('!') {
                            return Err(err(format!(
                                "attribute {a:?}: @class and ! are not supported"
                            )));
                        }
                        list.push(match a.to_ascii_lowercase().as_str() {
                            "entry" => AttrName::Entry,
                            "children" => AttrName::Children,
                            _ => AttrName::Type(a.to_string()),
                        });
                    }
                    if list.is_empty() {
                        return Err(err("empty attrs= list"));
                    }
                    what.attrs = Some(list);
                }
                "filter" => {
                    what.filter = Some(
                        Filter::parse(right)
                            .map_err(|e| err(format!("bad filter {right:?} in to clause: {e}")))?,
                    );
                }
                other => return Err(err(format!("unsupported to clause {other:?}"))),
            }
        }
        let mut by = Vec::new();
        while let Some(w) = it.next() {
            if !w.eq_ignore_ascii_case("by") {
                return Err(err(format!("expected \"by\", got {w:?}")));
            }
            let who_word = it.next().ok_or_else(|| err("missing <who> after \"by\""))?;
            let who = parse_who(who_word)?;
            // <access> is optional (slapd: "+0"); <control> too.
            let mut grant = Grant::Add(Privs::default());
            let mut control = Control::Stop;
            if let Some(next) = it.peek().copied() {
                if let Some(g) = parse_grant(next)? {
                    grant = g;
                    it.next();
                }
            }
            if let Some(next) = it.peek().copied() {
                if let Some(c) = parse_control(next) {
                    control = c;
                    it.next();
                }
            }
            by.push(By {
                who,
                grant,
                control,
            });
        }
        if by.is_empty() {
            return Err(err("expected at least one \"by\" clause"));
        }
        Ok(AccessRule { what, by })
    }

    /// Normalizes the rule's DNs and checks its attribute names against `schema`.
    pub(crate) fn resolve(&mut self, schema: &Schema) -> Result<(), AclError> {
        if let Some(d) = &mut self.what.dn {
            d.resolve(schema)?;
        }
        if let Some(attrs) = &self.what.attrs {
            for a in attrs {
                if let AttrName::Type(t) = a {
                    if schema.attribute_type(t).is_none() {
                        return Err(err(format!("unknown attr {t:?} in to clause")));
                    }
                }
            }
        }
        for b in &mut self.by {
            match &mut b.who {
                Who::Dn(d) => d.resolve(schema)?,
                Who::Group { group, .. } => group.resolve(schema)?,
                Who::Anyone | Who::Anonymous | Who::Users | Who::SelfEntry => {}
            }
        }
        Ok(())
    }
}

fn parse_who(w: &str) -> Result<Who, AclError> {
    match w.to_ascii_lowercase().as_str() {
        "*" => return Ok(Who::Anyone),
        "anonymous" => return Ok(Who::Anonymous),
        "users" => return Ok(Who::Users),
        "self" => return Ok(Who::SelfEntry),
        _ => {}
    }
    let (left, right) = w
        .split_once('=')
        .ok_or_else(|| err(format!("unsupported <who> {w:?}")))?;
    let (key, style) = match left.split_once('.') {
        Some((k, s)) => (k, Some(s)),
        None => (left, None),
    };
    let mut parts = key.split('/');
    let head = parts.next().unwrap_or_default().to_ascii_lowercase();
    match head.as_str() {
        "dn" => Ok(Who::Dn(DnPattern::parse(style, right)?)),
        "group" => {
            if style.is_some_and(|s| !s.eq_ignore_ascii_case("exact")) {
                return Err(err(format!("unsupported group style in {w:?}")));
            }
            let class = parts.next().unwrap_or("groupOfNames").to_string();
            let member = parts.next().unwrap_or("member").to_string();
            Ok(Who::Group {
                group: DnPattern::parse(None, right)?,
                class,
                member,
            })
        }
        _ => Err(err(format!("unsupported <who> {w:?}"))),
    }
}

fn parse_grant(w: &str) -> Result<Option<Grant>, AclError> {
    if let Some(l) = Level::parse(w) {
        return Ok(Some(Grant::Assign(l.granted())));
    }
    let letters =
        |s: &str| Privs::parse_letters(s).ok_or_else(|| err(format!("bad privileges {w:?}")));
    if let Some(s) = w.strip_prefix('=') {
        return Ok(Some(Grant::Assign(letters(s)?)));
    }
    if let Some(s) = w.strip_prefix('+') {
        return Ok(Some(Grant::Add(letters(s)?)));
    }
    if let Some(s) = w.strip_prefix('-') {
        return Ok(Some(Grant::Remove(letters(s)?)));
    }
    if parse_control(w).is_some() || w.eq_ignore_ascii_case("by") {
        return Ok(None);
    }
    Err(err(format!("unsupported <access> {w:?}")))
}

fn parse_control(w: &str) -> Option<Control> {
    match w.to_ascii_lowercase().as_str() {
        "stop" => Some(Control::Stop),
        "continue" => Some(Control::Continue),
        "break" => Some(Control::Break),
        _ => None,
    }
}

/// Splits slapd.conf arguments: white space separates, double quotes group (also in the
/// middle of a word, `dn="a b"`), and `\"` / `\\` inside quotes are literal.
fn split_words(text: &str) -> Result<Vec<String>, AclError> {
    let mut words = Vec::new();
    let mut cur = String::new();
    let mut in_word = false;
    let mut quoted = false;
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        match c {
            '"' => {
                quoted = !quoted;
                in_word = true;
            }
            '\\' if quoted => match chars.next() {
                Some(n @ ('"' | '\\')) => cur.push(n),
                Some(n) => {
                    cur.push('\\');
                    cur.push(n);
                }
                None => cur.push('\\'),
            },
            c if c.is_whitespace() && !quoted => {
                if in_word {
                    words.push(std::mem::take(&mut cur));
                    in_word = false;
                }
            }
            c => {
                cur.push(c);
                in_word = true;
            }
        }
    }
    if quoted {
        return Err(err("unterminated quote"));
    }
    if in_word {
        words.push(cur);
    }
    Ok(words)
}

/// The access rules of the served database, ready to evaluate.
#[derive(Debug, Clone)]
pub struct Acl {
    /// The database's rules followed by the global ones (or [`DEFAULT_RULES`]).
    rules: Vec<AccessRule>,
    /// The global rules alone (or the default), for entries outside the database (the
    /// root DSE, the subschema subentry), as slapd's frontend.
    global: Vec<AccessRule>,
    /// The database suffix, normalized.
    suffix: NormDn,
}

impl Acl {
    /// Builds the rules from the database's and the global `access` lines (the text after
    /// `access`), normalizing DNs and checking attribute names against `schema`.
    pub fn new(
        schema: &Schema,
        suffix: NormDn,
        database: &[String],
        global: &[String],
    ) -> Result<Acl, AclError> {
        let parse = |lines: &[String]| -> Result<Vec<AccessRule>, AclError> {
            lines
                .iter()
                .map(|l| {
                    let mut r =
                        AccessRule::parse(l).map_err(|e| err(format!("access {l}: {}", e.0)))?;
                    r.resolve(schema)
                        .map_err(|e| err(format!("access {l}: {}", e.0)))?;
                    Ok(r)
                })
                .collect()
        };
        let default: Vec<String> = DEFAULT_RULES.iter().map(|s| s.to_string()).collect();
        let (db, gl) = if database.is_empty() && global.is_empty() {
            (Vec::new(), parse(&default)?)
        } else {
            (parse(database)?, parse(global)?)
        };
        let mut rules = db;
        rules.extend(gl.iter().cloned());
        let global = if gl.is_empty() {
            // slapd: no frontend rules means the default read for entries in no database.
            parse(&default[1..])?
        } else {
            gl
        };
        Ok(Acl {
            rules,
            global,
            suffix,
        })
    }

    /// Whether any rule selects entries with `filter=` (such a filter may name an
    /// attribute the store computes on read, so searches must add them).
    pub fn has_filter_rules(&self) -> bool {
        self.rules
            .iter()
            .chain(&self.global)
            .any(|r| r.what.filter.is_some())
    }

    /// An evaluator for one operation by `who`; it caches group memberships.
    pub fn checker<'a>(
        &'a self,
        schema: &'a Schema,
        store: &'a Store,
        who: &'a Identity,
    ) -> Checker<'a> {
        Checker {
            acl: self,
            schema,
            store,
            who,
            groups: RefCell::new(HashMap::new()),
        }
    }
}

/// An entry prepared for access checks: its normalized DN computed once. The entry is an
/// owned [`Entry`] or a stored entry read in place (`oxldap_store::EntryView`): the checks
/// only read attributes through [`Attributes`], so both paths answer alike.
#[derive(Debug)]
pub struct Subject<'e, E: Attributes + ?Sized = Entry> {
    /// The entry.
    pub entry: &'e E,
    ndn: NormDn,
    ndn_text: String,
}

/// Evaluates access for one identity during one operation (group lookups are cached).
pub struct Checker<'a> {
    acl: &'a Acl,
    schema: &'a Schema,
    store: &'a Store,
    who: &'a Identity,
    /// Group DN (normalized, as text) to whether the bound DN is a member.
    groups: RefCell<HashMap<String, bool>>,
}

impl std::fmt::Debug for Checker<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Checker")
            .field("who", self.who)
            .finish_non_exhaustive()
    }
}

impl<'a> Checker<'a> {
    /// Whether checks are skipped altogether (the rootdn).
    pub fn bypass(&self) -> bool {
        self.who.is_root()
    }

    /// Prepares `entry` for checks; `None` when its DN does not normalize (such an entry
    /// cannot be stored, so this is only defensive).
    pub fn subject<'e>(&self, entry: &'e Entry) -> Option<Subject<'e>> {
        self.subject_with_dn(entry, &entry.dn)
    }

    /// [`Checker::subject`] for an entry whose DN is `dn` (a view of a stored entry, whose
    /// DN is decoded on its own: `EntryView::dn`).
    pub fn subject_with_dn<'e, E: Attributes + ?Sized>(
        &self,
        entry: &'e E,
        dn: &Dn,
    ) -> Option<Subject<'e, E>> {
        let ndn = self.schema.normalize_dn(dn).ok()?;
        let ndn_text = ndn.to_string();
        Some(Subject {
            entry,
            ndn,
            ndn_text,
        })
    }

    /// Whether `who` has `level` on `target` of `entry`.
    pub fn allowed(&self, entry: &Entry, target: Target<'_>, level: Level) -> bool {
        if self.bypass() {
            return true;
        }
        match self.subject(entry) {
            Some(s) => self.allowed_on(&s, target, level),
            None => false,
        }
    }

    /// [`Checker::allowed`] on a prepared entry.
    pub fn allowed_on<E: Attributes + ?Sized>(
        &self,
        s: &Subject<'_, E>,
        target: Target<'_>,
        level: Level,
    ) -> bool {
        self.bypass() || self.mask(s, target).contains(level.needed())
    }

    /// The privileges `who` holds on `target` of the entry (slapd `access_allowed_mask`).
    pub fn mask<E: Attributes + ?Sized>(&self, s: &Subject<'_, E>, target: Target<'_>) -> Privs {
        if self.bypass() {
            return Privs(u8::MAX);
        }
        let in_db = s.ndn.ends_with(&self.acl.suffix);
        let rules = if in_db {
            &self.acl.rules
        } else {
            &self.acl.global
        };
        // The attribute type once, for attrs= matching.
        let at = match target {
            Target::Attr(d) => self.schema.attribute_type(d),
            Target::Entry | Target::Children => None,
        };
        let mut mask = Privs::default();
        for rule in rules {
            if !self.what_matches(&rule.what, s, target, at) {
                continue;
            }
            match self.apply(rule, s, &mut mask) {
                Control::Break => continue,
                Control::Stop | Control::Continue => return mask,
            }
        }
        // No rule, or only break: the implicit "access to * by * none".
        Privs::default()
    }

    /// Applies a matching rule's who-clauses to `mask` (slapd `slap_acl_mask`).
    fn apply<E: Attributes + ?Sized>(
        &self,
        rule: &AccessRule,
        s: &Subject<'_, E>,
        mask: &mut Privs,
    ) -> Control {
        for b in &rule.by {
            if !self.who_matches(&b.who, s) {
                continue;
            }
            *mask = match b.grant {
                Grant::Assign(p) => p,
                Grant::Add(p) => mask.union(p),
                Grant::Remove(p) => mask.minus(p),
            };
            match b.control {
                Control::Continue => continue,
                c => return c,
            }
        }
        // The implicit "by * none" at the end of every rule.
        *mask = Privs::default();
        Control::Stop
    }

    fn what_matches<E: Attributes + ?Sized>(
        &self,
        what: &What,
        s: &Subject<'_, E>,
        target: Target<'_>,
        at: Option<&oxldap_schema::AttributeType>,
    ) -> bool {
        if let Some(d) = &what.dn {
            if !d.matches(&s.ndn, &s.ndn_text) {
                return false;
            }
        }
        if let Some(attrs) = &what.attrs {
            let hit = attrs.iter().any(|a| match (a, target) {
                (AttrName::Entry, Target::Entry) => true,
                (AttrName::Children, Target::Children) => true,
                (AttrName::Type(t), Target::Attr(_)) => {
                    at.is_some_and(|at| self.schema.is_subtype(at, t.as_str()))
                }
                _ => false,
            });
            if !hit {
                return false;
            }
        }
        if let Some(f) = &what.filter {
            if !self.schema.prepare(f).matches(self.schema, s.entry) {
                return false;
            }
        }
        true
    }

    fn who_matches<E: Attributes + ?Sized>(&self, who: &Who, s: &Subject<'_, E>) -> bool {
        match who {
            Who::Anyone => true,
            Who::Anonymous => self.who.norm().is_none(),
            Who::Users => self.who.norm().is_some(),
            Who::SelfEntry => self.who.norm() == Some(&s.ndn),
            Who::Dn(p) => self
                .who
                .norm()
                .is_some_and(|n| p.matches(n, &n.to_string())),
            Who::Group {
                group,
                class,
                member,
            } => self.member_of(group, class, member),
        }
    }

    /// Whether the bound DN is a value of `member` in the group entry (which must have
    /// object class `class`); read through the store once per operation and group.
    fn member_of(&self, group: &DnPattern, class: &str, member: &str) -> bool {
        let (Some(me), DnPattern::Scoped { dn, norm, .. }) = (self.who.norm(), group) else {
            return false;
        };
        let key = format!("{norm}\u{0}{class}\u{0}{member}");
        if let Some(hit) = self.groups.borrow().get(&key) {
            return *hit;
        }
        let is = group_has_member(self.store, self.schema, dn, class, member, me);
        self.groups.borrow_mut().insert(key, is);
        is
    }

    /// Evaluates `filter` against the entry as RFC 4511 §4.5.1.7 with slapd's access rule
    /// (filterentry.c): an item on an attribute without `search` access is Undefined.
    pub fn filter_matches<E: Attributes + ?Sized>(
        &self,
        s: &Subject<'_, E>,
        filter: &Filter,
    ) -> bool {
        self.bypass() || self.eval(s, filter, 0) == Ternary::True
    }

    /// Whether `who` has `search` on every attribute an item of `filter` names (on the
    /// entry itself for an extensible match without an attribute). Then masking changes
    /// nothing and [`Checker::filter_matches`] is what the unmasked filter gives.
    fn all_items_searchable<E: Attributes + ?Sized>(
        &self,
        s: &Subject<'_, E>,
        filter: &Filter,
        depth: usize,
    ) -> bool {
        oxldap_proto::stack::guard(|| self.all_items_searchable_level(s, filter, depth))
    }

    /// One level of [`Checker::all_items_searchable`].
    fn all_items_searchable_level<E: Attributes + ?Sized>(
        &self,
        s: &Subject<'_, E>,
        filter: &Filter,
        depth: usize,
    ) -> bool {
        if depth > oxldap_proto::filter::MAX_DEPTH {
            return false;
        }
        match filter {
            Filter::And(parts) | Filter::Or(parts) => parts
                .iter()
                .all(|p| self.all_items_searchable(s, p, depth + 1)),
            Filter::Not(inner) => self.all_items_searchable(s, inner, depth + 1),
            Filter::Equality(d, _)
            | Filter::Substrings(d, _)
            | Filter::GreaterOrEqual(d, _)
            | Filter::LessOrEqual(d, _)
            | Filter::Present(d)
            | Filter::Approx(d, _)
            | Filter::Extensible { attr: Some(d), .. } => {
                self.allowed_on(s, Target::Attr(d), Level::Search)
            }
            Filter::Extensible { attr: None, .. } => {
                self.allowed_on(s, Target::Entry, Level::Search)
            }
        }
    }

    fn eval<E: Attributes + ?Sized>(
        &self,
        s: &Subject<'_, E>,
        filter: &Filter,
        depth: usize,
    ) -> Ternary {
        oxldap_proto::stack::guard(|| self.eval_level(s, filter, depth))
    }

    /// One level of [`Checker::eval`].
    fn eval_level<E: Attributes + ?Sized>(
        &self,
        s: &Subject<'_, E>,
        filter: &Filter,
        depth: usize,
    ) -> Ternary {
        // The filter was already depth-checked when decoded; this bounds recursion anyway.
        if depth > oxldap_proto::filter::MAX_DEPTH {
            return Ternary::Undefined;
        }
        let leaf = |desc: &str| {
            if self.allowed_on(s, Target::Attr(desc), Level::Search) {
                self.schema.prepare(filter).evaluate(self.schema, s.entry)
            } else {
                Ternary::Undefined
            }
        };
        match filter {
            Filter::And(parts) => {
                let mut r = Ternary::True;
                for p in parts {
                    match self.eval(s, p, depth + 1) {
                        Ternary::False => return Ternary::False,
                        Ternary::Undefined => r = Ternary::Undefined,
                        Ternary::True => {}
                    }
                }
                r
            }
            Filter::Or(parts) => {
                let mut r = Ternary::False;
                for p in parts {
                    match self.eval(s, p, depth + 1) {
                        Ternary::True => return Ternary::True,
                        Ternary::Undefined => r = Ternary::Undefined,
                        Ternary::False => {}
                    }
                }
                r
            }
            Filter::Not(inner) => !self.eval(s, inner, depth + 1),
            Filter::Equality(d, _)
            | Filter::Substrings(d, _)
            | Filter::GreaterOrEqual(d, _)
            | Filter::LessOrEqual(d, _)
            | Filter::Present(d)
            | Filter::Approx(d, _) => leaf(d),
            Filter::Extensible { attr: Some(d), .. } => leaf(d),
            // No attribute: the rule applies to every attribute (and the DN with :dn:);
            // slapd checks search access per attribute tried; here the entry's.
            Filter::Extensible { attr: None, .. } => {
                if self.allowed_on(s, Target::Entry, Level::Search) {
                    self.schema.prepare(filter).evaluate(self.schema, s.entry)
                } else {
                    Ternary::Undefined
                }
            }
        }
    }
}

// ---- Operation guards: what each operation needs, and the result code when it is denied.

use crate::directory::Directory;
use crate::error::LdapError;
use oxldap_proto::{Rdn, ResultCode};

/// The error for a denied operation on `entry`: insufficientAccessRights (50) when `who`
/// may learn that it exists, else noSuchObject (32), as back-mdb.
fn denied(chk: &Checker<'_>, entry: &Entry, what: &'static str) -> LdapError {
    if chk.allowed(entry, Target::Entry, Level::Disclose) {
        LdapError::new(ResultCode::InsufficientAccessRights, what)
    } else {
        LdapError::new(ResultCode::NoSuchObject, "")
    }
}

/// slapd's frontend refuses anonymous updates unless `allow update_anon` (add.c, delete.c,
/// modify.c, modrdn.c: "modifications require authentication").
fn guard_anonymous_update(chk: &Checker<'_>, dir: &Directory) -> Result<(), LdapError> {
    if chk.who.norm().is_none() && !dir.allow_update_anon {
        return Err(LdapError::new(
            ResultCode::StrongerAuthRequired,
            "modifications require authentication",
        ));
    }
    Ok(())
}

/// Removes the matchedDN of a noSuchObject error when `who` may not disclose that entry
/// (back-mdb: "if ( !access_allowed( op, matched, entry, NULL, ACL_DISCLOSE, NULL ) )"),
/// so a missing name below a hidden subtree does not reveal the subtree.
pub fn hide_matched(chk: &Checker<'_>, dir: &Directory, mut e: LdapError) -> LdapError {
    if chk.bypass() || e.code != ResultCode::NoSuchObject || e.matched.is_empty() {
        return e;
    }
    let disclosed = Dn::parse(&e.matched)
        .ok()
        .and_then(|dn| dir.store.get(&dn).ok().flatten())
        .is_some_and(|m| chk.allowed(&m, Target::Entry, Level::Disclose));
    if !disclosed {
        e.matched.clear();
    }
    e
}

/// Reads an entry for an access check; a missing one is noSuchObject with the matchedDN
/// `who` may see.
fn existing(chk: &Checker<'_>, dir: &Directory, dn: &Dn) -> Result<Entry, LdapError> {
    dir.store
        .lookup(dn)
        .map_err(|e| hide_matched(chk, dir, e.into()))
}

/// Search (back-mdb search.c): `search` on the base's `entry`. A missing base is left to
/// the search itself (noSuchObject with matchedDN).
pub fn guard_search_base(chk: &Checker<'_>, dir: &Directory, base: &Dn) -> Result<(), LdapError> {
    if chk.bypass() {
        return Ok(());
    }
    // Only a `filter=` rule reads the entry's attributes; otherwise its DN decides, and
    // the base need not be read (every search by a user passes here).
    let e = if dir.acl.has_filter_rules() {
        let Some(e) = dir.store.get(base)? else {
            return Ok(());
        };
        e
    } else {
        if !dir.store.contains(base)? {
            return Ok(());
        }
        Entry {
            dn: base.clone(),
            attrs: Vec::new(),
        }
    };
    if chk.allowed(&e, Target::Entry, Level::Search) {
        Ok(())
    } else {
        Err(denied(chk, &e, "no search access to the base entry"))
    }
}

/// Whether a candidate entry goes out (slapd test_filter and send_search_entry): the
/// filter must still be True with the attributes `who` may not search Undefined, and
/// `who` must have `read` on the entry.
///
/// `s.entry` must be one `filter` already matched (the store's candidates, an entry
/// `schema.matches` accepted): masking can only turn True into Undefined, so when every
/// item's attribute is searchable the answer is True without evaluating the filter again.
pub fn visible<E: Attributes + ?Sized>(
    chk: &Checker<'_>,
    s: &Subject<'_, E>,
    filter: &Filter,
) -> bool {
    chk.bypass()
        || (chk.allowed_on(s, Target::Entry, Level::Read)
            && (chk.all_items_searchable(s, filter, 0) || chk.filter_matches(s, filter)))
}

/// Compare (back-mdb compare.c): `compare` on the attribute.
pub fn guard_compare(chk: &Checker<'_>, entry: &Entry, attr: &str) -> Result<(), LdapError> {
    if chk.allowed(entry, Target::Attr(attr), Level::Compare) {
        Ok(())
    } else {
        Err(denied(chk, entry, "no compare access"))
    }
}

/// Bind (back-mdb bind.c): `auth` on userPassword, evaluated as anonymous (slapd resets
/// the connection to anonymous before a bind).
pub fn may_authenticate(dir: &Directory, entry: &Entry) -> bool {
    let anonymous = Identity::Anonymous;
    dir.checker(&anonymous)
        .allowed(entry, Target::Attr("userPassword"), Level::Auth)
}

/// The parent of `dn` for a `children` check: the stored entry, or (for the suffix, whose
/// parent is in no database) an entry with only that DN. A missing parent inside the
/// database is noSuchObject with the matchedDN `who` may see, as back-mdb answers before
/// checking access.
fn parent_of(chk: &Checker<'_>, dir: &Directory, dn: &Dn) -> Result<Option<Entry>, LdapError> {
    let Some(pdn) = dn.parent() else {
        return Ok(None);
    };
    if let Some(p) = dir.store.get(&pdn)? {
        return Ok(Some(p));
    }
    let is_suffix = dir.schema.normalize_dn(dn).ok().as_ref() == Some(&chk.acl.suffix);
    if is_suffix {
        return Ok(Some(Entry {
            dn: pdn,
            attrs: Vec::new(),
        }));
    }
    existing(chk, dir, &pdn).map(Some)
}

/// Add (back-mdb add.c): `write` on the parent's `children` and the new entry's `entry`.
pub fn guard_add(chk: &Checker<'_>, dir: &Directory, entry: &Entry) -> Result<(), LdapError> {
    if chk.bypass() {
        return Ok(());
    }
    guard_anonymous_update(chk, dir)?;
    if let Some(parent) = parent_of(chk, dir, &entry.dn)? {
        if !chk.allowed(&parent, Target::Children, Level::Write) {
            return Err(denied(chk, &parent, "no write access to parent"));
        }
    }
    if !chk.allowed(entry, Target::Entry, Level::Write) {
        return Err(LdapError::new(
            ResultCode::InsufficientAccessRights,
            "no write access to entry",
        ));
    }
    Ok(())
}

/// Delete (back-mdb delete.c): `write` on the parent's `children` and the entry's `entry`.
pub fn guard_delete(chk: &Checker<'_>, dir: &Directory, dn: &Dn) -> Result<(), LdapError> {
    if chk.bypass() {
        return Ok(());
    }
    guard_anonymous_update(chk, dir)?;
    let e = existing(chk, dir, dn)?;
    if let Some(parent) = parent_of(chk, dir, dn)? {
        if !chk.allowed(&parent, Target::Children, Level::Write) {
            return Err(denied(chk, &e, "no write access to parent"));
        }
    }
    if !chk.allowed(&e, Target::Entry, Level::Write) {
        return Err(denied(chk, &e, "no write access to entry"));
    }
    Ok(())
}

/// Modify (acl_check_modlist): `write` on every modified attribute.
pub fn guard_modify<'d>(
    chk: &Checker<'_>,
    dir: &Directory,
    dn: &Dn,
    attrs: impl IntoIterator<Item = &'d str>,
) -> Result<(), LdapError> {
    if chk.bypass() {
        return Ok(());
    }
    guard_anonymous_update(chk, dir)?;
    let e = existing(chk, dir, dn)?;
    let Some(s) = chk.subject(&e) else {
        return Err(denied(chk, &e, "no write access to entry"));
    };
    for a in attrs {
        if !chk.allowed_on(&s, Target::Attr(a), Level::Write) {
            return Err(denied(chk, &e, "no write access to attribute"));
        }
    }
    Ok(())
}

/// Modify DN (back-mdb modrdn.c): `write` on the entry, the old parent's and the new
/// parent's `children`, and the naming attributes added (and removed with deleteoldrdn).
pub fn guard_modify_dn(
    chk: &Checker<'_>,
    dir: &Directory,
    dn: &Dn,
    new_rdn: &Rdn,
    delete_old: bool,
    new_superior: Option<&Dn>,
) -> Result<(), LdapError> {
    if chk.bypass() {
        return Ok(());
    }
    guard_anonymous_update(chk, dir)?;
    let e = existing(chk, dir, dn)?;
    if !chk.allowed(&e, Target::Entry, Level::Write) {
        return Err(denied(chk, &e, "no write access to entry"));
    }
    if let Some(parent) = parent_of(chk, dir, dn)? {
        if !chk.allowed(&parent, Target::Children, Level::Write) {
            return Err(denied(chk, &e, "no write access to old parent"));
        }
    }
    if let Some(sup) = new_superior {
        if let Some(np) = dir.store.get(sup)? {
            if !chk.allowed(&np, Target::Children, Level::Write) {
                return Err(denied(chk, &np, "no write access to new parent"));
            }
        }
    }
    let mut names: Vec<&str> = new_rdn.avas.iter().map(|a| a.attr.as_str()).collect();
    if delete_old {
        if let Some(old) = dn.rdn() {
            names.extend(old.avas.iter().map(|a| a.attr.as_str()));
        }
    }
    for n in names {
        if !chk.allowed(&e, Target::Attr(n), Level::Write) {
            return Err(denied(chk, &e, "no write access to naming attribute"));
        }
    }
    Ok(())
}

/// Password Modify (RFC 3062, slapd passwd.c): `write` on the target's userPassword.
pub fn guard_password(chk: &Checker<'_>, entry: &Entry) -> Result<(), LdapError> {
    if chk.allowed(entry, Target::Attr("userPassword"), Level::Write) {
        Ok(())
    } else {
        Err(denied(chk, entry, "no write access to userPassword"))
    }
}

/// Whether `me` (a normalized DN) is a value of the `member` attribute of the entry `group`,
/// which must have the object class `class` (or a subclass): slapd's group selector of
/// access rules (slapd.access(5) `group[/oc[/at]]=`) and of `limits` (slapd.conf(5)).
/// A failed lookup is logged and counts as not a member.
pub(crate) fn group_has_member(
    store: &oxldap_store::Store,
    schema: &Schema,
    group: &Dn,
    class: &str,
    member: &str,
    me: &NormDn,
) -> bool {
    match store.get(group) {
        Ok(Some(g)) => {
            let oc = schema.object_class(class);
            let has_class = g.values("objectClass").iter().any(|v| {
                std::str::from_utf8(v)
                    .ok()
                    .and_then(|v| schema.object_class(v.trim()))
                    .zip(oc)
                    .is_some_and(|(have, want)| have.is_a(want))
            });
            has_class
                && g.values(member).iter().any(|v| {
                    std::str::from_utf8(v)
                        .ok()
                        .and_then(|v| schema.normalize_dn_str(v).ok())
                        .as_ref()
                        == Some(me)
                })
        }
        Ok(None) => false,
        Err(e) => {
            tracing::warn!(error = %e, "group lookup failed");
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn acl(db: &[&str]) -> Acl {
        let schema = Schema::builtin();
        let suffix = schema
            .normalize_dn_str("dc=example,dc=com")
            .expect("suffix");
        let lines: Vec<String> = db.iter().map(|s| s.to_string()).collect();
        Acl::new(&schema, suffix, &lines, &[]).expect("acl")
    }

    #[test]
    fn parses_the_common_forms() {
        let r = AccessRule::parse(
            "to dn.subtree=\"ou=People, dc=example,dc=com\" attrs=userPassword,shadowLastChange by self =wx by anonymous auth by group/groupOfNames/member=\"cn=admins,dc=example,dc=com\" write by * none break",
        )
        .expect("parse");
        assert_eq!(r.by.len(), 4);
        assert!(matches!(
            r.what.dn,
            Some(DnPattern::Scoped {
                style: DnStyle::Subtree,
                ..
            })
        ));
        assert_eq!(r.by[3].control, Control::Break);
        assert_eq!(
            r.by[0].grant,
            Grant::Assign(Privs::ADD.union(Privs::DELETE).union(Privs::AUTH))
        );
        assert!(
            matches!(&r.by[2].who, Who::Group { class, member, .. } if class == "groupOfNames" && member == "member")
        );
    }

    #[test]
    fn refuses_what_it_does_not_support() {
        for bad in [
            "to * by dnattr=owner write",
            "to attrs=@person by * read",
            "to * by * readwrite",
            "to dn.regex=\"^(.*)$\" by dn.regex=\"$1\" write",
            "to * ",
            "to filter=(( by * read",
            "to val=x by * read",
        ] {
            assert!(AccessRule::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn levels_are_cumulative() {
        assert!(Level::Write.granted().contains(Level::Read.needed()));
        assert!(Level::Read.granted().contains(Level::Disclose.needed()));
        assert!(!Level::Search.granted().contains(Level::Read.needed()));
        assert!(!Level::Auth.granted().contains(Level::Compare.needed()));
        assert!(Level::None.granted() == Privs::default());
    }

    #[test]
    fn default_rules_parse_and_no_rules_means_default() {
        let a = acl(&[]);
        assert_eq!(a.rules.len(), 2);
        assert!(acl(&["to * by * write"]).rules.len() == 1);
    }

    /// A store with dc=example,dc=com, two people and cn=admins (member: carol).
    fn store(schema: &std::sync::Arc<Schema>) -> Store {
        let suffix = Dn::parse("dc=example,dc=com").expect("dn");
        let opts = oxldap_store::StoreOptions {
            suffixes: vec![suffix],
            server_id: 0,
            durable: false,
            fixed_clock: None,
            overlays: oxldap_store::Overlays::default(),
            indexes: oxldap_store::IndexConfig::default(),
            changelog_limit: None,
        };
        let store = Store::open_temporary(schema.clone(), opts).expect("store");
        let ctx = oxldap_store::WriteCtx {
            modifier: Dn::default(),
            import: false,
        };
        let ldif = "dn: dc=example,dc=com\nobjectClass: domain\ndc: example\n\n\
                    dn: uid=alice,dc=example,dc=com\nobjectClass: inetOrgPerson\nuid: alice\ncn: A\nsn: A\n\n\
                    dn: uid=carol,dc=example,dc=com\nobjectClass: inetOrgPerson\nuid: carol\ncn: C\nsn: C\n\n\
                    dn: cn=admins,dc=example,dc=com\nobjectClass: groupOfNames\ncn: admins\nmember: UID=Carol, DC=example,DC=com\n";
        for rec in oxldap_proto::LdifReader::new(ldif.as_bytes()) {
            if let Ok(oxldap_proto::LdifRecord::Content { entry: e, .. }) = rec {
                store.add(e, &ctx).expect("add");
            }
        }
        store
    }

    fn user(schema: &Schema, dn: &str) -> Identity {
        let dn = Dn::parse(dn).expect("dn");
        let norm = schema.normalize_dn(&dn).expect("norm");
        Identity::User { dn, norm }
    }

    /// The privileges `who` gets on `attr` of alice under `rules`.
    fn mask_of(rules: &[&str], who: &Identity, target: Target<'_>) -> Privs {
        let schema = std::sync::Arc::new(Schema::builtin());
        let st = store(&schema);
        let suffix = schema
            .normalize_dn_str("dc=example,dc=com")
            .expect("suffix");
        let lines: Vec<String> = rules.iter().map(|s| s.to_string()).collect();
        let acl = Acl::new(&schema, suffix, &lines, &[]).expect("acl");
        let alice = st
            .get(&Dn::parse("uid=alice,dc=example,dc=com").expect("dn"))
            .expect("get")
            .expect("alice");
        let chk = acl.checker(&schema, &st, who);
        let s = chk.subject(&alice).expect("subject");
        chk.mask(&s, target)
    }

    #[test]
    fn evaluation_follows_slapd() {
        let schema = Schema::builtin();
        let carol = user(&schema, "uid=carol,dc=example,dc=com");
        let alice = user(&schema, "uid=alice,dc=example,dc=com");
        let anon = Identity::Anonymous;
        let cn = Target::Attr("cn");
        // First matching who-clause wins; group membership through the store, with the
        // member value normalized.
        let rules = ["to * by group=\"cn=admins,dc=example,dc=com\" write by users read"];
        assert_eq!(mask_of(&rules, &carol, cn), Level::Write.granted());
        assert_eq!(mask_of(&rules, &alice, cn), Level::Read.granted());
        // The implicit "by * none" of the rule, and no further rule is tried.
        assert_eq!(
            mask_of(&[rules[0], "to * by * read"], &anon, cn),
            Privs::default()
        );
        // continue: later clauses add; a continue that reaches the end of the rule hits
        // the implicit "by * none" (slapd's slap_acl_mask).
        let cont = ["to * by users =r continue by self +w"];
        assert_eq!(
            mask_of(&cont, &alice, cn),
            Privs::READ.union(Level::Write.needed())
        );
        assert_eq!(mask_of(&cont, &carol, cn), Privs::default());
        let cont_break = ["to * by users =r continue by * break", "to * by self +w"];
        assert_eq!(mask_of(&cont_break, &carol, cn), Privs::default());
        assert_eq!(
            mask_of(&cont_break, &alice, cn),
            Privs::READ.union(Level::Write.needed())
        );
        // break goes on to the next matching rule, keeping the mask.
        let brk = ["to attrs=cn by * +c break", "to * by * +s"];
        assert_eq!(
            mask_of(&brk, &anon, cn),
            Privs::COMPARE.union(Privs::SEARCH)
        );
        // -privs removes.
        assert_eq!(
            mask_of(&["to * by * read continue by * -s"], &anon, cn),
            Level::Read.granted().minus(Privs::SEARCH)
        );
        // attrs= matches subtypes (cn is a subtype of name) and not the pseudo-attributes.
        let sub = ["to attrs=name by * read", "to * by * disclose"];
        assert_eq!(mask_of(&sub, &anon, cn), Level::Read.granted());
        assert_eq!(
            mask_of(&sub, &anon, Target::Entry),
            Level::Disclose.granted()
        );
        // dn styles and regex over the normalized DN.
        assert_eq!(
            mask_of(&["to dn.one=\"dc=example,dc=com\" by * read"], &anon, cn),
            Level::Read.granted()
        );
        assert_eq!(
            mask_of(
                &["to dn.children=\"uid=alice,dc=example,dc=com\" by * read"],
                &anon,
                cn
            ),
            Privs::default()
        );
        assert_eq!(
            mask_of(
                &["to dn.regex=\"^uid=[^,]+,dc=example,dc=com$\" by * read"],
                &anon,
                cn
            ),
            Level::Read.granted()
        );
        assert_eq!(
            mask_of(&["to * by dn.regex=\"^uid=c.*$$\" write"], &carol, cn),
            Level::Write.granted()
        );
        // filter= in the what-clause.
        assert_eq!(
            mask_of(&["to filter=(uid=bob) by * read"], &anon, cn),
            Privs::default()
        );
        assert_eq!(
            mask_of(&["to filter=(uid=alice) by * read"], &anon, cn),
            Level::Read.granted()
        );
        // The rootdn bypasses.
        let root = Identity::Root {
            dn: Dn::default(),
            norm: NormDn::default(),
        };
        assert_eq!(mask_of(&["to * by * none"], &root, cn), Privs(u8::MAX));
    }

    #[test]
    fn quoted_words_split() {
        assert_eq!(
            split_words("to dn.base=\"cn=a b,dc=x\" by * read").expect("split"),
            ["to", "dn.base=cn=a b,dc=x", "by", "*", "read"]
        );
        assert!(split_words("to dn=\"x").is_err());
    }
}
