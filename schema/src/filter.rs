//! Search filter evaluation (RFC 4511 §4.5.1.7), the Compare operation (RFC 4511 §4.10),
//! equality keys and cheap syntax validation (RFC 4517 §3.3).
//!
//! Attribute descriptions are resolved through the schema on both sides: the filter's type
//! matches entry attributes of that type *or any subtype* (RFC 4512 §2.5.1), whatever name
//! or OID either side uses, and the filter's options must all be present on the entry's
//! attribute (RFC 4512 §2.5.2).

use std::cmp::Ordering;

use oxldap_proto::{Attributes, Entry, Filter};

use crate::approx::{ApproxAssertion, ApproxRule};
use crate::error::SchemaError;
use crate::matching::{parse_substring_assertion, MatchingRule, PreparedSubstrings, RuleKind};
use crate::parse::is_oid;
use crate::schema::{option_satisfied, split_description, AttributeType, Schema, OBJECT_CLASS_OID};
use crate::syntax;

/// Filters nested deeper than this evaluate to Undefined (a bound on the recursion even for
/// filters built in code; the protocol layer refuses deeper ones). The protocol's limit, so
/// every filter a client may send is evaluated in full; each level runs through
/// `oxldap_proto::stack::guard`, so the depth is safe on any thread.
const MAX_FILTER_DEPTH: usize = oxldap_proto::filter::MAX_DEPTH;

/// The three-valued result of a filter item (RFC 4511 §4.5.1.7).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Ternary {
    /// The filter matches.
    True,
    /// The filter does not match.
    False,
    /// Whether it matches cannot be determined (unknown type, no suitable rule, invalid
    /// assertion value). Entries are returned only for True.
    Undefined,
}

impl std::ops::Not for Ternary {
    type Output = Ternary;

    /// NOT (RFC 4511 §4.5.1.7): True ↔ False, Undefined stays Undefined.
    fn not(self) -> Ternary {
        match self {
            Ternary::True => Ternary::False,
            Ternary::False => Ternary::True,
            Ternary::Undefined => Ternary::Undefined,
        }
    }
}

impl Ternary {
    fn from_bool(b: bool) -> Ternary {
        if b {
            Ternary::True
        } else {
            Ternary::False
        }
    }
}

/// Combines per-value results: True if any value matches, else Undefined if any value could
/// not be compared, else False.
fn any_value(results: impl IntoIterator<Item = Result<bool, SchemaError>>) -> Ternary {
    let mut undefined = false;
    for r in results {
        match r {
            Ok(true) => return Ternary::True,
            Ok(false) => {}
            Err(_) => undefined = true,
        }
    }
    if undefined {
        Ternary::Undefined
    } else {
        Ternary::False
    }
}

/// A prepared assertion for one matching rule.
#[derive(Debug)]
pub enum Assertion {
    /// Equal to this normalized value.
    Equal(Vec<u8>),
    /// Matches values less than this (RFC 4517 ordering rules in an extensible match).
    Less(Vec<u8>),
    /// Greater than or equal to this (`>=`, RFC 4511 §4.5.1.7.3).
    Greater(Vec<u8>),
    /// Less than or equal to this (`<=`, §4.5.1.7.4).
    LessOrEqual(Vec<u8>),
    /// Matches these substrings (§4.5.1.7.2).
    Substrings(PreparedSubstrings),
}

impl Assertion {
    fn test(
        &self,
        schema: &Schema,
        rule: &MatchingRule,
        value: &[u8],
    ) -> Result<bool, SchemaError> {
        let v = rule.normalize(schema, value)?;
        Ok(match self {
            Assertion::Equal(a) => rule.equal_normalized(&v, a),
            Assertion::Less(a) => rule.cmp_normalized(&v, a) == Ordering::Less,
            Assertion::Greater(a) => rule.cmp_normalized(&v, a) != Ordering::Less,
            Assertion::LessOrEqual(a) => rule.cmp_normalized(&v, a) != Ordering::Greater,
            Assertion::Substrings(p) => p.matches(&v),
        })
    }
}

