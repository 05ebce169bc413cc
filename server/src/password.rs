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
//! | `{PBKDF2-SHA512}` (also `-SHA256`, `-SHA1`, `{PBKDF2}`) | `ITER$ab64(salt)$ab64(dk)` |
//! | `{ARGON2}`  | a PHC string `$argon2id$v=19$m=…,t=…,p=…$salt$hash` |
//! | none        | the cleartext password                            |
//!
//! `{PBKDF2*}` is the format of slapd's contrib module `pw-pbkdf2`
//! (slapd-pw-pbkdf2(5)): the iteration count in decimal, then the salt and
//! the derived key in "adapted base64" (the standard alphabet with `.` for
//! `+` and no padding, as passlib), separated by `$`; 16-byte salt, 10,000
//! iterations, and a derived key as long as the digest. `{ARGON2}` is the
//! format of slapd's `argon2` module (slapd-pw-argon2(5)): the PHC string of
//! libargon2. Debian's slapd 2.5 module writes `$argon2i$` with
//! `m=4096,t=3,p=1`; [`hash`] writes `$argon2id$` with the same costs, and
//! [`verify`] accepts argon2i, argon2d and argon2id with any costs up to
//! [`MAX_ARGON2_M_COST`] and [`MAX_ARGON2_T_COST`].
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

/// Salt length of `{PBKDF2*}` (pw-pbkdf2's `PBKDF2_SALT_SIZE`).
pub const PBKDF2_SALT_LEN: usize = 16;

/// Iterations [`hash`] uses for `{PBKDF2*}` (pw-pbkdf2's default `PBKDF2_ITERATION`).
pub const PBKDF2_ITERATIONS: u32 = 10_000;

/// The most `{PBKDF2*}` iterations [`verify`] runs. A stored value is data a user may
/// have written (its own userPassword); without a bound one value could keep a
/// blocking thread busy for hours on every bind.
pub const MAX_PBKDF2_ITERATIONS: u32 = 10_000_000;

/// Memory cost in KiB [`hash`] uses for `{ARGON2}` (slapd's argon2 module built on
/// libargon2: `1 << 12`).
pub const ARGON2_M_COST: u32 = 4096;

/// Time cost (passes) [`hash`] uses for `{ARGON2}` (slapd's module: 3).
pub const ARGON2_T_COST: u32 = 3;

/// Salt length of `{ARGON2}` values written by [`hash`] (slapd's module: 16).
pub const ARGON2_SALT_LEN: usize = 16;

/// Hash length of `{ARGON2}` values written by [`hash`] (slapd's module: 32).
pub const ARGON2_HASH_LEN: usize = 32;

/// The largest `{ARGON2}` memory cost (KiB) [`verify`] accepts: 256 MiB. A bound for the
/// same reason as [`MAX_PBKDF2_ITERATIONS`]: `m` is allocated on every bind.
pub const MAX_ARGON2_M_COST: u32 = 256 * 1024;

/// The largest `{ARGON2}` time cost [`verify`] accepts.
pub const MAX_ARGON2_T_COST: u32 = 64;

/// The largest `{ARGON2}` parallelism [`verify`] accepts.
pub const MAX_ARGON2_P_COST: u32 = 16;

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
    /// The argon2 implementation refused its parameters (not expected with the
    /// built-in constants).
    #[error("argon2: {0}")]
    Argon2(String),
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
    Digest {
        algo: Algo,
        salted: bool,
    },
    Crypt,
    Cleartext,
    /// pw-pbkdf2's schemes; `{PBKDF2}` is `{PBKDF2-SHA1}`.
    Pbkdf2(Algo),
    Argon2,
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
            "PBKDF2" | "PBKDF2-SHA1" => Some(Scheme::Pbkdf2(Algo::Sha1)),
            "PBKDF2-SHA256" => Some(Scheme::Pbkdf2(Algo::Sha256)),
            "PBKDF2-SHA512" => Some(Scheme::Pbkdf2(Algo::Sha512)),
            "ARGON2" => Some(Scheme::Argon2),
            _ => None,
        }
    }
}

