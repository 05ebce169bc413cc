//! LDAP syntax for oxldap, with no semantics.
//!
//! This crate owns the shapes of LDAP data as they appear on the wire and in files:
//! distinguished names ([`dn`], RFC 4514), search filters ([`filter`], RFC 4515 and the
//! RFC 4511 §4.5.1.7 ASN.1), entries ([`entry`]), LDIF ([`ldif`], RFC 2849), the BER
//! framing codec ([`codec`], RFC 4511 §5.1), the values of the assertion, read-entry
//! and matched values controls ([`controls`], RFC 4528, 4527, 3876) and result codes ([`result`], RFC 4511 §4.1.9).
//!
//! It must not know the schema: DN *normalization* and filter *evaluation* need matching
//! rules and live in `oxldap-schema`. It does no IO. It is the only crate whose public API
//! names `ldap3_proto` types; everything above it works with the types defined here.

pub mod codec;
pub mod controls;
pub mod dn;
pub mod entry;
pub mod entry_ber;
pub mod filter;
pub mod ldif;
pub mod result;
pub mod stack;

pub use codec::{CodecError, Frame, MalformedOp, Outgoing, RawControl, ServerCodec};
pub use dn::{Ava, Dn, DnError, Rdn};
pub use entry::{Attribute, Attributes, Entry};
pub use filter::{Filter, FilterError, Substrings};
pub use ldap3_proto;
pub use ldif::{LdifChange, LdifError, LdifReader, LdifRecord, ModOp, Modification};
pub use result::ResultCode;