/// A filter prepared against the schema ([`Schema::prepare`]): descriptions resolved,
/// assertion values normalized, so testing an entry only reads its values. Borrows the
/// schema and the filter.
#[derive(Debug)]
pub enum PreparedFilter<'f> {
    /// RFC 4511 §4.5.1.7 AND (empty: True, RFC 4526).
    And(Vec<PreparedFilter<'f>>),
    /// OR (empty: False).
    Or(Vec<PreparedFilter<'f>>),
    /// NOT (Undefined stays Undefined).
    Not(Box<PreparedFilter<'f>>),
    /// An item known without looking at the entry: an unknown type, no suitable rule or
    /// an invalid assertion value (Undefined), presence of an unknown type (False).
    Constant(Ternary),
    /// An item on the values of `at` (and its subtypes) carrying all of `opts`.
    Item {
        /// The item's attribute type.
        at: &'f AttributeType,
        /// The description's options, all required on the entry's attribute.
        opts: Vec<&'f str>,
        /// What is tested on those values.
        test: Test<'f>,
    },
    /// An extensible match (§4.5.1.7.7), evaluated as written (rare, often `:dn:`).
    Extensible(&'f Filter),
}

/// AND (`decisive` False) or OR (`decisive` True) of `parts`: the first part that
/// evaluates to `decisive` decides; else Undefined if any part is Undefined; else the
/// opposite of `decisive` (so an empty AND is True, an empty OR False).
fn combine<E: Attributes + ?Sized>(
    parts: &[PreparedFilter<'_>],
    decisive: Ternary,
    schema: &Schema,
    entry: &E,
) -> Ternary {
    let mut result = !decisive;
    for p in parts {
        match p.evaluate(schema, entry) {
            t if t == decisive => return t,
            Ternary::Undefined => result = Ternary::Undefined,
            _ => {}
        }
    }
    result
}

/// What a [`PreparedFilter::Item`] tests on the values it selects.
#[derive(Debug)]
pub enum Test<'f> {
    /// Presence: at least one value.
    Present,
    /// `objectClass` equality with a known class: an entry's class or any superclass of it
    /// (RFC 4512 §2.4.1).
    ObjectClass(&'f crate::schema::ObjectClass),
    /// A normalized assertion under a matching rule.
    Compare(&'f MatchingRule, Assertion),
    /// An approximate assertion under slapd's phonetic rule ([`crate::approx`]).
    Approx(ApproxAssertion),
}

impl PreparedFilter<'_> {
    /// Whether the filter evaluates to True for `entry` (RFC 4511 §4.5.1.7), an owned
    /// entry or a view of a stored one.
    pub fn matches<E: Attributes + ?Sized>(&self, schema: &Schema, entry: &E) -> bool {
        self.evaluate(schema, entry) == Ternary::True
    }

    /// The filter's three-valued result for `entry`, as [`Schema::evaluate`] documents.
    /// `schema` must be the one that prepared it.
    pub fn evaluate<E: Attributes + ?Sized>(&self, schema: &Schema, entry: &E) -> Ternary {
        oxldap_proto::stack::guard(|| self.evaluate_level(schema, entry))
    }

    /// One level of [`PreparedFilter::evaluate`] (nested parts go through `evaluate`).
    fn evaluate_level<E: Attributes + ?Sized>(&self, schema: &Schema, entry: &E) -> Ternary {
        match self {
            PreparedFilter::And(parts) => combine(parts, Ternary::False, schema, entry),
            PreparedFilter::Or(parts) => combine(parts, Ternary::True, schema, entry),
            PreparedFilter::Not(inner) => !inner.evaluate(schema, entry),
            PreparedFilter::Constant(t) => *t,
            PreparedFilter::Item { at, opts, test } => {
                let mut values = schema.values_iter(entry, at, opts);
                match test {
                    Test::Present => Ternary::from_bool(values.next().is_some()),
                    Test::ObjectClass(target) => Ternary::from_bool(values.any(|v| {
                        std::str::from_utf8(v)
                            .ok()
                            .and_then(|v| schema.object_class(v.trim()))
                            .is_some_and(|c| c.is_a(target))
                    })),
                    Test::Compare(rule, a) => any_value(values.map(|v| a.test(schema, rule, v))),
                    Test::Approx(a) => any_value(values.map(|v| {
                        std::str::from_utf8(v).map(|v| a.matches(v)).map_err(|_| {
                            SchemaError::InvalidValue {
                                rule: "directoryStringApproxMatch",
                                reason: "a value is not UTF-8".to_string(),
                            }
                        })
                    })),
                }
            }
            PreparedFilter::Extensible(Filter::Extensible {
                rule,
                attr,
                value,
                dn_attributes,
            }) => schema.eval_extensible(
                rule.as_deref(),
                attr.as_deref(),
                value,
                *dn_attributes,
                &entry.to_entry(),
            ),
            PreparedFilter::Extensible(_) => Ternary::Undefined,
        }
    }
}

/// The IA5 String syntax (RFC 4517 §3.3.15).
const IA5_STRING_SYNTAX: &str = "1.3.6.1.4.1.1466.115.121.1.26";

/// The syntax of one of slapd's approximate matching rules named (by name or OID) in an
/// extensible match: `directoryStringApproxMatch` (1.3.6.1.4.1.4203.666.4.4, Directory
/// String) and `IA5StringApproxMatch` (1.3.6.1.4.1.4203.666.4.5, IA5 String). slapd 2.5
/// takes both in `(cn:directoryStringApproxMatch:=x)` though its subschema does not list
/// them (servers/slapd/schema_init.c registers them without publishing).
fn approx_rule_syntax(rule: &str) -> Option<&'static str> {
    if rule == "1.3.6.1.4.1.4203.666.4.4" || rule.eq_ignore_ascii_case("directoryStringApproxMatch")
    {
        Some(DIRECTORY_STRING_SYNTAX)
    } else if rule == "1.3.6.1.4.1.4203.666.4.5"
        || rule.eq_ignore_ascii_case("IA5StringApproxMatch")
    {
        Some(IA5_STRING_SYNTAX)
    } else {
        None
    }
}

fn options(opts: &str) -> Vec<&str> {
    opts.split(';').filter(|o| !o.is_empty()).collect()
}

impl Schema {
    /// Whether `filter` evaluates to True for `entry` (RFC 4511 §4.5.1.7).
    pub fn matches(&self, filter: &Filter, entry: &Entry) -> bool {
        self.evaluate(filter, entry) == Ternary::True
    }

    /// Evaluates `filter` against `entry` with RFC 4511 §4.5.1.7 three-valued logic.
    ///
    /// * `and`/`or`: an empty AND is True, an empty OR is False (RFC 4526); otherwise AND is
    ///   False if any part is False, else Undefined if any is Undefined; OR is True if any is
    ///   True, else Undefined if any is Undefined. NOT of Undefined is Undefined.
    /// * An unknown attribute type makes every item on it Undefined, presence included (as
    ///   slapd: `(!(nosuchattr=*))` matches nothing there, as `(!(nosuchattr=x))`).
    /// * No matching rule of the needed kind (e.g. equality on supportedLDAPVersion) or an
    ///   assertion value invalid for the rule gives Undefined.
    /// * `objectClass` equality also matches superclasses of the entry's classes, and class
    ///   names and OIDs are interchangeable.
    /// * Approximate matching (RFC 4511 §4.5.1.7.6 leaves the algorithm to the server) is
    ///   slapd's: attributes whose equality rule is caseIgnoreMatch, caseExactMatch,
    ///   caseIgnoreIA5Match or caseExactIA5Match compare the phonetic codes of their
    ///   words ([`crate::approx`]); every other attribute uses its equality rule. The
    ///   assertion value must still be valid for the equality rule (else Undefined).
    /// * Extensible match (§4.5.1.7.7): with a rule, the rule is applied to the named
    ///   attribute, or to every attribute whose syntax suits the rule; without a rule the
    ///   attribute's equality rule is used; `:dn:` also tests the AVAs of the entry's DN.
    ///   An ordering rule matches values less than the assertion value; a substrings rule
    ///   takes an RFC 4517 §3.3.30 substring assertion (`ab*cd*`).
    pub fn evaluate(&self, filter: &Filter, entry: &Entry) -> Ternary {
        self.prepare(filter).evaluate(self, entry)
    }

    /// `filter` with its attribute descriptions resolved and its assertion values
    /// normalized once, to test many entries ([`PreparedFilter::evaluate`] gives the same
    /// answers as [`Schema::evaluate`] on the filter, which is this then that).
    pub fn prepare<'f>(&'f self, filter: &'f Filter) -> PreparedFilter<'f> {
        self.prepare_at(filter, 0)
    }

    fn prepare_at<'f>(&'f self, filter: &'f Filter, depth: usize) -> PreparedFilter<'f> {
        oxldap_proto::stack::guard(|| self.prepare_level(filter, depth))
    }

    /// One level of [`Schema::prepare`] (nested parts go through `prepare_at`).
    fn prepare_level<'f>(&'f self, filter: &'f Filter, depth: usize) -> PreparedFilter<'f> {
        use PreparedFilter as P;
        if depth > MAX_FILTER_DEPTH {
            return P::Constant(Ternary::Undefined);
        }
        let all = |parts: &'f [Filter]| {
            parts
                .iter()
                .map(|p| self.prepare_at(p, depth + 1))
                .collect()
        };
        match filter {
            Filter::And(parts) => P::And(all(parts)),
            Filter::Or(parts) => P::Or(all(parts)),
            Filter::Not(inner) => P::Not(Box::new(self.prepare_at(inner, depth + 1))),
            Filter::Equality(desc, value) => self.prepare_equality(desc, value),
            Filter::Approx(desc, value) => self.prepare_approx(desc, value),
            Filter::Substrings(desc, sub) => self.prepare_item(desc, |at| {
                let rule = at.substr_rule()?;
                let p = rule.prepare_substrings(sub).ok()?;
                Some(Test::Compare(rule, Assertion::Substrings(p)))
            }),
            Filter::GreaterOrEqual(desc, value) => {
                self.prepare_ordering(desc, value, Assertion::Greater)
            }
            Filter::LessOrEqual(desc, value) => {
                self.prepare_ordering(desc, value, Assertion::LessOrEqual)
            }
            // A presence item with an unknown type is Undefined, as every item (see
            // `evaluate`).
            Filter::Present(desc) => match self.resolve(desc) {
                Some((at, opts)) => P::Item {
                    at,
                    opts,
                    test: Test::Present,
                },
                None => P::Constant(Ternary::Undefined),
            },
            Filter::Extensible { .. } => P::Extensible(filter),
        }
    }

    /// An item on one attribute description: Undefined when the type is unknown or
    /// `test` finds no suitable rule or an invalid assertion value.
    fn prepare_item<'f>(
        &'f self,
        desc: &'f str,
        test: impl FnOnce(&'f AttributeType) -> Option<Test<'f>>,
    ) -> PreparedFilter<'f> {
        let Some((at, opts)) = self.resolve(desc) else {
            return PreparedFilter::Constant(Ternary::Undefined);
        };
        match test(at) {
            Some(test) => PreparedFilter::Item { at, opts, test },
            None => PreparedFilter::Constant(Ternary::Undefined),
        }
    }

    fn prepare_equality<'f>(&'f self, desc: &'f str, value: &'f [u8]) -> PreparedFilter<'f> {
        self.prepare_item(desc, |at| {
            if at.oid == OBJECT_CLASS_OID {
                let class = std::str::from_utf8(value)
                    .ok()
                    .and_then(|v| self.object_class(v.trim()));
                if let Some(class) = class {
                    return Some(Test::ObjectClass(class));
                }
            }
            let rule = at.equality_rule()?;
            let a = rule.normalize(self, value).ok()?;
            Some(Test::Compare(rule, Assertion::Equal(a)))
        })
    }

    /// An approximate item (RFC 4511 §4.5.1.7.6): slapd's phonetic rule where the
    /// attribute's equality rule has one ([`ApproxRule::for_equality`]), else equality,
    /// as slapd's `test_ava_filter` falls back. slapd normalizes the assertion with the
    /// equality rule first, so a value invalid for it makes the item Undefined.
    fn prepare_approx<'f>(&'f self, desc: &'f str, value: &'f [u8]) -> PreparedFilter<'f> {
        let approx = self
            .resolve(desc)
            .and_then(|(at, _)| at.equality_rule())
            .and_then(ApproxRule::for_equality);
        if approx.is_none() {
            return self.prepare_equality(desc, value);
        }
        self.prepare_item(desc, |at| {
            self.approx_assertion(at, value).map(Test::Approx)
        })
    }

    /// The approximate assertion of `value` on `at`, a type whose equality rule has an
    /// approximate rule ([`ApproxRule::for_equality`]). None when the item is Undefined:
    /// the value is invalid for the equality rule (slapd normalizes the assertion with it
    /// first: a non-ASCII value for an IA5 rule, an empty Directory String, which RFC 4517
    /// §3.3.6 does not allow and slapd's `UTF8StringValidate` refuses) or `at` has no
    /// equality rule.
    pub fn approx_assertion(&self, at: &AttributeType, value: &[u8]) -> Option<ApproxAssertion> {
        let rule = at.equality_rule()?;
        if rule.syntax == DIRECTORY_STRING_SYNTAX && value.is_empty() {
            return None;
        }
        rule.normalize(self, value).ok()?;
        let text = std::str::from_utf8(value).ok()?;
        Some(ApproxAssertion::new(text))
    }

    fn prepare_ordering<'f>(
        &'f self,
        desc: &'f str,
        value: &'f [u8],
        make: fn(Vec<u8>) -> Assertion,
    ) -> PreparedFilter<'f> {
        self.prepare_item(desc, |at| {
            let rule = at.ordering_rule()?;
            let a = rule.normalize(self, value).ok()?;
            Some(Test::Compare(rule, make(a)))
        })
    }

    /// The type and options of a filter's attribute description.
    fn resolve<'d>(&self, desc: &'d str) -> Option<(&AttributeType, Vec<&'d str>)> {
        let (ty, opts) = split_description(desc);
        Some((self.lookup_type(ty)?, options(opts)))
    }

    /// The values of every attribute of `entry` whose type is `at` or a subtype of it and
    /// whose options include all of `opts`.
    fn values_of<'e>(&self, entry: &'e Entry, at: &AttributeType, opts: &[&str]) -> Vec<&'e [u8]> {
        self.values_iter(entry, at, opts).collect()
    }

    /// [`Schema::values_of`] without collecting (a filter item tests them in place).
    fn values_iter<'s, 'e: 's, E: Attributes + ?Sized>(
        &'s self,
        entry: &'e E,
        at: &'s AttributeType,
        opts: &'s [&'s str],
    ) -> impl Iterator<Item = &'e [u8]> + 's {
        // Without subtypes only `at`'s own names (or OID) match: no lookup per attribute.
        let exact = !self.has_subtypes(at);
        entry
            .attributes()
            .filter(move |(desc, _)| {
                let (ty, attr_opts) = split_description(desc);
                let type_ok = if exact {
                    ty == at.oid || at.names.iter().any(|n| n.eq_ignore_ascii_case(ty))
                } else {
                    self.lookup_type(ty)
                        .is_some_and(|eat| self.is_subtype(eat, at))
                };
                type_ok
                    && (opts.is_empty() || {
                        let attr_opts = options(attr_opts);
                        opts.iter()
                            .all(|o| attr_opts.iter().any(|a| option_satisfied(o, a)))
                    })
            })
            .flat_map(|(_, values)| values)
    }

    /// `objectClass` equality with superclasses (RFC 4512 §2.4.1: an entry belongs to every
    /// superclass of its classes). `None` if `value` names no known class.
    fn object_class_match(&self, value: &[u8], values: &[&[u8]]) -> Option<bool> {
        let target = self.object_class(std::str::from_utf8(value).ok()?.trim())?;
        Some(values.iter().any(|v| {
            std::str::from_utf8(v)
                .ok()
                .and_then(|v| self.object_class(v.trim()))
                .is_some_and(|c| c.is_a(target))
        }))
    }

    fn eval_extensible(
        &self,
        rule: Option<&str>,
        attr: Option<&str>,
        value: &[u8],
        dn_attributes: bool,
        entry: &Entry,
    ) -> Ternary {
        let at = match attr {
            Some(d) => match self.resolve(d) {
                Some(x) => Some(x),
                None => return Ternary::Undefined,
            },
            None => None,
        };
        if let Some(syntax) = rule.and_then(approx_rule_syntax) {
            return self.eval_extensible_approx(syntax, at, value, dn_attributes, entry);
        }
        let rule: &MatchingRule = match (rule, &at) {
            (Some(r), _) => match self.matching_rule(r) {
                Some(m) if m.is_supported() => m,
                _ => return Ternary::Undefined,
            },
            (None, Some((a, _))) => match a.equality_rule() {
                Some(m) => m,
                None => return Ternary::Undefined,
            },
            (None, None) => return Ternary::Undefined,
        };
        // RFC 4511 §4.5.1.7.7: a rule not usable with the named type (RFC 4512 §4.1.4, the
        // subschema's matchingRuleUse) makes the item Undefined, as slapd's get_mra answers
        // inappropriateMatching for it.
        if let Some((a, _)) = &at {
            if !rule.usable_with(a.equality_rule(), a.effective_syntax()) {
                return Ternary::Undefined;
            }
        }
        let assertion = match rule.kind {
            RuleKind::Equality => rule.normalize(self, value).map(Assertion::Equal),
            RuleKind::Ordering => rule.normalize(self, value).map(Assertion::Less),
            RuleKind::Substrings => match parse_substring_assertion(value) {
                Some(sub) => rule.prepare_substrings(&sub).map(Assertion::Substrings),
                None => return Ternary::Undefined,
            },
        };
        let Ok(assertion) = assertion else {
            return Ternary::Undefined;
        };
        let suits = |t: &AttributeType| -> bool {
            match &at {
                Some((a, _)) => self.is_subtype(t, a),
                None => rule.usable_with(t.equality_rule(), t.effective_syntax()),
            }
        };
        let values = self.extensible_values(entry, at.as_ref(), suits, dn_attributes);
        any_value(values.iter().map(|v| assertion.test(self, rule, v)))
    }

    /// The values an extensible match (RFC 4511 §4.5.1.7.7) tests: those of the named
    /// type `at` (with its options), or of every type `suits` accepts when none is named,
    /// plus with `dnAttributes` the DN's AVAs whose type `suits` accepts.
    fn extensible_values<'e>(
        &self,
        entry: &'e Entry,
        at: Option<&(&AttributeType, Vec<&str>)>,
        suits: impl Fn(&AttributeType) -> bool,
        dn_attributes: bool,
    ) -> Vec<&'e [u8]> {
        let mut values: Vec<&[u8]> = match at {
            Some((a, opts)) => self.values_of(entry, a, opts),
            None => entry
                .attrs
                .iter()
                .filter(|attr| self.attribute_type(&attr.desc).is_some_and(&suits))
                .flat_map(|attr| attr.values.iter().map(Vec::as_slice))
                .collect(),
        };
        if dn_attributes {
            for rdn in &entry.dn.rdns {
                for ava in &rdn.avas {
                    if self.lookup_type(&ava.attr).is_some_and(&suits) {
                        values.push(&ava.value);
                    }
                }
            }
        }
        values
    }

    /// An extensible match naming one of slapd's approximate rules ([`approx_rule_syntax`]):
    /// the rule applies to types of its syntax only (slapd's `mr_usable_with_at`: Directory
    /// String for directoryStringApproxMatch, IA5 String for IA5StringApproxMatch), else
    /// the item is Undefined; values are compared with the phonetic codes of
    /// [`crate::approx`], as a `~=` item on such a type.
    fn eval_extensible_approx(
        &self,
        syntax: &str,
        at: Option<(&AttributeType, Vec<&str>)>,
        value: &[u8],
        dn_attributes: bool,
        entry: &Entry,
    ) -> Ternary {
        let Ok(text) = std::str::from_utf8(value) else {
            return Ternary::Undefined;
        };
        if syntax == IA5_STRING_SYNTAX && !text.is_ascii() {
            return Ternary::Undefined;
        }
        let of_syntax = |t: &AttributeType| t.effective_syntax() == Some(syntax);
        if at.as_ref().is_some_and(|(a, _)| !of_syntax(a)) {
            return Ternary::Undefined;
        }
        let suits = |t: &AttributeType| -> bool {
            match &at {
                Some((a, _)) => self.is_subtype(t, a),
                None => of_syntax(t),
            }
        };
        let values = self.extensible_values(entry, at.as_ref(), suits, dn_attributes);
        let assertion = ApproxAssertion::new(text);
        Ternary::from_bool(
            values
                .iter()
                .any(|v| std::str::from_utf8(v).is_ok_and(|v| assertion.matches(v))),
        )
    }

    /// The Compare operation (RFC 4511 §4.10): whether `entry` has a value of `desc` (or of a
    /// subtype, with the description's options) equal to `value` under the equality rule.
    /// `objectClass` also compares true for superclasses.
    ///
    /// Errors: unknown type → undefinedAttributeType (17); no (implemented) equality rule →
    /// inappropriateMatching (18); assertion invalid for the rule → invalidAttributeSyntax
    /// (21); no such attribute in the entry → noSuchAttribute (16).
    pub fn compare(&self, entry: &Entry, desc: &str, value: &[u8]) -> Result<bool, SchemaError> {
        let (at, opts) = self
            .resolve(desc)
            .ok_or_else(|| SchemaError::UndefinedAttributeType(desc.to_string()))?;
        let rule = at
            .equality_rule()
            .filter(|r| r.is_supported())
            .ok_or_else(|| SchemaError::InappropriateMatching(desc.to_string()))?;
        // RFC 4517 §3.3.6: a Directory String (the assertion syntax of caseIgnoreMatch and
        // caseExactMatch) has at least one character; slapd answers an empty assertion
        // value with 21 "value does not conform to assertion syntax".
        if rule.syntax == DIRECTORY_STRING_SYNTAX && value.is_empty() {
            return Err(SchemaError::InvalidSyntax {
                attr: desc.to_string(),
                reason: "value does not conform to assertion syntax".to_string(),
            });
        }
        let values = self.values_of(entry, at, &opts);
        if at.oid == OBJECT_CLASS_OID {
            if let Some(m) = self.object_class_match(value, &values) {
                if values.is_empty() {
                    return Err(SchemaError::NoSuchAttribute(desc.to_string()));
                }
                return Ok(m);
            }
        }
        let a = rule
            .normalize(self, value)
            .map_err(|e| SchemaError::InvalidSyntax {
                attr: desc.to_string(),
                reason: e.to_string(),
            })?;
        if values.is_empty() {
            return Err(SchemaError::NoSuchAttribute(desc.to_string()));
        }
        Ok(values
            .iter()
            .any(|v| rule.normalize(self, v).is_ok_and(|n| n == a)))
    }

    /// The key under which `value` of the attribute `desc` (a type or description) is unique
    /// in an entry: its normalization under the equality rule, or the value itself when the
    /// type has no (implemented) equality rule (octet equality, as RFC 4512 §2.2 needs some
    /// notion of duplicate values).
    ///
    /// Errors: unknown type → undefinedAttributeType (17); value invalid for the rule →
    /// invalidAttributeSyntax (21).
    pub fn equality_key(&self, desc: &str, value: &[u8]) -> Result<Vec<u8>, SchemaError> {
        let at = self
            .attribute_type(desc)
            .ok_or_else(|| SchemaError::UndefinedAttributeType(desc.to_string()))?;
        self.equality_key_of(at, value)
    }

    /// [`Schema::equality_key`] for a type already looked up.
    ///
    /// Errors: value invalid for the rule → invalidAttributeSyntax (21).
    pub fn equality_key_of(
        &self,
        at: &AttributeType,
        value: &[u8],
    ) -> Result<Vec<u8>, SchemaError> {
        match at.equality_rule().filter(|r| r.is_supported()) {
            Some(rule) => rule
                .normalize(self, value)
                .map_err(|e| SchemaError::InvalidSyntax {
                    attr: at.name().to_string(),
                    reason: e.to_string(),
                }),
            None => Ok(value.to_vec()),
        }
    }

    /// Checks `value` against the syntax of `at` (RFC 4517 §3.3), answering as slapd 2.5
    /// does (the private `syntax` module notes where slapd is more lenient than the RFC):
    ///
    /// * DN (§3.3.9) and Name and Optional UID (§3.3.21): parsed, attribute types known;
    /// * Directory String (§3.3.6): non-empty UTF-8;
    /// * IA5 String (§3.3.15), Printable String (§3.3.29), Numeric String (§3.3.23),
    ///   Country String (§3.3.4), Telephone Number (§3.3.31, a printable string);
    /// * Integer (§3.3.16, no leading zeros, no `-0`), Boolean (§3.3.3), Bit String
    ///   (§3.3.2);
    /// * Generalized Time (§3.3.13), UTC Time (§3.3.34);
    /// * Delivery Method (§3.3.5), Postal Address (§3.3.28);
    /// * OID (§3.3.26): a numeric OID; for `objectClass` and `structuralObjectClass` also a
    ///   descriptor (whether it names a known class is checked with the entry,
    ///   [`Schema::check_entry`]);
    /// * UUID (RFC 4530 §2.1) and OpenLDAP's CSN.
    ///
    /// Other syntaxes (binary ones such as Certificate or JPEG, and the rarely used
    /// structured ones) accept any value.
    ///
    /// Errors with invalidAttributeSyntax (21).
    pub fn validate_value(&self, at: &AttributeType, value: &[u8]) -> Result<(), SchemaError> {
        let bad = |reason: &str| SchemaError::InvalidSyntax {
            attr: at.name().to_string(),
            reason: reason.to_string(),
        };
        let by_rule =
            |rule: &str| -> Result<(), SchemaError> {
                match self.matching_rule(rule) {
                    Some(r) => r.normalize(self, value).map(|_| ()).map_err(|e| {
                        SchemaError::InvalidSyntax {
                            attr: at.name().to_string(),
                            reason: e.to_string(),
                        }
                    }),
                    None => Ok(()),
                }
            };
        let Some(syntax) = at.effective_syntax() else {
            return Ok(());
        };
        let check: fn(&[u8]) -> syntax::Check = match syntax.strip_prefix(RFC4517_SYNTAX) {
            Some("12") => return by_rule("distinguishedNameMatch"),
            Some("34") => return by_rule("uniqueMemberMatch"),
            Some("15") => {
                return match std::str::from_utf8(value) {
                    Ok("") => Err(bad("a directory string must not be empty")),
                    Ok(_) => Ok(()),
                    Err(_) => Err(bad("a directory string must be UTF-8")),
                }
            }
            Some("38") if self.names_object_classes(at) => {
                return match std::str::from_utf8(value) {
                    Ok(s) if is_oid(s) => Ok(()),
                    _ => Err(bad("not an OID or descriptor")),
                };
            }
            Some("38") => syntax::numeric_oid,
            Some("27") => syntax::integer,
            Some("7") => syntax::boolean,
            Some("24") => syntax::generalized_time,
            Some("53") => syntax::utc_time,
            Some("36") => syntax::numeric_string,
            Some("6") => syntax::bit_string,
            Some("26") => syntax::ia5_string,
            Some("44") => syntax::printable_string,
            Some("11") => syntax::country_string,
            Some("50") => syntax::telephone_number,
            Some("14") => syntax::delivery_method,
            Some("41") => syntax::postal_address,
            _ if syntax == UUID_SYNTAX => syntax::uuid,
            _ if syntax == CSN_SYNTAX => syntax::csn,
            _ => return Ok(()),
        };
        check(value).map_err(bad)
    }

    /// [`Schema::validate_value`] then [`Schema::equality_key_of`], with the same outcome
    /// (the validation's error first), computing once what both compute: values of the DN
    /// (RFC 4517 §3.3.9) and Name and Optional UID (§3.3.21) syntaxes are validated by
    /// normalizing them with the syntax's matching rule, which is also the equality rule
    /// of `member`, `uniqueMember` and every other DN-valued type of the standard schema,
    /// so their key is that normalization. A group's member DNs were normalized twice per
    /// add before (issue 7).
    ///
    /// Errors: as [`Schema::validate_value`], then as [`Schema::equality_key_of`].
    pub fn checked_equality_key(
        &self,
        at: &AttributeType,
        value: &[u8],
    ) -> Result<Vec<u8>, SchemaError> {
        let by_rule = match at
            .effective_syntax()
            .and_then(|s| s.strip_prefix(RFC4517_SYNTAX))
        {
            Some("12") => Some("distinguishedNameMatch"),
            Some("34") => Some("uniqueMemberMatch"),
            _ => None,
        };
        // Rule names are unique in the rule table, so a rule of that name is the one
        // validate_value looks up.
        let same = at.equality_rule().filter(|r| {
            r.is_supported() && by_rule.is_some_and(|n| r.name.eq_ignore_ascii_case(n))
        });
        if let Some(eq) = same {
            // The validation is this normalization, and so is the key; its error is the
            // one validate_value and equality_key_of both give.
            return eq
                .normalize(self, value)
                .map_err(|e| SchemaError::InvalidSyntax {
                    attr: at.name().to_string(),
                    reason: e.to_string(),
                });
        }
        self.validate_value(at, value)?;
        self.equality_key_of(at, value)
    }

    /// Whether values of `at` are object class names: `objectClass` (RFC 4512 §3.3) and
    /// `structuralObjectClass` (RFC 4512 §3.4.5), or a subtype.
    fn names_object_classes(&self, at: &AttributeType) -> bool {
        [OBJECT_CLASS_OID, STRUCTURAL_OBJECT_CLASS_OID]
            .iter()
            .any(|oid| at.oid == *oid || at.ancestors().iter().any(|a| a == oid))
    }
}