/// Whether `value` starts with the `{SCHEME}` prefix of a scheme [`verify`] knows,
/// other than `{CLEARTEXT}`: such a value is already a hash and is stored as written
/// (slapd's `ppolicy_hash_cleartext` hashes only values without a known scheme).
pub fn is_hashed(value: &[u8]) -> bool {
    split_scheme(value)
        .and_then(|(name, _)| Scheme::from_name(name))
        .is_some_and(|s| s != Scheme::Cleartext)
}

/// Whether `value` starts with a `{SCHEME}` this server verifies, `{CLEARTEXT}`
/// included. Hash-on-write keeps such values as written, as slapd's ppolicy does
/// (`ppolicy_hash_cleartext` hashes only values without a known scheme): a client
/// writing `{CLEARTEXT}pw` stores it so, and binds with `pw`.
pub fn has_known_scheme(value: &[u8]) -> bool {
    split_scheme(value)
        .and_then(|(name, _)| Scheme::from_name(name))
        .is_some()
}

/// Whether `scheme` (a `password-hash` value, braces optional) is `{CLEARTEXT}`, i.e. the
/// configuration asks for passwords to be stored as written.
pub fn is_cleartext_scheme(scheme: &str) -> bool {
    scheme_name(scheme).eq_ignore_ascii_case("CLEARTEXT")
}

/// The name in a `password-hash` value: trimmed, braces optional (`{SSHA}` or `SSHA`).
fn scheme_name(scheme: &str) -> &str {
    let t = scheme.trim();
    t.strip_prefix('{')
        .and_then(|s| s.strip_suffix('}'))
        .unwrap_or(t)
}

/// Whether [`hash`] can produce `scheme` (a `password-hash` value, braces optional).
pub fn can_hash(scheme: &str) -> bool {
    Scheme::from_name(scheme_name(scheme)).is_some_and(|s| s != Scheme::Crypt)
}

/// "Adapted base64" of pw-pbkdf2 and passlib: the standard alphabet with `.` instead of
/// `+`, without padding.
fn ab64_encode(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD_NO_PAD
        .encode(bytes)
        .replace('+', ".")
}

/// Decodes adapted base64. `+` is accepted too: pw-pbkdf2's encoder never converts the
/// first character (its loop advances before testing), so slapd writes a leading `+`.
fn ab64_decode(text: &[u8]) -> Option<Vec<u8>> {
    let std: Vec<u8> = text
        .iter()
        .map(|&b| if b == b'.' { b'+' } else { b })
        .collect();
    LENIENT_B64.decode(std).ok()
}

/// Runs PBKDF2-HMAC with `algo` (never MD5: no PBKDF2 scheme uses it).
fn pbkdf2_derive(algo: Algo, password: &[u8], salt: &[u8], rounds: u32, out: &mut [u8]) {
    match algo {
        Algo::Sha1 | Algo::Md5 => pbkdf2::pbkdf2_hmac::<Sha1>(password, salt, rounds, out),
        Algo::Sha256 => pbkdf2::pbkdf2_hmac::<Sha256>(password, salt, rounds, out),
        Algo::Sha512 => pbkdf2::pbkdf2_hmac::<Sha512>(password, salt, rounds, out),
    }
}

/// Checks `presented` against a pw-pbkdf2 payload `ITER$ab64(salt)$ab64(dk)`. As
/// pw-pbkdf2, the derived key must be exactly the digest length; the salt may be any
/// non-empty length (pw-pbkdf2 requires 16 bytes; other writers, e.g. passlib, differ).
fn verify_pbkdf2(algo: Algo, payload: &[u8], presented: &[u8]) -> bool {
    let mut parts = payload.trim_ascii().split(|&b| b == b'$');
    let (Some(iter), Some(salt), Some(dk), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return false;
    };
    let Some(rounds) = std::str::from_utf8(iter)
        .ok()
        .and_then(|i| i.parse::<u32>().ok())
        .filter(|&r| (1..=MAX_PBKDF2_ITERATIONS).contains(&r))
    else {
        return false;
    };
    let (Some(salt), Some(expected)) = (ab64_decode(salt), ab64_decode(dk)) else {
        return false;
    };
    if salt.is_empty() || expected.len() != algo.output_len() {
        return false;
    }
    let mut actual = vec![0u8; expected.len()];
    pbkdf2_derive(algo, presented, &salt, rounds, &mut actual);
    bool::from(actual.as_slice().ct_eq(expected.as_slice()))
}

