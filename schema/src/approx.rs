//! Approximate matching (`~=`, RFC 4511 §4.5.1.7.6) as slapd does it: a word-by-word
//! phonetic comparison.
//!
//! RFC 4511 §4.5.1.7.6 leaves the algorithm to the server ("an approxMatch filter is
//! evaluated ... using a locally-defined approximate matching algorithm"). slapd (OpenLDAP
//! 2.5, `servers/slapd/schema_init.c`) gives the four string equality rules an associated
//! approximate rule ([`ApproxRule::for_equality`]); an attribute takes the approximate
//! rule of its (declared or inherited) equality rule, and an attribute without one is
//! matched by its equality rule instead. This module owns that rule; it knows nothing of
//! filters, entries or storage.
//!
//! What slapd does, and so what this does (verified against Debian's slapd 2.5 by
//! `tests/approx_vs_slapd.rs`):
//! * **Folding** ([`approx_fold`]): the value is decomposed (Unicode NFKD) and everything
//!   that is not ASCII is dropped, so `Müller` reads `Muller` and `Ørsted` reads `rsted`.
//!   Runs of spaces collapse to one and the ends are trimmed *before* the dropping (slapd
//!   folds the equality-normalized value), so `a ø b` has three words, the middle one
//!   empty; the assertion value is folded before its spaces are collapsed.
//! * **Words**: the folded value is split at each space (slapd is built without
//!   `SLAPD_APPROX_INITIALS`, so `.` and `_` do not split and one-letter words get no
//!   special treatment); a NUL ends the value (slapd works on C strings).
//! * **Phonetic code** ([`phonetic`]): slapd's Metaphone variant (Lawrence Philips' 1990
//!   algorithm as modified at the University of Michigan), at most
//!   [`MAX_PHONEME_LEN`] characters, computed from the word's letters up to its first
//!   digit, punctuation, space or non-ASCII byte: `o'brien` codes as `o`, `3com` codes
//!   as the empty code.
//! * **Match** ([`ApproxAssertion::matches`]): every word of the assertion (empty words
//!   skipped) must have the code of some word of the value, in the same order, each
//!   value word used at most once; an assertion without words matches nothing. An
//!   assertion word with the empty code matches a value word with the empty code.
//!
//! Index keys ([`index_keys`], [`ApproxAssertion::index_keys`]) are the non-empty codes of
//! the words. slapd also looks the empty code up, which its indexer never stores, so a
//! slapd with an `approx` index finds nothing for `(sn~=9)` while one without finds
//! `3Com Systems`; here an assertion word with the empty code does not narrow the
//! candidates, so a search answers the same with or without the index.

use unicode_normalization::UnicodeNormalization;

use crate::matching::MatchingRule;

/// The longest phonetic code (slapd's `MAXPHONEMELEN`).
pub const MAX_PHONEME_LEN: usize = 4;

/// The most letters of a word the phonetic code looks at (slapd copies a word into a
/// 40-byte buffer holding at most 31 letters between its zero padding).
const MAX_WORD_LETTERS: usize = 31;

/// slapd's approximate matching rules, hidden from the subschema as slapd hides them
/// (`SLAP_MR_HIDE`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ApproxRule {
    /// `directoryStringApproxMatch` (1.3.6.1.4.1.4203.666.4.4), associated with
    /// caseIgnoreMatch and caseExactMatch.
    DirectoryString,
    /// `IA5StringApproxMatch` (1.3.6.1.4.1.4203.666.4.5), associated with
    /// caseIgnoreIA5Match and caseExactIA5Match.
    Ia5String,
}

impl ApproxRule {
    /// The approximate rule slapd associates with the equality rule `equality`
    /// (`schema_init.c` `mrule_defs`: the last field of the four string equality rules;
    /// `at.c` sets an attribute's `sat_approx` from its equality rule). None for every
    /// other rule: an approximate filter on such an attribute uses the equality rule.
    pub fn for_equality(equality: &MatchingRule) -> Option<ApproxRule> {
        match equality.oid {
            // caseIgnoreMatch, caseExactMatch
            "2.5.13.2" | "2.5.13.5" => Some(ApproxRule::DirectoryString),
            // caseExactIA5Match, caseIgnoreIA5Match
            "1.3.6.1.4.1.1466.109.114.1" | "1.3.6.1.4.1.1466.109.114.2" => {
                Some(ApproxRule::Ia5String)
            }
            _ => None,
        }
    }