/// The OID prefix of the RFC 4517 §3.3 syntaxes.
const RFC4517_SYNTAX: &str = "1.3.6.1.4.1.1466.115.121.1.";
/// The Directory String syntax (RFC 4517 §3.3.6).
const DIRECTORY_STRING_SYNTAX: &str = "1.3.6.1.4.1.1466.115.121.1.15";
/// The UUID syntax (RFC 4530 §2.1).
const UUID_SYNTAX: &str = "1.3.6.1.1.16.1";
/// OpenLDAP's CSN syntax.
const CSN_SYNTAX: &str = "1.3.6.1.4.1.4203.666.11.2.1";
/// The OID of `structuralObjectClass` (RFC 4512 §3.4.5).
const STRUCTURAL_OBJECT_CLASS_OID: &str = "2.5.21.9";

#[cfg(test)]
mod tests {
    use super::*;
    use oxldap_proto::{Attribute, Ava, Dn, Rdn, Substrings};

    /// `checked_equality_key` answers exactly as `validate_value` then
    /// `equality_key_of`, keys and errors alike, for DN-valued types (where it
    /// normalizes once) and others, with valid and invalid values.
    #[test]
    fn checked_equality_key_equals_validate_then_key() {
        let s = Schema::builtin();
        let values: &[&[u8]] = &[
            b"uid=Ana.Pop,ou=Users,o=localdomain,dc=localdomain,dc=test",
            b"CN=Some  One , DC=Example,dc=COM",
            b"cn=a+sn=b,dc=example,dc=com",
            b"",
            b"not a dn",
            b"cn=x,noSuchType=y",
            b"cn=a\\00b,dc=example",
            b"uid=ana,dc=example#'0101'B",
            b"2.5.6.6",
            b"person",
            b"  Mixed   Case  ",
            b"\xff\xfe",
            b"42",
            b"20261130040000Z",
        ];
        for attr in [
            "member",
            "uniqueMember",
            "owner",
            "seeAlso",
            "cn",
            "mail",
            "objectClass",
            "uidNumber",
            "createTimestamp",
            "entryUUID",
        ] {
            let at = s.attribute_type(attr).expect("known type");
            for v in values {
                let reference = s
                    .validate_value(at, v)
                    .and_then(|()| s.equality_key_of(at, v));
                let got = s.checked_equality_key(at, v);
                assert_eq!(
                    format!("{got:?}"),
                    format!("{reference:?}"),
                    "{attr}: {:?}",
                    String::from_utf8_lossy(v)
                );
            }
        }
    }