/// Checks `presented` against an argon2 PHC string (slapd-pw-argon2(5)), with the
/// algorithm, version and costs the string names, bounded by the `MAX_ARGON2_*` limits.
fn verify_argon2(payload: &[u8], presented: &[u8]) -> bool {
    use argon2::password_hash::PasswordHash;
    let Ok(text) = std::str::from_utf8(payload.trim_ascii()) else {
        return false;
    };
    let Ok(parsed) = PasswordHash::new(text) else {
        return false;
    };
    let Ok(algorithm) = argon2::Algorithm::try_from(parsed.algorithm) else {
        return false;
    };
    let version = match parsed.version.map(argon2::Version::try_from) {
        None => argon2::Version::V0x13,
        Some(Ok(v)) => v,
        Some(Err(_)) => return false,
    };
    let Ok(params) = argon2::Params::try_from(&parsed) else {
        return false;
    };
    if params.m_cost() > MAX_ARGON2_M_COST
        || params.t_cost() > MAX_ARGON2_T_COST
        || params.p_cost() > MAX_ARGON2_P_COST
    {
        return false;
    }
    let (Some(salt), Some(expected)) = (parsed.salt, parsed.hash) else {
        return false;
    };
    let mut salt_buf = [0u8; 64];
    let Ok(salt) = salt.decode_b64(&mut salt_buf) else {
        return false;
    };
    let expected = expected.as_bytes();
    let Ok(params) = argon2::Params::new(
        params.m_cost(),
        params.t_cost(),
        params.p_cost(),
        Some(expected.len()),
    ) else {
        return false;
    };
    let mut actual = vec![0u8; expected.len()];
    let hasher = argon2::Argon2::new(algorithm, version, params);
    if hasher
        .hash_password_into(presented, salt, &mut actual)
        .is_err()
    {
        return false;
    }
    bool::from(actual.as_slice().ct_eq(expected))
}

/// Fills a fresh salt from the operating system's RNG.
fn random_salt<const N: usize>() -> Result<[u8; N], PasswordError> {
    let mut salt = [0u8; N];
    OsRng
        .try_fill_bytes(&mut salt)
        .map_err(|e| PasswordError::Random(e.to_string()))?;
    Ok(salt)
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
    if hash.is_empty() || !crypt_cost_ok(hash) {
        return false;
    }
    if let Some(ok) = verify_bigcrypt(hash, presented) {
        return ok;
    }
    std::panic::catch_unwind(|| pwhash::unix::verify(presented, hash)).unwrap_or(false)
}

/// The "bigcrypt" form of traditional DES crypt(3) (HP-UX; libxcrypt verifies it, and
/// Debian's `slappasswd -h {CRYPT}` writes it for passwords longer than 8 characters): a
/// 2-character salt, then one 11-character block per 8-character segment of the password,
/// each block the DES crypt (pwhash's `unix_crypt`) of its segment salted with the first
/// two characters of the block before it. None when `hash` is not of that shape (then it
/// is a plain crypt(3) string); otherwise whether `presented` recomputes it, compared in
/// constant time.
fn verify_bigcrypt(hash: &str, presented: &[u8]) -> Option<bool> {
    let crypt64 = |b: u8| b.is_ascii_alphanumeric() || b == b'.' || b == b'/';
    if hash.len() < 24 || !(hash.len() - 2).is_multiple_of(11) || !hash.bytes().all(crypt64) {
        return None;
    }
    let segments: Vec<&[u8]> = if presented.is_empty() {
        vec![presented]
    } else {
        presented.chunks(8).collect()
    };
    if segments.len() != (hash.len() - 2) / 11 {
        return Some(false);
    }
    let mut salt = hash.get(..2)?.to_string();
    let mut out = salt.clone();
    for seg in segments {
        // Deprecated for new passwords; here it only verifies stored ones.
        #[allow(deprecated)]
        let one = std::panic::catch_unwind(|| pwhash::unix_crypt::hash_with(&salt, seg))
            .ok()?
            .ok()?;
        let block = one.get(2..)?;
        out.push_str(block);
        salt = block.get(..2)?.to_string();
    }
    Some(bool::from(out.as_bytes().ct_eq(hash.as_bytes())))
}

