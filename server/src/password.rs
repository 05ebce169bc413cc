//! `userPassword` / `rootpw` storage schemes, as understood by OpenLDAP slapd.
//!
//! Stored values follow RFC 2307 §5.3 (`{SCHEME}payload`) and the schemes that
//! slapd and its `pw-sha2` contrib module implement (slapd-config(5)
//! `olcPasswordHash`, slapd.conf(5) `password-hash`):
//!
//! | scheme      | payload                                           |
//! |-------------|---------------------------------------------------|
//! | `{SHA}`     | base64(SHA-1(password))                           |
//! | `{SSHA}`    | base64(SHA-1(password ‖ salt) ‖ salt)             |
//! | `{SHA256}`  | base64(SHA-256(password))                         |
//! | `{SSHA256}` | base64(SHA-256(password ‖ salt) ‖ salt)           |
//! | `{SHA512}`  | base64(SHA-512(password))                         |
//! | `{SSHA512}` | base64(SHA-512(password ‖ salt) ‖ salt)           |
//! | `{MD5}`     | base64(MD5(password))                             |
//! | `{SMD5}`    | base64(MD5(password ‖ salt) ‖ salt)               |
//! | `{CRYPT}`   | a crypt(3) string (`$1$…`, `$5$…`, `$6$…`, DES …) |
//! | none        | the cleartext password                            |
//!
//! All digest comparisons are constant time ([`subtle::ConstantTimeEq`]).

use base64::alphabet;
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig, STANDARD};
use base64::engine::DecodePaddingMode;
use base64::Engine as _;
use md5::Md5;
use rand::rngs::OsRng;
use rand::seq::SliceRandom;
use rand::RngCore;
use sha1::Sha1;
use sha2::{Digest, Sha256, Sha512};
use subtle::ConstantTimeEq;

/// The scheme [`hash`] uses when the configuration names none; slapd's
/// `password-hash` default is `{SSHA}` (slapd.conf(5)).
pub const DEFAULT_SCHEME: &str = "{SSHA}";

/// Length in bytes of the random salt that [`hash`] generates for salted
/// schemes (slapd uses an 8-byte salt for `{SSHA}`/`{SMD5}` and the `pw-sha2`
/// schemes).
pub const SALT_LEN: usize = 8;

/// Length of the passwords that [`generate`] returns.
pub const GENERATED_LEN: usize = 12;

/// Alphabet of [`generate`]: ASCII letters and digits without the easily
/// confused `0 O o 1 l I`.
const GENERATE_ALPHABET: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnpqrstuvwxyz23456789";

/// Base64 decoder that accepts the standard alphabet with or without `=`
/// padding (values written by other tools sometimes omit it).
const LENIENT_B64: GeneralPurpose = GeneralPurpose::new(
    &alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// Errors of [`hash`].
#[derive(Debug, thiserror::Error)]
pub enum PasswordError {
    /// The scheme is not one that [`hash`] can produce (slapd answers
    /// `password-hash` with an unknown scheme the same way).
    #[error("unsupported password scheme {0:?}")]
    UnsupportedScheme(String),
    /// `{CLEARTEXT}` was requested for a password that is not UTF-8, so it
    /// cannot be returned as a `String`.
    #[error("a {{CLEARTEXT}} password must be valid UTF-8")]
    NotUtf8,
    /// The operating system's random number generator failed while making a
    /// salt.
    #[error("cannot obtain random salt: {0}")]
    Random(String),
}

/// The digest families used by the `{SHA*}`, `{SSHA*}`, `{MD5}` and `{SMD5}`
/// schemes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Algo {
    Sha1,
    Sha256,
    Sha512,
    Md5,
}