    fn entry(dn: &[(&str, &str)], attrs: &[(&str, &[&str])]) -> Entry {
        Entry {
            dn: Dn {
                rdns: dn
                    .iter()
                    .map(|(a, v)| Rdn {
                        avas: vec![Ava {
                            attr: a.to_string(),
                            value: v.as_bytes().to_vec(),
                        }],
                    })
                    .collect(),
            },
            attrs: attrs
                .iter()
                .map(|(d, vs)| Attribute {
                    desc: d.to_string(),
                    values: vs.iter().map(|v| v.as_bytes().to_vec()).collect(),
                })
                .collect(),
        }
    }

    fn alice() -> Entry {
        entry(
            &[
                ("uid", "alice"),
                ("ou", "People"),
                ("dc", "example"),
                ("dc", "com"),
            ],
            &[
                ("objectClass", &["top", "inetOrgPerson", "posixAccount"]),
                ("uid", &["alice"]),
                ("cn", &["Alice Smith", "Ally"]),
                ("CN;lang-fr", &["Alice Forgeron"]),
                ("sn", &["Smith"]),
                ("mail", &["Alice@Example.COM"]),
                ("uidNumber", &["1000"]),
                ("gidNumber", &["100"]),
                ("homeDirectory", &["/home/alice"]),
                ("telephoneNumber", &["+1 555-123-4567"]),
                ("createTimestamp", &["20240102030405Z"]),
                ("manager", &["CN=Bob,OU=People,DC=Example,DC=com"]),
                ("entryUUID", &["597ae2f6-16a6-1027-98f4-abcdefabcdef"]),
                ("supportedLDAPVersion", &["3"]),
                ("userPassword", &["secret"]),
            ],
        )
    }