/// The most rounds a `{CRYPT}` SHA-crypt value (`$5$` / `$6$rounds=N$`) may ask for.
/// A stored value is data a user may write (their own userPassword), and every bind
/// against it pays the rounds: 999,999,999 rounds took 7 minutes of CPU per bind. The
/// cap is 200 × glibc's default of 5,000.
pub const MAX_SHA_CRYPT_ROUNDS: u64 = 1_000_000;

/// The highest bcrypt cost (`$2b$NN$`: 2^NN rounds) a `{CRYPT}` value may ask for; 16
/// takes seconds per bind, each step doubles it.
pub const MAX_BCRYPT_COST: u32 = 16;

/// Whether a crypt(3) string's cost is within [`MAX_SHA_CRYPT_ROUNDS`] and
/// [`MAX_BCRYPT_COST`] (other formats have fixed costs).
fn crypt_cost_ok(hash: &str) -> bool {
    if let Some(rest) = hash
        .strip_prefix("$5$")
        .or_else(|| hash.strip_prefix("$6$"))
    {
        return match rest.strip_prefix("rounds=") {
            Some(r) => r
                .split('$')
                .next()
                .and_then(|n| n.parse::<u64>().ok())
                .is_some_and(|n| n <= MAX_SHA_CRYPT_ROUNDS),
            None => true,
        };
    }
    for prefix in ["$2a$", "$2b$", "$2x$", "$2y$"] {
        if let Some(rest) = hash.strip_prefix(prefix) {
            return rest
                .split('$')
                .next()
                .and_then(|n| n.parse::<u32>().ok())
                .is_some_and(|n| n <= MAX_BCRYPT_COST);
        }
    }
    true
}

/// Whether verifying against `stored` takes microseconds rather than milliseconds: no
/// scheme, `{CLEARTEXT}`, or a (salted) digest. `{PBKDF2*}`, `{ARGON2}` and `{CRYPT}`
/// (bcrypt, sha512-crypt...) are deliberately slow; unknown schemes never match but count
/// as cheap.
pub fn is_cheap(stored: &[u8]) -> bool {
    match split_scheme(stored) {
        None => true,
        Some((name, _)) => !matches!(
            Scheme::from_name(name),
            Some(Scheme::Crypt | Scheme::Pbkdf2(_) | Scheme::Argon2)
        ),
    }
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
        Some(Scheme::Pbkdf2(algo)) => verify_pbkdf2(algo, payload, presented),
        Some(Scheme::Argon2) => verify_argon2(payload, presented),
        None => false,
    }
}