    /// The rule's OID.
    pub fn oid(self) -> &'static str {
        match self {
            ApproxRule::DirectoryString => "1.3.6.1.4.1.4203.666.4.4",
            ApproxRule::Ia5String => "1.3.6.1.4.1.4203.666.4.5",
        }
    }

    /// The rule's name.
    pub fn name(self) -> &'static str {
        match self {
            ApproxRule::DirectoryString => "directoryStringApproxMatch",
            ApproxRule::Ia5String => "IA5StringApproxMatch",
        }
    }
}

/// A value folded for approximate matching: NFKD, runs of spaces collapsed to one and
/// the ends trimmed (a value of spaces only stays one space, as slapd's
/// `UTF8StringNormalize`), then every non-ASCII character dropped (slapd's
/// `UTF8bvnormalize` with `LDAP_UTF8_APPROX`). Case is kept: [`phonetic`] ignores it.
pub fn approx_fold(value: &str) -> String {
    if value.is_ascii() {
        // ASCII is its own decomposition and nothing is dropped: only the spaces change.
        let mut out = String::with_capacity(value.len());
        let mut space = false;
        for c in value.chars() {
            if c == ' ' {
                space = !out.is_empty();
                continue;
            }
            if space {
                out.push(' ');
                space = false;
            }
            out.push(c);
        }
        if out.is_empty() && !value.is_empty() {
            out.push(' ');
        }
        return out;
    }
    fold_unicode(value)
}

/// [`approx_fold`] for any value: decomposed character by character.
fn fold_unicode(value: &str) -> String {
    let mut collapsed: Vec<char> = Vec::with_capacity(value.len());
    let mut any = false;
    // A space seen after some non-space, written before the next non-space.
    let mut space = false;
    for c in value.nfkd() {
        any = true;
        if c == ' ' {
            space = !collapsed.is_empty();
            continue;
        }
        if space {
            collapsed.push(' ');
            space = false;
        }
        collapsed.push(c);
    }
    if collapsed.is_empty() && any {
        return " ".to_string();
    }
    collapsed.into_iter().filter(char::is_ascii).collect()
}

/// The phonetic code of each word of a stored value, in order, empty words included (they
/// have the empty code). `value` is the raw value; bytes after a NUL are ignored.
pub fn value_codes(value: &str) -> Vec<String> {
    let value = value.split('\0').next().unwrap_or("");
    approx_fold(value).split(' ').map(phonetic).collect()
}

/// The approx index keys of one stored value: the non-empty codes of its non-empty words
/// (slapd's `approxIndexer`), possibly repeated.
pub fn index_keys(value: &str) -> Vec<String> {
    let value = value.split('\0').next().unwrap_or("");
    approx_fold(value)
        .split(' ')
        .filter(|w| !w.is_empty())
        .map(phonetic)
        .filter(|c| !c.is_empty())
        .collect()
}

/// A prepared approximate assertion: the phonetic codes of the assertion value's words.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApproxAssertion {
    /// One code per non-empty word of the folded assertion value, in order.
    codes: Vec<String>,
}

impl ApproxAssertion {
    /// Prepares the assertion value `value` (raw, as the filter carries it): folded as
    /// [`approx_fold`], split at spaces and NULs (slapd scans the assertion by length, so
    /// a NUL ends one word but not the value), empty words dropped.
    pub fn new(value: &str) -> ApproxAssertion {
        let codes = approx_fold(value)
            .split([' ', '\0'])
            .filter(|w| !w.is_empty())
            .map(phonetic)
            .collect();
        ApproxAssertion { codes }
    }