    fn eq(a: &str, v: &str) -> Filter {
        Filter::Equality(a.into(), v.as_bytes().to_vec())
    }

    fn sub(a: &str, i: Option<&str>, any: &[&str], f: Option<&str>) -> Filter {
        Filter::Substrings(
            a.into(),
            Substrings {
                initial: i.map(|s| s.as_bytes().to_vec()),
                any: any.iter().map(|s| s.as_bytes().to_vec()).collect(),
                final_: f.map(|s| s.as_bytes().to_vec()),
            },
        )
    }

    fn ext(rule: Option<&str>, attr: Option<&str>, v: &str, dn: bool) -> Filter {
        Filter::Extensible {
            rule: rule.map(String::from),
            attr: attr.map(String::from),
            value: v.as_bytes().to_vec(),
            dn_attributes: dn,
        }
    }

    use Ternary::{False as F, True as T, Undefined as U};

    #[test]
    fn filter_table() {
        let s = Schema::builtin();
        let e = alice();
        let cases: Vec<(Filter, Ternary)> = vec![
            (eq("cn", "alice smith"), T),
            (eq("CN", "ALICE   SMITH"), T),
            (eq("commonName", "ally"), T),
            (eq("2.5.4.3", "Ally"), T),
            (eq("cn", "bob"), F),
            (eq("name", "smith"), T),
            (eq("name", "alice forgeron"), T),
            (eq("cn;lang-fr", "alice forgeron"), T),
            (eq("cn;LANG-FR", "alice forgeron"), T),
            (eq("cn;lang-fr", "alice smith"), F),
            (eq("cn;lang-de", "alice forgeron"), F),
            (eq("nosuchattr", "x"), U),
            (eq("uidNumber", "01000"), T),
            (eq("uidNumber", "abc"), U),
            (eq("supportedLDAPVersion", "3"), U),
            (eq("objectClass", "person"), T),
            (eq("objectClass", "organizationalPerson"), T),
            (eq("objectClass", "TOP"), T),
            (eq("objectClass", "2.5.6.6"), T),
            (eq("objectClass", "posixAccount"), T),
            (eq("objectClass", "account"), F),
            (eq("objectClass", "noSuchClass"), U),
            (eq("mail", "alice@example.com"), T),
            (eq("telephoneNumber", "+15551234567"), T),
            (eq("manager", "cn=bob,ou=people,dc=example,dc=com"), T),
            (eq("manager", "not a dn"), U),
            (eq("entryUUID", "597AE2F6-16A6-1027-98F4-ABCDEFABCDEF"), T),
            (eq("createTimestamp", "20240102040405+0100"), T),
            (eq("userPassword", "SECRET"), F),
            (eq("userPassword", "secret"), T),
            (Filter::Approx("cn".into(), b"ALLY".to_vec()), T),
            (Filter::Approx("nosuch".into(), b"x".to_vec()), U),
            (Filter::Approx("cn".into(), b"alis smyth".to_vec()), T),
            (Filter::Approx("commonName".into(), b"smith".to_vec()), T),
            (Filter::Approx("cn".into(), b"smith alice".to_vec()), F),
            (Filter::Approx("cn".into(), b"   ".to_vec()), F),
            (Filter::Approx("cn".into(), b"".to_vec()), U),
            (Filter::Approx("cn".into(), "ø".as_bytes().to_vec()), F),
            (Filter::Approx("mail".into(), b"".to_vec()), F),
            (Filter::Approx("mail".into(), b"alis".to_vec()), T),
            (
                Filter::Approx("mail".into(), "ålice".as_bytes().to_vec()),
                U,
            ),
            (
                Filter::Approx("telephoneNumber".into(), b"+1 555 123-4567".to_vec()),
                T,
            ),
            (Filter::Approx("uidNumber".into(), b"1000".to_vec()), T),
            (Filter::Approx("uidNumber".into(), b"abc".to_vec()), U),
            (sub("cn", Some("ali"), &[], None), T),
            (sub("cn", None, &["CE SM"], Some("th")), T),
            (sub("cn", Some("bob"), &[], None), F),
            (sub("name", Some("alice f"), &[], None), T),
            (sub("name", None, &["forge"], None), T),
            (sub("mail", None, &["@example."], None), T),
            (sub("uidNumber", Some("1"), &[], None), U),
            (sub("nosuch", Some("1"), &[], None), U),
            (
                Filter::GreaterOrEqual("uidNumber".into(), b"999".to_vec()),
                T,
            ),
            (
                Filter::GreaterOrEqual("ipServicePort".into(), b"1".to_vec()),
                U,
            ),
            (
                Filter::GreaterOrEqual("gidNumber".into(), b"99".to_vec()),
                T,
            ),
            (
                Filter::GreaterOrEqual("gidNumber".into(), b"101".to_vec()),
                F,
            ),
            (Filter::LessOrEqual("gidNumber".into(), b"100".to_vec()), T),
            (Filter::LessOrEqual("gidNumber".into(), b"x".to_vec()), U),
            (
                Filter::GreaterOrEqual("createTimestamp".into(), b"20240101000000Z".to_vec()),
                T,
            ),
            (
                Filter::LessOrEqual("createTimestamp".into(), b"20240101000000Z".to_vec()),
                F,
            ),
            (Filter::GreaterOrEqual("cn".into(), b"a".to_vec()), U),
            (Filter::Present("cn".into()), T),
            (Filter::Present("name".into()), T),
            (Filter::Present("objectclass".into()), T),
            (Filter::Present("description".into()), F),
            (Filter::Present("cn;lang-fr".into()), T),
            (Filter::Present("sn;lang-fr".into()), F),
            (Filter::Present("nosuch".into()), U),
            (Filter::Not(Box::new(Filter::Present("nosuch".into()))), U),
            (Filter::And(vec![]), T),
            (Filter::Or(vec![]), F),
            (Filter::Not(Box::new(eq("cn", "bob"))), T),
            (Filter::Not(Box::new(eq("nosuch", "x"))), U),
            (Filter::Not(Box::new(eq("supportedLDAPVersion", "3"))), U),
            (Filter::And(vec![eq("cn", "ally"), eq("nosuch", "x")]), U),
            (Filter::And(vec![eq("cn", "bob"), eq("nosuch", "x")]), F),
            (Filter::Or(vec![eq("cn", "bob"), eq("nosuch", "x")]), U),
            (Filter::Or(vec![eq("cn", "ally"), eq("nosuch", "x")]), T),
            (
                Filter::Not(Box::new(Filter::And(vec![
                    eq("cn", "ally"),
                    eq("nosuch", "x"),
                ]))),
                U,
            ),
            (ext(None, Some("cn"), "ALLY", false), T),
            (ext(Some("caseExactMatch"), Some("cn"), "ALLY", false), F),
            (ext(Some("caseExactMatch"), Some("cn"), "Ally", false), T),
            (ext(Some("2.5.13.5"), Some("cn"), "Ally", false), T),
            (ext(Some("caseIgnoreMatch"), None, "smith", false), T),
            (ext(Some("integerMatch"), None, "1000", false), T),
            (ext(Some("noSuchMatch"), Some("cn"), "x", false), U),
            (ext(None, Some("nosuch"), "x", false), U),
            (ext(None, None, "x", false), U),
            (ext(None, Some("ou"), "people", false), F),
            (ext(None, Some("ou"), "people", true), T),
            (ext(None, Some("dc"), "EXAMPLE", true), T),
            (ext(Some("caseIgnoreMatch"), None, "people", true), T),
            (ext(Some("caseIgnoreMatch"), None, "people", false), F),
            (ext(Some("caseIgnoreIA5Match"), None, "example", true), T),
            (
                ext(
                    Some("integerOrderingMatch"),
                    Some("uidNumber"),
                    "1001",
                    false,
                ),
                T,
            ),
            (
                ext(
                    Some("integerOrderingMatch"),
                    Some("uidNumber"),
                    "1000",
                    false,
                ),
                F,
            ),
            // slapd's matchingRuleUse: caseIgnoreSubstringsMatch (assertion syntax 58) is
            // not usable with cn (Directory String), so the item is Undefined.
            (
                ext(
                    Some("caseIgnoreSubstringsMatch"),
                    Some("cn"),
                    "al*sm*",
                    false,
                ),
                U,
            ),
            (
                ext(
                    Some("caseIgnoreSubstringsMatch"),
                    Some("cn"),
                    "nostar",
                    false,
                ),
                U,
            ),
            (
                ext(
                    Some("distinguishedNameMatch"),
                    Some("manager"),
                    "cn=BOB,ou=people,dc=example,dc=com",
                    false,
                ),
                T,
            ),
        ];
        for (f, want) in cases {
            assert_eq!(s.evaluate(&f, &e), want, "{f:?}");
            assert_eq!(s.matches(&f, &e), want == T, "{f:?}");
        }
    }