/// Hashes `password` for storage in `userPassword`, producing the value slapd
/// would store for the `password-hash` scheme `scheme` (slapd.conf(5)).
///
/// Supported: `{SSHA}` ([`DEFAULT_SCHEME`]), `{SSHA256}`, `{SSHA512}`,
/// `{SHA}`, `{SHA256}`, `{SHA512}`, `{SMD5}`, `{MD5}`, `{PBKDF2-SHA512}`,
/// `{PBKDF2-SHA256}`, `{PBKDF2-SHA1}`, `{PBKDF2}` ([`PBKDF2_ITERATIONS`],
/// [`PBKDF2_SALT_LEN`]), `{ARGON2}` (argon2id, [`ARGON2_M_COST`],
/// [`ARGON2_T_COST`], one lane) and `{CLEARTEXT}`;
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
    let name = scheme_name(scheme);
    let unsupported = || PasswordError::UnsupportedScheme(scheme.to_owned());
    match Scheme::from_name(name).ok_or_else(unsupported)? {
        Scheme::Cleartext => {
            String::from_utf8(password.to_vec()).map_err(|_| PasswordError::NotUtf8)
        }
        Scheme::Crypt => Err(unsupported()),
        Scheme::Pbkdf2(algo) => {
            let salt = random_salt::<PBKDF2_SALT_LEN>()?;
            let mut dk = vec![0u8; algo.output_len()];
            pbkdf2_derive(algo, password, &salt, PBKDF2_ITERATIONS, &mut dk);
            Ok(format!(
                "{{{}}}{PBKDF2_ITERATIONS}${}${}",
                name.to_ascii_uppercase(),
                ab64_encode(&salt),
                ab64_encode(&dk)
            ))
        }
        Scheme::Argon2 => {
            use argon2::password_hash::{PasswordHasher, SaltString};
            let salt = random_salt::<ARGON2_SALT_LEN>()?;
            let salt =
                SaltString::encode_b64(&salt).map_err(|e| PasswordError::Argon2(e.to_string()))?;
            let params =
                argon2::Params::new(ARGON2_M_COST, ARGON2_T_COST, 1, Some(ARGON2_HASH_LEN))
                    .map_err(|e| PasswordError::Argon2(e.to_string()))?;
            let hasher =
                argon2::Argon2::new(argon2::Algorithm::Argon2id, argon2::Version::V0x13, params);
            let phc = hasher
                .hash_password(password, &salt)
                .map_err(|e| PasswordError::Argon2(e.to_string()))?;
            Ok(format!("{{ARGON2}}{phc}"))
        }
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
        // bigcrypt, as `slappasswd -h {CRYPT} -s longpassword1` wrote it (libxcrypt).
        ("{CRYPT}5e0QMl1dHz4DofZZvvRHP7uo", "longpassword1"),
        // openssl passwd -6 -salt abcdefgh secret
        (
            "{CRYPT}$6$abcdefgh$ltjgWl6579NluT/Vi1nwEvcil.G5Nbc4NiXZaNGStk8PSwGfQv72N2CKPPrVACtLtip/cZ/1GM/O6IND4WQhG.",
            "secret",
        ),
        ("secret", "secret"),
        ("{CLEARTEXT}secret", "secret"),
        // Python: hashlib.pbkdf2_hmac("sha512", b"secret", b"0123456789abcdef", 1000),
        // written in adapted base64 as pw-pbkdf2 does.
        (
            "{PBKDF2-SHA512}1000$MDEyMzQ1Njc4OWFiY2RlZg$vgFvU7zWIDgDAUi7d8ayt.cfRiPWVVWfv8iQRsGZaZviWzsSNgWYXEE5PmvI/VELMsOmEbqLz0PKuePNjOk41A",
            "secret",
        ),
        (
            "{PBKDF2-SHA256}1000$MDEyMzQ1Njc4OWFiY2RlZg$tiKWHy4FAGCWE8gn6GtKhaxD2OeeAUUWXFT/p1aaNl8",
            "secret",
        ),
        (
            "{PBKDF2}1000$MDEyMzQ1Njc4OWFiY2RlZg$21EupWTmSOvnK3Sp99FL7THUyuQ",
            "secret",
        ),
        // Debian slapd 2.5: slappasswd -o module-load=argon2 -h '{ARGON2}' -s secret
        (
            "{ARGON2}$argon2i$v=19$m=4096,t=3,p=1$TcBYaswyzh4getqe0RO0rQ$Os0vJGiAu13KKeJhwjkbr0l2vWVdLv9fAUXI2Kv7I7M",
            "secret",
        ),
        // Debian slapd 2.5: slappasswd -h '{SSHA}' -s secret
        ("{SSHA}tnORsNYvnt0YtVWP/ZWxDoDO5BPngpbJ", "secret"),
        // Debian slapd 2.5: slappasswd -o module-load=pw-sha2 -h '{SSHA512}' -s secret
        (
            "{SSHA512}8X4/J3lrv/Ns+s4oRo92yB9scs/3E7d8WoMHIumBv+4lJPUTpxi65mAA2KkOYryfiNKf749UZ5D/IxpfSoW2n4vm2h0ZTgJX",
            "secret",
        ),
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
            "{PBKDF2-SHA512}",
            "{PBKDF2-SHA256}",
            "{PBKDF2}",
            "{ARGON2}",
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
    fn pbkdf2_and_argon2_formats_match_slapd_modules() {
        let p = hash("{PBKDF2-SHA512}", b"x").expect("hash");
        let rest = p.strip_prefix("{PBKDF2-SHA512}10000$").expect("prefix");
        let (salt, dk) = rest.split_once('$').expect("two fields");
        assert!(!p.contains(['+', '=']), "{p}");
        assert_eq!(ab64_decode(salt.as_bytes()).expect("salt").len(), 16);
        assert_eq!(ab64_decode(dk.as_bytes()).expect("dk").len(), 64);
        let a = hash("{ARGON2}", b"x").expect("hash");
        assert!(
            a.starts_with("{ARGON2}$argon2id$v=19$m=4096,t=3,p=1$"),
            "{a}"
        );
        // pw-pbkdf2 leaves a leading '+' unconverted; both spellings verify.
        let dot = "{PBKDF2-SHA256}1000$MDEyMzQ1Njc4OWFiY2RlZg$tiKWHy4FAGCWE8gn6GtKhaxD2OeeAUUWXFT/p1aaNl8";
        assert!(verify(dot.as_bytes(), b"secret"));
        assert!(is_hashed(a.as_bytes()) && is_hashed(p.as_bytes()));
        assert!(!is_hashed(b"secret") && !is_hashed(b"{CLEARTEXT}x") && !is_hashed(b"{X}y"));
        assert!(has_known_scheme(b"{CLEARTEXT}x") && has_known_scheme(a.as_bytes()));
        // {CRYPT} costs are capped: a value asking for more is refused before hashing.
        assert!(!crypt_cost_ok("$6$rounds=999999999$abc$def"));
        assert!(!crypt_cost_ok("$5$rounds=x$abc$def"));
        assert!(crypt_cost_ok("$6$rounds=5000$abc$def") && crypt_cost_ok("$6$abc$def"));
        assert!(!crypt_cost_ok("$2b$31$abcdefghijklmnopqrstuv") && crypt_cost_ok("$2b$10$x"));
        assert!(!verify(b"{CRYPT}$6$rounds=999999999$abc$def", b"pw"));
        assert!(!has_known_scheme(b"secret") && !has_known_scheme(b"{X}y"));
    }

    #[test]
    fn hostile_costs_are_refused_without_running() {
        // Costs above the bounds never match (and are not computed).
        assert!(!verify(
            b"{PBKDF2-SHA512}4000000000$MDEyMzQ1Njc4OWFiY2RlZg$vgFvU7zWIDgDAUi7d8ayt.cfRiPWVVWfv8iQRsGZaZviWzsSNgWYXEE5PmvI/VELMsOmEbqLz0PKuePNjOk41A",
            b"secret"
        ));
        assert!(!verify(
            b"{ARGON2}$argon2i$v=19$m=4194304,t=3,p=1$TcBYaswyzh4getqe0RO0rQ$Os0vJGiAu13KKeJhwjkbr0l2vWVdLv9fAUXI2Kv7I7M",
            b"secret"
        ));
        for bad in [
            &b"{PBKDF2-SHA512}0$AA$AA"[..],
            b"{PBKDF2-SHA512}x$AA$AA",
            b"{PBKDF2-SHA512}1000$$",
            b"{PBKDF2-SHA512}1000$MDEy$AAAA",
            b"{PBKDF2}1000$MDEy$AAAA$extra",
            b"{ARGON2}",
            b"{ARGON2}$argon2x$v=19$m=8,t=1,p=1$c2FsdHNhbHQ$AAAA",
            b"{ARGON2}$argon2id$v=99$m=8,t=1,p=1$c2FsdHNhbHQ$AAAAAAAA",
            b"{ARGON2}$argon2id$v=19$m=8,t=1,p=1$c2FsdHNhbHQ",
        ] {
            assert!(
                !verify(bad, b"secret"),
                "{:?}",
                String::from_utf8_lossy(bad)
            );
        }
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
