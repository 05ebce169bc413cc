//! The one error type that reaches the wire, and the one place an `LdapResult` is built.

use ldap3_proto::proto::LdapResult;
use oxldap_proto::ResultCode;
use oxldap_schema::SchemaError;
use oxldap_store::StoreError;
use std::borrow::Cow;

/// An LDAP outcome other than success, as sent in an LDAPResult (RFC 4511 §4.1.9).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LdapError {
    /// The result code.
    pub code: ResultCode,
    /// The matchedDN (empty when none), RFC 4511 §4.1.9.
    pub matched: String,
    /// The diagnosticMessage: lowercase, never Debug output, never secrets.
    pub message: Cow<'static, str>,
}

impl LdapError {
    /// An error with `code` and `message` and no matchedDN.
    pub fn new(code: ResultCode, message: impl Into<Cow<'static, str>>) -> LdapError {
        LdapError {
            code,
            matched: String::new(),
            message: message.into(),
        }
    }

    /// The LDAPResult carrying this error (codes `ldap3_proto` lacks, such as
    /// assertionFailed, go through [`oxldap_proto::controls::ldap_result`]).
    pub fn to_result(&self) -> LdapResult {
        oxldap_proto::controls::ldap_result(
            self.code,
            self.matched.clone(),
            self.message.to_string(),
        )
    }
}

impl std::fmt::Display for LdapError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.code)?;
        if !self.message.is_empty() {
            write!(f, ": {}", self.message)?;
        }
        if !self.matched.is_empty() {
            write!(f, " (matched DN: {})", self.matched)?;
        }
        Ok(())
    }
}

impl std::error::Error for LdapError {}

/// A success LDAPResult.
pub fn success() -> LdapResult {
    LdapResult {
        code: ResultCode::Success.into(),
        matcheddn: String::new(),
        message: String::new(),
        referral: Vec::new(),
    }
}

/// The LDAPResult for an operation outcome.
pub fn result_of(r: &Result<(), LdapError>) -> LdapResult {
    match r {
        Ok(()) => success(),
        Err(e) => e.to_result(),
    }
}

impl From<StoreError> for LdapError {
    fn from(e: StoreError) -> LdapError {
        if e.is_failure() {
            let id = uuid::Uuid::new_v4();
            tracing::error!(error = %e, correlation = %id, "store failure");
            return LdapError::new(
                ResultCode::Other,
                format!("internal error (see server log, correlation id {id})"),
            );
        }
        LdapError {
            code: e.code(),
            matched: e.matched_dn().map(|d| d.to_string()).unwrap_or_default(),
            message: e.to_string().into(),
        }
    }
}

impl From<SchemaError> for LdapError {
    fn from(e: SchemaError) -> LdapError {
        LdapError::new(e.code(), e.to_string())
    }
}

impl From<oxldap_proto::DnError> for LdapError {
    fn from(e: oxldap_proto::DnError) -> LdapError {
        LdapError::new(ResultCode::InvalidDnSyntax, format!("invalid DN: {e}"))
    }
}