    #[test]
    fn deep_filter_is_undefined_not_a_crash() {
        let s = Schema::builtin();
        let mut f = eq("cn", "ally");
        // 1,000 levels (the protocol's limit) are evaluated; deeper is Undefined.
        for _ in 0..500 {
            f = Filter::Not(Box::new(Filter::Not(Box::new(f))));
        }
        assert_eq!(s.evaluate(&f, &alice()), T);
        let f = Filter::Not(Box::new(Filter::Not(Box::new(f))));
        assert_eq!(s.evaluate(&f, &alice()), U);
    }

    #[test]
    fn compare() {
        let s = Schema::builtin();
        let e = alice();
        assert_eq!(s.compare(&e, "cn", b"ALLY"), Ok(true));
        assert_eq!(s.compare(&e, "commonName", b"bob"), Ok(false));
        assert_eq!(s.compare(&e, "name", b"smith"), Ok(true));
        assert_eq!(s.compare(&e, "objectClass", b"person"), Ok(true));
        assert_eq!(
            s.compare(&e, "objectClass", b"2.16.840.1.113730.3.2.2"),
            Ok(true)
        );
        assert_eq!(s.compare(&e, "objectClass", b"account"), Ok(false));
        assert_eq!(s.compare(&e, "uidNumber", b"1000"), Ok(true));
        let code = |r: Result<bool, SchemaError>| r.map_err(|e| e.code().code());
        assert_eq!(code(s.compare(&e, "nosuch", b"x")), Err(17));
        assert_eq!(code(s.compare(&e, "supportedLDAPVersion", b"3")), Err(18));
        assert_eq!(code(s.compare(&e, "jpegPhoto", b"x")), Err(18));
        assert_eq!(code(s.compare(&e, "description", b"x")), Err(16));
        assert_eq!(code(s.compare(&e, "uidNumber", b"abc")), Err(21));
        assert_eq!(code(s.compare(&e, "cn;lang-de", b"x")), Err(16));
    }

