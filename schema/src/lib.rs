//! The LDAP schema for oxldap: attribute types, object classes, matching rules, DN
//! normalization and filter evaluation.
//!
//! This crate owns the *meaning* of LDAP data (RFC 4512 models, RFC 4517 syntaxes and
//! matching rules, RFC 4518 string preparation, RFC 4519/4524/2798/2307 user schema):
//! * [`parse`]: RFC 4512 §4.1 description strings → [`AttributeType`] / [`ObjectClass`];
//! * [`builtin`]: the built-in schema sets, as description strings (`system` holds what
//!   slapd hard-codes);
//! * [`schemafile`]: OpenLDAP `.schema` files and schema LDIF, and [`Schema::from_includes`];
//! * [`check`]: entry validation against object classes ([`Schema::check_entry`]) and the
//!   published subschema ([`Schema::subschema_attributes`]);
//! * [`Schema`]: the registry, looked up by any name or OID;
//! * [`matching`]: matching rules and value normalization;
//! * [`approx`]: slapd's phonetic approximate matching (`~=`) and its index keys;
//! * [`dn`]: [`NormDn`], DN normalization and prettying;
//! * [`filter`]: RFC 4511 §4.5.1.7 filter evaluation, Compare, value validation (with the
//!   RFC 4517 §3.3 syntax validators of the private `syntax` module).
//!
//! It builds on the syntax-only types of `oxldap-proto` ([`oxldap_proto::Dn`],
//! [`oxldap_proto::Entry`], [`oxldap_proto::Filter`]). It must not know about storage or the
//! network: no IO, no sled, no tokio, no global state. Everything here is pure functions of
//! a [`Schema`] value and its inputs, and nothing panics on any input.

#![warn(missing_docs)]

pub mod approx;
pub mod builtin;
pub mod check;
pub mod dn;
pub mod error;
pub mod filter;
pub mod matching;
pub mod parse;
pub mod schema;
pub mod schemafile;
mod syntax;

pub use approx::{ApproxAssertion, ApproxRule};
pub use builtin::{AXIGEN_STANDIN_NOTE, BUILTIN_SETS};
pub use dn::NormDn;
pub use error::SchemaError;
pub use filter::{PreparedFilter, Ternary};
pub use matching::{matching_rule, MatchingRule, RuleKind};
pub use schema::{
    option_satisfied, split_description, AttrTypeRef, AttributeType, ObjectClass, ObjectClassKind,
    Schema, Usage, OBJECT_CLASS_OID,
};
pub use schemafile::{is_schema_directive, SchemaSource};