impl Algo {
    fn digest(self, password: &[u8], salt: &[u8]) -> Vec<u8> {
        fn run<D: Digest>(password: &[u8], salt: &[u8]) -> Vec<u8> {
            let mut d = D::new();
            d.update(password);
            d.update(salt);
            d.finalize().to_vec()
        }
        match self {
            Algo::Sha1 => run::<Sha1>(password, salt),
            Algo::Sha256 => run::<Sha256>(password, salt),
            Algo::Sha512 => run::<Sha512>(password, salt),
            Algo::Md5 => run::<Md5>(password, salt),
        }
    }

    fn output_len(self) -> usize {
        match self {
            Algo::Sha1 => 20,
            Algo::Sha256 => 32,
            Algo::Sha512 => 64,
            Algo::Md5 => 16,
        }
    }
}

/// A recognised `{SCHEME}` name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Scheme {
    Digest { algo: Algo, salted: bool },
    Crypt,
    Cleartext,
}

impl Scheme {
    /// Looks a scheme name (without braces) up, case-insensitively as slapd.
    fn from_name(name: &str) -> Option<Scheme> {
        let digest = |algo, salted| Some(Scheme::Digest { algo, salted });
        match name.to_ascii_uppercase().as_str() {
            "SHA" => digest(Algo::Sha1, false),
            "SSHA" => digest(Algo::Sha1, true),
            "SHA256" => digest(Algo::Sha256, false),
            "SSHA256" => digest(Algo::Sha256, true),
            "SHA512" => digest(Algo::Sha512, false),
            "SSHA512" => digest(Algo::Sha512, true),
            "MD5" => digest(Algo::Md5, false),
            "SMD5" => digest(Algo::Md5, true),
            "CRYPT" => Some(Scheme::Crypt),
            "CLEARTEXT" => Some(Scheme::Cleartext),
            _ => None,
        }
    }
}

/// Splits `{NAME}rest` into `(NAME, rest)`.
///
/// Only a leading `{` followed by a plausible scheme name (ASCII letters,
/// digits, `-`, `_`, `.`) and `}` counts as a scheme prefix; anything else is
/// a cleartext value, as in slapd's `lutil_passwd`.
fn split_scheme(stored: &[u8]) -> Option<(&str, &[u8])> {
    let rest = stored.strip_prefix(b"{")?;
    let end = rest.iter().position(|&b| b == b'}')?;
    let name = rest.get(..end)?;
    if name.is_empty()
        || !name
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
    {
        return None;
    }
    let name = std::str::from_utf8(name).ok()?;
    Some((name, rest.get(end + 1..)?))
}

/// Compares two byte strings in constant time, without leaking which bytes
/// differ. Both sides are first reduced to SHA-256 digests so that the
/// comparison does not reveal the stored value's length either.
fn ct_eq_hidden_len(a: &[u8], b: &[u8]) -> bool {
    let da = Sha256::digest(a);
    let db = Sha256::digest(b);
    bool::from(da.as_slice().ct_eq(db.as_slice()))
}

/// Checks `presented` against a salted or unsalted digest payload.
fn verify_digest(algo: Algo, salted: bool, payload: &[u8], presented: &[u8]) -> bool {
    // Surrounding whitespace is never part of base64; tolerate it as slapd's
    // base64 decoder does for values pasted from LDIF.
    let trimmed = payload.trim_ascii();
    let Ok(decoded) = LENIENT_B64.decode(trimmed) else {
        return false;
    };
    let len = algo.output_len();
    let Some((expected, salt)) = decoded.split_at_checked(len) else {
        return false;
    };
    // slapd rejects a salted value without salt, and an unsalted value with
    // trailing bytes.
    if salted == salt.is_empty() {
        return false;
    }
    let actual = algo.digest(presented, salt);
    bool::from(actual.as_slice().ct_eq(expected))
}