    #[test]
    fn equality_keys() {
        let s = Schema::builtin();
        assert_eq!(s.equality_key("CN", b" Foo  Bar"), Ok(b"foo bar".to_vec()));
        assert_eq!(s.equality_key("cn;lang-en", b"X"), Ok(b"x".to_vec()));
        assert_eq!(
            s.equality_key("objectClass", b"Person"),
            s.equality_key("objectClass", b"2.5.6.6")
        );
        assert_eq!(
            s.equality_key("jpegPhoto", b"\xff\xd8"),
            Ok(b"\xff\xd8".to_vec())
        );
        assert_eq!(
            s.equality_key("supportedLDAPVersion", b"3"),
            Ok(b"3".to_vec())
        );
        assert_eq!(
            s.equality_key("nosuch", b"3").map_err(|e| e.code().code()),
            Err(17)
        );
        assert_eq!(
            s.equality_key("uidNumber", b"x")
                .map_err(|e| e.code().code()),
            Err(21)
        );
    }

    #[test]
    fn validation() {
        let s = Schema::builtin();
        let v = |a: &str, val: &[u8]| {
            let at = s.attribute_type(a).expect("type");
            s.validate_value(at, val).map_err(|e| e.code().code())
        };
        assert_eq!(v("member", b"cn=x,dc=y"), Ok(()));
        assert_eq!(v("member", b"nosuch=x"), Err(21));
        assert_eq!(v("member", b"garbage"), Err(21));
        assert_eq!(v("uidNumber", b"-5"), Ok(()));
        assert_eq!(v("uidNumber", b"5x"), Err(21));
        assert_eq!(v("hasSubordinates", b"TRUE"), Ok(()));
        assert_eq!(v("hasSubordinates", b"yes"), Err(21));
        assert_eq!(v("createTimestamp", b"20240101000000Z"), Ok(()));
        assert_eq!(v("createTimestamp", b"2024"), Err(21));
        assert_eq!(v("mail", b"a@b"), Ok(()));
        assert_eq!(v("mail", "ä@b".as_bytes()), Err(21));
        assert_eq!(v("cn", b"x"), Ok(()));
        assert_eq!(v("cn", b""), Err(21));
        assert_eq!(v("cn", b"\xff"), Err(21));
        assert_eq!(v("x121Address", b"12 34"), Ok(()));
        assert_eq!(v("x121Address", b"12a"), Err(21));
        assert_eq!(v("c", b"DE"), Ok(()));
        assert_eq!(v("c", b"DEU"), Err(21));
        assert_eq!(v("objectClass", b"person"), Ok(()));
        assert_eq!(v("objectClass", b"per son"), Err(21));
        assert_eq!(
            v("entryUUID", b"597ae2f6-16a6-1027-98f4-abcdefabcdef"),
            Ok(())
        );
        assert_eq!(v("entryUUID", b"nope"), Err(21));
        assert_eq!(v("jpegPhoto", b"\xff\xd8"), Ok(()));
    }

