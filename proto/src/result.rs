//! LDAP result codes (RFC 4511 §4.1.9 and Appendix A), with names as the RFC spells them.

use ldap3_proto::LdapResultCode;

macro_rules! result_codes {
    ($($(#[$doc:meta])* $variant:ident = $num:literal, $name:literal;)*) => {
        /// An LDAP result code. Every code the server can send is a variant; the numbers are
        /// RFC 4511 Appendix A (plus RFC 4533 e-syncRefreshRequired).
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        #[non_exhaustive]
        pub enum ResultCode {
            $($(#[$doc])* $variant = $num,)*
        }

        impl ResultCode {
            /// The numeric code sent on the wire.
            pub fn code(self) -> u32 {
                self as u32
            }

            /// The RFC 4511 name, e.g. `noSuchObject`.
            pub fn name(self) -> &'static str {
                match self {
                    $(ResultCode::$variant => $name,)*
                }
            }

            /// The code for a number, if it is one this crate knows.
            pub fn from_code(n: u32) -> Option<ResultCode> {
                match n {
                    $($num => Some(ResultCode::$variant),)*
                    _ => None,
                }
            }
        }
    };
}

result_codes! {
    /// 0
    Success = 0, "success";
    /// 1
    OperationsError = 1, "operationsError";
    /// 2
    ProtocolError = 2, "protocolError";
    /// 3
    TimeLimitExceeded = 3, "timeLimitExceeded";
    /// 4
    SizeLimitExceeded = 4, "sizeLimitExceeded";
    /// 5
    CompareFalse = 5, "compareFalse";
    /// 6
    CompareTrue = 6, "compareTrue";
    /// 7
    AuthMethodNotSupported = 7, "authMethodNotSupported";
    /// 8
    StrongerAuthRequired = 8, "strongerAuthRequired";
    /// 10
    Referral = 10, "referral";
    /// 11
    AdminLimitExceeded = 11, "adminLimitExceeded";
    /// 12
    UnavailableCriticalExtension = 12, "unavailableCriticalExtension";
    /// 13
    ConfidentialityRequired = 13, "confidentialityRequired";
    /// 14
    SaslBindInProgress = 14, "saslBindInProgress";
    /// 16
    NoSuchAttribute = 16, "noSuchAttribute";
    /// 17
    UndefinedAttributeType = 17, "undefinedAttributeType";
    /// 18
    InappropriateMatching = 18, "inappropriateMatching";
    /// 19
    ConstraintViolation = 19, "constraintViolation";
    /// 20
    AttributeOrValueExists = 20, "attributeOrValueExists";
    /// 21
    InvalidAttributeSyntax = 21, "invalidAttributeSyntax";
    /// 32
    NoSuchObject = 32, "noSuchObject";
    /// 33
    AliasProblem = 33, "aliasProblem";
    /// 34
    InvalidDnSyntax = 34, "invalidDNSyntax";
    /// 36
    AliasDereferencingProblem = 36, "aliasDereferencingProblem";
    /// 48
    InappropriateAuthentication = 48, "inappropriateAuthentication";
    /// 49
    InvalidCredentials = 49, "invalidCredentials";
    /// 50
    InsufficientAccessRights = 50, "insufficientAccessRights";
    /// 51
    Busy = 51, "busy";
    /// 52
    Unavailable = 52, "unavailable";
    /// 53
    UnwillingToPerform = 53, "unwillingToPerform";
    /// 54
    LoopDetect = 54, "loopDetect";
    /// 64
    NamingViolation = 64, "namingViolation";
    /// 65
    ObjectClassViolation = 65, "objectClassViolation";
    /// 66
    NotAllowedOnNonLeaf = 66, "notAllowedOnNonLeaf";
    /// 67
    NotAllowedOnRdn = 67, "notAllowedOnRDN";
    /// 68
    EntryAlreadyExists = 68, "entryAlreadyExists";
    /// 69
    ObjectClassModsProhibited = 69, "objectClassModsProhibited";
    /// 71
    AffectsMultipleDsas = 71, "affectsMultipleDSAs";
    /// 80
    Other = 80, "other";
    /// 118 (RFC 3909 §2): the operation was cancelled by a Cancel extended operation.
    Canceled = 118, "canceled";
    /// 119 (RFC 3909 §2): Cancel named no outstanding operation.
    NoSuchOperation = 119, "noSuchOperation";
    /// 120 (RFC 3909 §2): the operation had got too far to be cancelled.
    TooLate = 120, "tooLate";
    /// 121 (RFC 3909 §2): the operation cannot be cancelled (Bind, Unbind, Abandon, Cancel,
    /// StartTLS).
    CannotCancel = 121, "cannotCancel";
    /// 122: the assertion control's filter was not True (RFC 4528 §3).
    AssertionFailed = 122, "assertionFailed";
    /// 4096 (RFC 4533 §2.5)
    SyncRefreshRequired = 4096, "e-syncRefreshRequired";
}

impl ResultCode {
    /// The `ldap3_proto` code, None for codes it has no variant for (assertionFailed);
    /// [`crate::controls::ldap_result`] builds the LDAPResult for those.
    pub fn to_ldap3(self) -> Option<LdapResultCode> {
        use LdapResultCode as L;
        Some(match self {
            ResultCode::AssertionFailed
            | ResultCode::Canceled
            | ResultCode::NoSuchOperation
            | ResultCode::TooLate
            | ResultCode::CannotCancel => return None,
            ResultCode::Success => L::Success,
            ResultCode::OperationsError => L::OperationsError,
            ResultCode::ProtocolError => L::ProtocolError,
            ResultCode::TimeLimitExceeded => L::TimeLimitExceeded,
            ResultCode::SizeLimitExceeded => L::SizeLimitExceeded,
            ResultCode::CompareFalse => L::CompareFalse,
            ResultCode::CompareTrue => L::CompareTrue,
            ResultCode::AuthMethodNotSupported => L::AuthMethodNotSupported,
            ResultCode::StrongerAuthRequired => L::StrongerAuthRequired,
            ResultCode::Referral => L::Referral,
            ResultCode::AdminLimitExceeded => L::AdminLimitExceeded,
            ResultCode::UnavailableCriticalExtension => L::UnavailableCriticalExtension,
            ResultCode::ConfidentialityRequired => L::ConfidentialityRequired,
            ResultCode::SaslBindInProgress => L::SaslBindInProgress,
            ResultCode::NoSuchAttribute => L::NoSuchAttribute,
            ResultCode::UndefinedAttributeType => L::UndefinedAttributeType,
            ResultCode::InappropriateMatching => L::InappropriateMatching,
            ResultCode::ConstraintViolation => L::ConstraintViolation,
            ResultCode::AttributeOrValueExists => L::AttributeOrValueExists,
            ResultCode::InvalidAttributeSyntax => L::InvalidAttributeSyntax,
            ResultCode::NoSuchObject => L::NoSuchObject,
            ResultCode::AliasProblem => L::AliasProblem,
            ResultCode::InvalidDnSyntax => L::InvalidDNSyntax,
            ResultCode::AliasDereferencingProblem => L::AliasDereferencingProblem,
            ResultCode::InappropriateAuthentication => L::InappropriateAuthentication,
            ResultCode::InvalidCredentials => L::InvalidCredentials,
            ResultCode::InsufficientAccessRights => L::InsufficentAccessRights,
            ResultCode::Busy => L::Busy,
            ResultCode::Unavailable => L::Unavailable,
            ResultCode::UnwillingToPerform => L::UnwillingToPerform,
            ResultCode::LoopDetect => L::LoopDetect,
            ResultCode::NamingViolation => L::NamingViolation,
            ResultCode::ObjectClassViolation => L::ObjectClassViolation,
            ResultCode::NotAllowedOnNonLeaf => L::NotAllowedOnNonLeaf,
            ResultCode::NotAllowedOnRdn => L::NotALlowedOnRDN,
            ResultCode::EntryAlreadyExists => L::EntryAlreadyExists,
            ResultCode::ObjectClassModsProhibited => L::ObjectClassModsProhibited,
            ResultCode::AffectsMultipleDsas => L::AffectsMultipleDSAs,
            ResultCode::Other => L::Other,
            ResultCode::SyncRefreshRequired => L::EsyncRefreshRequired,
        })
    }
}

impl From<ResultCode> for LdapResultCode {
    /// Codes `ldap3_proto` lacks become `Other`; use [`crate::controls::ldap_result`] to
    /// send them.
    fn from(c: ResultCode) -> LdapResultCode {
        c.to_ldap3().unwrap_or(LdapResultCode::Other)
    }
}

impl std::fmt::Display for ResultCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ({})", self.name(), self.code())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_round_trip() {
        for n in 0..5000 {
            if let Some(c) = ResultCode::from_code(n) {
                assert_eq!(c.code(), n);
            }
        }
        assert_eq!(ResultCode::from_code(34), Some(ResultCode::InvalidDnSyntax));
        assert_eq!(ResultCode::from_code(9), None);
        assert_eq!(ResultCode::NotAllowedOnRdn.name(), "notAllowedOnRDN");
    }
}