    /// Whether a value whose word codes are `value_codes` ([`value_codes`]) matches: the
    /// assertion has at least one word and each of its codes equals the code of a later
    /// word of the value than the previous one did (slapd's `approxMatch`).
    pub fn matches_codes(&self, value_codes: &[String]) -> bool {
        if self.codes.is_empty() {
            return false;
        }
        let mut rest = value_codes.iter();
        self.codes
            .iter()
            .all(|code| rest.by_ref().any(|vc| vc == code))
    }

    /// Whether the stored value `value` (raw) matches.
    pub fn matches(&self, value: &str) -> bool {
        !self.codes.is_empty() && self.matches_codes(&value_codes(value))
    }

    /// The index keys a matching value must carry: the non-empty codes, deduplicated.
    /// An empty list with [`ApproxAssertion::has_words`] true means the index cannot
    /// narrow the candidates (every word has the empty code, which no value is indexed
    /// under).
    pub fn index_keys(&self) -> Vec<&str> {
        let mut keys: Vec<&str> = self
            .codes
            .iter()
            .map(String::as_str)
            .filter(|c| !c.is_empty())
            .collect();
        keys.sort_unstable();
        keys.dedup();
        keys
    }

    /// Whether the assertion has any word (one without matches nothing).
    pub fn has_words(&self) -> bool {
        !self.codes.is_empty()
    }
}