    /// One valid and several invalid values per syntax, with slapd 2.5's answers.
    #[test]
    fn validation_per_syntax() {
        let mut s = Schema::builtin();
        s.add_attribute_type_str(
            "( 1.3.6.1.4.1.99999.1 NAME 'xUtc' SYNTAX 1.3.6.1.4.1.1466.115.121.1.53 )",
        )
        .expect("adds");
        s.add_attribute_type_str(
            "( 1.3.6.1.4.1.99999.2 NAME 'xOid' EQUALITY objectIdentifierMatch \
             SYNTAX 1.3.6.1.4.1.1466.115.121.1.38 )",
        )
        .expect("adds");
        let v = |a: &str, val: &[u8]| {
            let at = s.attribute_type(a).expect("type");
            s.validate_value(at, val).map_err(|e| e.code().code())
        };
        /// An attribute with values it accepts and values it refuses.
        type Case<'a> = (&'a str, &'a [&'a [u8]], &'a [&'a [u8]]);
        let cases: &[Case] = &[
            (
                "telephoneNumber",
                &[b"+1 555 123-4567", b"+1 (555) 123 4567", b" "],
                &["+1 555 é".as_bytes(), b"", b"555*1", b"a@b"],
            ),
            (
                "uidNumber",
                &[b"0", b"1000", b"-5"],
                &[b"007", b"-0", b"+5", b" 5", b"-", b"", b"1e3"],
            ),
            (
                "preferredDeliveryMethod",
                &[b"any", b"telephone $ PHYSICAL", b"g3fax$g4fax"],
                &[b"pigeon", b"any ", b"any$", b"", b"telex mhs"],
            ),
            (
                "postalAddress",
                &[b"1 Main St$Springfield", b"a\\24b\\5c$c", b"a$$b", b""],
                &[b"1 Main St\\x$Springfield", b"a\\", b"a\\5", b"\xff"],
            ),
            (
                "destinationIndicator",
                &[b"ABC 1", b"a'b"],
                &[b"", b"a*b", "é".as_bytes()],
            ),
            ("c", &[b"DE", b"de"], &[b"D", b"DEU", b"D*", b""]),
            ("x121Address", &[b"12 34", b" "], &[b"", b"12a"]),
            ("mail", &[b"a@b", b""], &["ä@b".as_bytes()]),
            (
                "hasSubordinates",
                &[b"TRUE", b"FALSE"],
                &[b"true", b"yes", b""],
            ),
            (
                "createTimestamp",
                &[b"20240101000000Z", b"2024010100+0100", b"20240101000000.5Z"],
                &[
                    b"2024",
                    b"20240101000000",
                    b"20230229000000Z",
                    b"20240101000000+2400",
                ],
            ),
            (
                "xUtc",
                &[b"2401020304Z", b"240102030405+0100", b"2401020304"],
                &[
                    b"24010203",
                    b"240102030460Z",
                    b"2413020304Z",
                    b"2401020304+01",
                ],
            ),
            ("xOid", &[b"2.5.4.3", b"1"], &[b"cn", b"1.", b"1.02", b""]),
            (
                "objectClass",
                &[b"person", b"2.5.6.6"],
                &[b"per son", b"", b"1."],
            ),
            (
                "x500UniqueIdentifier",
                &[b"'0101'B", b"''B"],
                &[b"'012'B", b"0101"],
            ),
            (
                "entryUUID",
                &[b"597ae2f6-16a6-1027-98f4-abcdefabcdef"],
                &[b"nope", b"597ae2f6-16a6-1027-98f4-abcdefabcdeg"],
            ),
            (
                "entryCSN",
                &[
                    b"20240101000000.000000Z#000000#000#000000",
                    b"20240101000000Z#000000#00#000000",
                ],
                &[
                    b"20240101000000Z#000000#000#000000",
                    b"20240101000000.000000Z#000000#00#000000",
                    b"x",
                ],
            ),
        ];
        for (attr, good, bad) in cases {
            for g in *good {
                assert_eq!(
                    v(attr, g),
                    Ok(()),
                    "{attr}: {:?}",
                    String::from_utf8_lossy(g)
                );
            }
            for b in *bad {
                assert_eq!(
                    v(attr, b),
                    Err(21),
                    "{attr}: {:?}",
                    String::from_utf8_lossy(b)
                );
            }
        }
    }
}