/// Checks `presented` against a crypt(3) string. pwhash compares in constant
/// time; it is third-party code parsing stored data, so a panic in it is
/// contained and treated as a mismatch.
fn verify_crypt(payload: &[u8], presented: &[u8]) -> bool {
    let Ok(hash) = std::str::from_utf8(payload) else {
        return false;
    };
    if hash.is_empty() {
        return false;
    }
    std::panic::catch_unwind(|| pwhash::unix::verify(presented, hash)).unwrap_or(false)
}

/// Verifies a password presented in a simple Bind (RFC 4513 §5.1.3) or a
/// Password Modify `oldPasswd` (RFC 3062) against one stored `userPassword`
/// value or the database's `rootpw` (slapd.conf(5)).
///
/// `stored` is either `{SCHEME}payload` for one of `{SSHA}`, `{SHA}`,
/// `{SSHA256}`, `{SHA256}`, `{SSHA512}`, `{SHA512}`, `{SMD5}`, `{MD5}`,
/// `{CRYPT}` and `{CLEARTEXT}` (scheme names are case-insensitive), or a
/// cleartext password when it has no scheme prefix, which slapd compares
/// as-is. For the salted schemes the base64 payload is the digest followed by
/// the salt.
///
/// Returns `false` — never panics — for an unknown scheme, malformed base64,
/// a payload of the wrong length, or a mismatch. An empty `presented`
/// password never matches: RFC 4513 §5.1.2 makes a simple Bind with a name and
/// an empty password an *unauthenticated* bind, which the caller must handle
/// (and normally refuse) before asking for a password check.
pub fn verify(stored: &[u8], presented: &[u8]) -> bool {
    if presented.is_empty() {
        return false;
    }
    let Some((name, payload)) = split_scheme(stored) else {
        return ct_eq_hidden_len(stored, presented);
    };
    match Scheme::from_name(name) {
        Some(Scheme::Digest { algo, salted }) => verify_digest(algo, salted, payload, presented),
        Some(Scheme::Crypt) => verify_crypt(payload, presented),
        Some(Scheme::Cleartext) => ct_eq_hidden_len(payload, presented),
        None => false,
    }
}

/// Hashes `password` for storage in `userPassword`, producing the value slapd
/// would store for the `password-hash` scheme `scheme` (slapd.conf(5)).
///
/// Supported: `{SSHA}` ([`DEFAULT_SCHEME`]), `{SSHA256}`, `{SSHA512}`,
/// `{SHA}`, `{SHA256}`, `{SHA512}`, `{SMD5}`, `{MD5}` and `{CLEARTEXT}`;
/// names are case-insensitive and the braces are optional. Salted schemes use
/// a fresh [`SALT_LEN`]-byte salt from the operating system's RNG. As in
/// slapd, `{CLEARTEXT}` returns the password itself, without a prefix.
/// `{CRYPT}` is only verified, not produced.
///
/// # Errors
///
/// [`PasswordError::UnsupportedScheme`] for any other scheme,
/// [`PasswordError::NotUtf8`] for a non-UTF-8 `{CLEARTEXT}` password, and
/// [`PasswordError::Random`] when no salt can be obtained.
pub fn hash(scheme: &str, password: &[u8]) -> Result<String, PasswordError> {
    let trimmed = scheme.trim();
    let name = trimmed
        .strip_prefix('{')
        .and_then(|s| s.strip_suffix('}'))
        .unwrap_or(trimmed);
    let unsupported = || PasswordError::UnsupportedScheme(scheme.to_owned());
    match Scheme::from_name(name).ok_or_else(unsupported)? {
        Scheme::Cleartext => {
            String::from_utf8(password.to_vec()).map_err(|_| PasswordError::NotUtf8)
        }
        Scheme::Crypt => Err(unsupported()),
        Scheme::Digest { algo, salted } => {
            let mut salt = [0u8; SALT_LEN];
            let salt: &[u8] = if salted {
                OsRng
                    .try_fill_bytes(&mut salt)
                    .map_err(|e| PasswordError::Random(e.to_string()))?;
                &salt
            } else {
                &[]
            };
            let mut out = algo.digest(password, salt);
            out.extend_from_slice(salt);
            Ok(format!(
                "{{{}}}{}",
                name.to_ascii_uppercase(),
                STANDARD.encode(out)
            ))
        }
    }
}