/// Whether slapd's phonetic code ends a word at byte `b` (its `iswordbreak`: non-ASCII,
/// C `isspace`, `ispunct` or `isdigit`, or NUL).
fn is_word_break(b: u8) -> bool {
    !b.is_ascii()
        || matches!(b, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r')
        || b.is_ascii_punctuation()
        || b.is_ascii_digit()
        || b == 0
}

/// A, E, I, O, U.
fn vowel(c: u8) -> bool {
    matches!(c, b'A' | b'E' | b'I' | b'O' | b'U')
}

/// Letters coded as themselves: F, J, L, M, N, R.
fn same(c: u8) -> bool {
    matches!(c, b'F' | b'J' | b'L' | b'M' | b'N' | b'R')
}

/// Letters that silence a following H: C, G, P, S, T.
fn varson(c: u8) -> bool {
    matches!(c, b'C' | b'G' | b'P' | b'S' | b'T')
}

/// Front vowels, which soften C and G: E, I, Y.
fn frontv(c: u8) -> bool {
    matches!(c, b'E' | b'I' | b'Y')
}

/// Letters before which GH is silent rather than F: B, D, H.
fn noghf(c: u8) -> bool {
    matches!(c, b'B' | b'D' | b'H')
}

/// Zero bytes before and after the letters, so the rules can look four letters back and
/// three ahead without bounds checks failing (out-of-range reads are zero, as in slapd).
const PAD: usize = 4;

/// The phonetic code of a word, as slapd's `phonetic()` (Metaphone, `SLAPD_METAPHONE`):
/// at most [`MAX_PHONEME_LEN`] upper-case letters (or `0` for TH), empty when the word
/// starts with a word break (see [`is_word_break`]).
///
/// The word's letters are read up to the first word break (other bytes, ASCII control
/// characters, are skipped), upper-cased, at most 31 of them. Then, after the initial
/// rules (PN, KN, GN, AE and WR lose their first letter, WH its H, an initial X reads S),
/// each letter is coded in turn; a letter equal to the one before is skipped unless it is
/// C. Notable rules, kept as slapd has them since matching depends on them: a B is coded
/// only as the last letter and not after M (so `Robert` codes `RRT`); an initial vowel is
/// coded, later ones are not; X codes KS (the S takes the place of the next letter's
/// code).
pub fn phonetic(word: &str) -> String {
    let mut buf: Vec<u8> = vec![0; PAD];
    for &b in word.as_bytes() {
        if is_word_break(b) || buf.len() - PAD == MAX_WORD_LETTERS {
            break;
        }
        if b.is_ascii_alphabetic() {
            buf.push(b.to_ascii_uppercase());
        }
    }
    let end = buf.len();
    if end == PAD {
        return String::new();
    }
    buf.extend_from_slice(&[0; PAD]);
    let at = |buf: &[u8], i: usize| buf.get(i).copied().unwrap_or(0);

    // Initial letter combinations.
    let mut start = PAD;
    match (at(&buf, start), at(&buf, start + 1)) {
        (b'P' | b'K' | b'G', b'N') | (b'A', b'E') | (b'W', b'R') => {
            set(&mut buf, start, 0);
            start += 1;
        }
        (b'W', b'H') => {
            set(&mut buf, start + 1, b'W');
            set(&mut buf, start, 0);
            start += 1;
        }
        (b'X', _) => set(&mut buf, start, b'S'),
        _ => {}
    }

    let mut code = String::with_capacity(MAX_PHONEME_LEN);
    let mut ks = false;
    let mut n = start;
    // `n == end` reads the zero after the last letter: it codes nothing but lets a
    // pending S of a final X out.
    while n <= end && code.len() < MAX_PHONEME_LEN {
        let (prev, c) = (at(&buf, n - 1), at(&buf, n));
        let (next, next2, next3) = (at(&buf, n + 1), at(&buf, n + 2), at(&buf, n + 3));
        let pos = n;
        n += 1;
        if ks {
            ks = false;
            code.push('S');
            continue;
        }
        if prev == c && c != b'C' {
            continue;
        }
        if same(c) || (pos == start && vowel(c)) {
            code.push(char::from(c));
            continue;
        }
        let out: Option<u8> = match c {
            // B unless after M; slapd codes it only as the last letter.
            b'B' => (pos + 1 == end && prev != b'M').then_some(b'B'),
            // X in -CIA- and -CH-, S in -CI-, -CE-, -CY-, dropped in -SCI-, -SCE-, -SCY-,
            // else K (K in SCH- and in an initial CH before a consonant).
            b'C' => {
                if prev != b'S' || !frontv(next) {
                    Some(if next == b'I' && next2 == b'A' {
                        b'X'
                    } else if frontv(next) {
                        b'S'
                    } else if next == b'H' {
                        if (pos == start && !vowel(next2)) || prev == b'S' {
                            b'K'
                        } else {
                            b'X'
                        }
                    } else {
                        b'K'
                    })
                } else {
                    None
                }
            }
            // J in -DGE-, -DGI-, -DGY-, else T.
            b'D' => Some(if next == b'G' && frontv(next2) {
                b'J'
            } else {
                b'T'
            }),
            // Dropped in -GN(ED) and -DGE-; J-like G before a front vowel (K in -GG-),
            // else K; F in -GH- unless B, D or H three letters back or H four back.
            b'G' => {
                let spoken = (next != b'J' || vowel(next2))
                    && (next != b'N' || (pos + 1 < end && (next2 != b'E' || next3 != b'D')))
                    && (prev != b'D' || !frontv(next));
                if spoken {
                    Some(if frontv(next) && next2 != b'G' {
                        b'G'
                    } else {
                        b'K'
                    })
                } else if next == b'H'
                    && !noghf(at(&buf, pos.saturating_sub(3)))
                    && at(&buf, pos.saturating_sub(4)) != b'H'
                {
                    Some(b'F')
                } else {
                    None
                }
            }
            // H unless after C, G, P, S, T, or after a vowel and before a consonant.
            b'H' => (!varson(prev) && (!vowel(prev) || vowel(next))).then_some(b'H'),
            b'K' => (prev != b'C').then_some(b'K'),
            b'P' => Some(if next == b'H' { b'F' } else { b'P' }),
            b'Q' => Some(b'K'),
            // X in -SH-, -SIO-, -SIA-.
            b'S' => Some(
                if next == b'H' || (next == b'I' && (next2 == b'O' || next2 == b'A')) {
                    b'X'
                } else {
                    b'S'
                },
            ),
            // X in -TIA-, -TIO-, 0 (zero) in -TH-, dropped in -TCH-.
            b'T' => {
                if next == b'I' && (next2 == b'O' || next2 == b'A') {
                    Some(b'X')
                } else if next == b'H' {
                    Some(b'0')
                } else if next != b'C' || next2 != b'H' {
                    Some(b'T')
                } else {
                    None
                }
            }
            b'V' => Some(b'F'),
            // W and Y before a vowel.
            b'W' | b'Y' => vowel(next).then_some(c),
            b'X' => {
                if pos == start {
                    Some(b'S')
                } else {
                    ks = true;
                    Some(b'K')
                }
            }
            b'Z' => Some(b'S'),
            _ => None,
        };
        if let Some(o) = out {
            code.push(char::from(o));
        }
    }
    code
}

/// `buf[i] = b` where `i` is in range (it always is: `i` indexes a letter).
fn set(buf: &mut [u8], i: usize, b: u8) {
    if let Some(x) = buf.get_mut(i) {
        *x = b;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Codes checked against slapd's answers (a value matches an assertion of one word
    /// iff some word has the same code).
    #[test]
    fn phonetic_codes() {
        for (word, code) in [
            ("robert", "RRT"),
            ("rort", "RRT"),
            ("rupert", "RPRT"),
            ("smith", "SM0"),
            ("smyth", "SM0"),
            ("bob", "B"),
            ("b", "B"),
            ("x", "S"),
            ("zzz", "S"),
            ("xavier", "SFR"),
            ("savier", "SFR"),
            ("knight", "NKT"),
            ("nite", "NT"),
            ("thomas", "0MS"),
            ("tomas", "TMS"),
            ("muller", "MLR"),
            ("mueller", "MLR"),
            ("o'brien", "O"),
            ("3com", ""),
            ("", ""),
            ("white", "WT"),
            ("axe", "AKS"),
            ("max", "MKS"),
            ("jones-smith", "JNS"),
        ] {
            assert_eq!(phonetic(word), code, "{word}");
        }
    }

    #[test]
    fn folding_drops_non_ascii_after_collapsing_spaces() {
        assert_eq!(approx_fold("Müller"), "Muller");
        assert_eq!(approx_fold("Ørsted"), "rsted");
        assert_eq!(approx_fold("  a  ø   b "), "a  b");
        assert_eq!(approx_fold("   "), " ");
        assert_eq!(approx_fold(""), "");
        assert_eq!(value_codes("a ø b"), ["A", "", "B"]);
        assert_eq!(value_codes("ø"), [""]);
        assert_eq!(index_keys("a ø b 3com"), ["A", "B"]);
    }

    #[test]
    fn the_ascii_fold_is_the_unicode_fold() {
        for v in [
            "",
            " ",
            "   ",
            "a",
            " a  b ",
            "John  Smith",
            "x\ty  z",
            "  .  ",
            "a\0b",
        ] {
            assert_eq!(approx_fold(v), fold_unicode(v), "{v:?}");
        }
    }

    #[test]
    fn words_match_in_order() {
        let m = |a: &str, v: &str| ApproxAssertion::new(a).matches(v);
        assert!(m("smith", "John Smyth"));
        assert!(m("jon smith", "John Smyth"));
        assert!(!m("smith john", "John Smith"));
        assert!(m("9", "3com systems"));
        assert!(m("9", "a ø b"));
        assert!(!m("ø", "a ø b"));
        assert!(!m("   ", "a b"));
        assert!(m("j", "j.smith"));
        assert!(!m("j smith", "j.smith"));
        assert!(!m("smith smith", "john smith"));
        assert!(m("smith smith", "smith smyth"));
    }

    #[test]
    fn rules_follow_the_equality_rule() {
        let rule = |n| crate::matching::matching_rule(n).expect("known rule");
        assert_eq!(
            ApproxRule::for_equality(rule("caseIgnoreMatch")),
            Some(ApproxRule::DirectoryString)
        );
        assert_eq!(
            ApproxRule::for_equality(rule("caseIgnoreIA5Match")),
            Some(ApproxRule::Ia5String)
        );
        assert_eq!(ApproxRule::for_equality(rule("telephoneNumberMatch")), None);
    }
}