/// Generates a random password for an RFC 3062 Password Modify request that
/// omits `newPasswd` (§2: "the server … generates a new password").
///
/// The result is [`GENERATED_LEN`] characters drawn uniformly from an
/// alphanumeric alphabet without look-alike characters (about 69 bits of
/// entropy), using the thread-local CSPRNG seeded from the operating system.
pub fn generate() -> String {
    let mut rng = rand::thread_rng();
    (0..GENERATED_LEN)
        .filter_map(|_| GENERATE_ALPHABET.choose(&mut rng).map(|&b| char::from(b)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    // Vectors computed with Python's hashlib, e.g.
    // base64.b64encode(hashlib.sha1(b"secret" + b"saltsalt").digest() + b"saltsalt").
    const VECTORS: &[(&str, &str)] = &[
        ("{SHA}5en6G6MezRroT3XKqkdPOmY/BfQ=", "secret"),
        ("{SSHA}1G904nLkTkGWjKNnQuB/hpWXC/hzYWx0c2FsdA==", "secret"),
        (
            "{SHA256}K7gNU3sdo+OL0wNhqoVWhr3g6s1xYv72ol/pe/Unols=",
            "secret",
        ),
        (
            "{SSHA256}oBmrdHcA6OZEkkCLeXh71YAerbvhXz1qqwjrPsXmEtNzYWx0c2FsdA==",
            "secret",
        ),
        (
            "{SHA512}vSsar3708Jvp9Szi2NWZZ02Bqp1qRCFpbcTZPdBhnWgs5WtNZKnvCXdhztmeD2cmW192CF5bDufKRpayrW/isg==",
            "secret",
        ),
        (
            "{SSHA512}aCu7JRc+kLsuEmFs1zTY+AiP7DSGnjjG+dH28Dp+E5usqoAixeTPihKqZmkWal4mUfp63tqvCAkFV1LKTDFH6XNhbHRzYWx0",
            "secret",
        ),
        ("{MD5}Xr4ilOzQ4PCOq3aQ0qbuaQ==", "secret"),
        ("{SMD5}VAfQ6nCkaw9o3u+x706wnXNhbHRzYWx0", "secret"),
        // openssl passwd -1 -salt abcdefgh secret
        ("{CRYPT}$1$abcdefgh$cHJi5PXp/ki/ktXzqlk6I1", "secret"),
        // openssl passwd -6 -salt abcdefgh secret
        (
            "{CRYPT}$6$abcdefgh$ltjgWl6579NluT/Vi1nwEvcil.G5Nbc4NiXZaNGStk8PSwGfQv72N2CKPPrVACtLtip/cZ/1GM/O6IND4WQhG.",
            "secret",
        ),
        ("secret", "secret"),
        ("{CLEARTEXT}secret", "secret"),
    ];

    #[test]
    fn known_vectors_match() {
        for (stored, pw) in VECTORS {
            assert!(verify(stored.as_bytes(), pw.as_bytes()), "{stored}");
            assert!(!verify(stored.as_bytes(), b"Secret"), "{stored}");
            assert!(!verify(stored.as_bytes(), b""), "{stored}");
        }
    }

    #[test]
    fn scheme_names_are_case_insensitive() {
        assert!(verify(
            b"{ssha}1G904nLkTkGWjKNnQuB/hpWXC/hzYWx0c2FsdA==",
            b"secret"
        ));
        assert!(verify(b"{Sha}5en6G6MezRroT3XKqkdPOmY/BfQ=", b"secret"));
        assert!(verify(
            b"{crypt}$1$abcdefgh$cHJi5PXp/ki/ktXzqlk6I1",
            b"secret"
        ));
    }

    #[test]
    fn unpadded_base64_is_accepted() {
        assert!(verify(b"{SHA}5en6G6MezRroT3XKqkdPOmY/BfQ", b"secret"));
    }

    #[test]
    fn round_trip_every_scheme() {
        for scheme in [
            "{SSHA}",
            "{SSHA256}",
            "{SSHA512}",
            "{SHA}",
            "{SHA256}",
            "{SHA512}",
            "{SMD5}",
            "{MD5}",
            "{CLEARTEXT}",
            "ssha",
        ] {
            let stored = hash(scheme, b"p4ss word").expect("hash");
            assert!(
                verify(stored.as_bytes(), b"p4ss word"),
                "{scheme}: {stored}"
            );
            assert!(!verify(stored.as_bytes(), b"p4ss wore"), "{scheme}");
        }
    }

    #[test]
    fn salted_hashes_differ_and_use_eight_byte_salt() {
        let a = hash(DEFAULT_SCHEME, b"x").expect("hash");
        let b = hash(DEFAULT_SCHEME, b"x").expect("hash");
        assert_ne!(a, b);
        let payload = a.strip_prefix("{SSHA}").expect("prefix");
        assert_eq!(STANDARD.decode(payload).expect("b64").len(), 20 + SALT_LEN);
    }

    #[test]
    fn cleartext_hash_has_no_prefix() {
        assert_eq!(hash("{CLEARTEXT}", b"abc").expect("hash"), "abc");
        assert!(matches!(
            hash("{CLEARTEXT}", &[0xff]),
            Err(PasswordError::NotUtf8)
        ));
    }

    #[test]
    fn unsupported_schemes_are_errors() {
        for s in ["{CRYPT}", "{BOGUS}", "", "{}"] {
            assert!(
                matches!(hash(s, b"x"), Err(PasswordError::UnsupportedScheme(_))),
                "{s}"
            );
        }
    }

    #[test]
    fn malformed_values_never_match_or_panic() {
        let cases: &[&[u8]] = &[
            b"{SSHA}",
            b"{SSHA}!!!!",
            b"{SSHA}5en6G6MezRroT3XKqkdPOmY/BfQ=", // no salt
            b"{SHA}1G904nLkTkGWjKNnQuB/hpWXC/hzYWx0c2FsdA==", // trailing bytes
            b"{SHA}AAAA",
            b"{MD5}",
            b"{CRYPT}",
            b"{CRYPT}$",
            b"{CRYPT}$1$",
            b"{CRYPT}$2y$99$abc",
            b"{CRYPT}$5$rounds=x$abc$",
            b"{CRYPT}_",
            b"{CRYPT}a",
            b"{CRYPT}\xff\xfe",
            b"{BOGUS}secret",
            b"{SSHA}\xff\xff\xff",
            b"{",
            b"}",
            b"",
            b"\0",
        ];
        for stored in cases {
            assert!(!verify(stored, b"secret"), "{:?}", stored);
            assert!(!verify(stored, b"\xff\0"), "{:?}", stored);
        }
    }

    #[test]
    fn braces_without_scheme_are_cleartext() {
        assert!(verify(b"{not a scheme}", b"{not a scheme}"));
        assert!(verify(b"{open", b"{open"));
        assert!(!verify(b"{BOGUS}x", b"{BOGUS}x"));
    }

    #[test]
    fn empty_password_never_matches() {
        assert!(!verify(b"", b""));
        assert!(!verify(b"{CLEARTEXT}", b""));
    }

    #[test]
    fn generated_passwords() {
        let a = generate();
        let b = generate();
        assert_eq!(a.len(), GENERATED_LEN);
        assert_ne!(a, b);
        assert!(a.bytes().all(|c| GENERATE_ALPHABET.contains(&c)));
        assert!(!a.contains(['0', 'O', 'o', '1', 'l', 'I']));
    }
}
