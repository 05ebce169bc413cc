//! Value validators for LDAP syntaxes (RFC 4517 §3.3) that need no schema lookups.
//!
//! Each validator answers exactly what OpenLDAP slapd 2.5 answers (checked against a running
//! slapd 2.5.13), which in a few places is more lenient than the RFC grammar; every such
//! place is noted on the function. Validators never panic and return a short reason on
//! failure; [`crate::Schema::validate_value`] turns it into invalidAttributeSyntax (21).

use crate::matching::normalize_generalized_time;

/// The result of a validator: `Err` carries why the value was refused.
pub(crate) type Check = Result<(), &'static str>;

/// RFC 4517 §3.2 PrintableCharacter: `ALPHA / DIGIT / SQUOTE / LPAREN / RPAREN / PLUS /
/// COMMA / HYPHEN / DOT / EQUALS / SLASH / COLON / QUESTION / SPACE`.
pub(crate) fn is_printable_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b" '()+,-./:?=".contains(&b)
}

/// Printable String (RFC 4517 §3.3.29): `PrintableString = 1*PrintableCharacter`.
pub(crate) fn printable_string(v: &[u8]) -> Check {
    if !v.is_empty() && v.iter().all(|&b| is_printable_char(b)) {
        Ok(())
    } else {
        Err("not a printable string")
    }
}

/// Telephone Number (RFC 4517 §3.3.31): a non-empty PrintableString (slapd checks nothing
/// beyond that, e.g. `a=b` is accepted).
pub(crate) fn telephone_number(v: &[u8]) -> Check {
    printable_string(v).map_err(|_| "a telephone number is a non-empty printable string")
}

/// Country String (RFC 4517 §3.3.4): exactly two PrintableCharacters. Like slapd, case is
/// not checked (`de` is accepted) and neither is the ISO 3166 code list.
pub(crate) fn country_string(v: &[u8]) -> Check {
    if v.len() == 2 && v.iter().all(|&b| is_printable_char(b)) {
        Ok(())
    } else {
        Err("a country string is two printable characters")
    }
}

/// Numeric String (RFC 4517 §3.3.23): `NumericString = 1*(DIGIT / SPACE)`.
pub(crate) fn numeric_string(v: &[u8]) -> Check {
    if !v.is_empty() && v.iter().all(|&b| b.is_ascii_digit() || b == b' ') {
        Ok(())
    } else {
        Err("a numeric string has only digits and spaces")
    }
}

/// IA5 String (RFC 4517 §3.3.15): `IA5String = *(%x00-7F)`; may be empty.
pub(crate) fn ia5_string(v: &[u8]) -> Check {
    if v.is_ascii() {
        Ok(())
    } else {
        Err("an IA5 string has only ASCII characters")
    }
}

/// Boolean (RFC 4517 §3.3.3): `Boolean = "TRUE" / "FALSE"`, exactly in upper case.
pub(crate) fn boolean(v: &[u8]) -> Check {
    match v {
        b"TRUE" | b"FALSE" => Ok(()),
        _ => Err("a boolean is TRUE or FALSE"),
    }
}

/// Integer (RFC 4517 §3.3.16): `Integer = ( HYPHEN LDIGIT *DIGIT ) / number`, where
/// `number = DIGIT / ( LDIGIT 1*DIGIT )` (RFC 4512 §1.4): no `+`, no spaces, no leading
/// zeros (`0` alone is fine, `007` and `-0` are not).
pub(crate) fn integer(v: &[u8]) -> Check {
    const BAD: &str = "an integer is '0' or an optional '-' and digits without leading zeros";
    let (neg, digits) = match v.strip_prefix(b"-") {
        Some(d) => (true, d),
        None => (false, v),
    };
    match digits {
        [] => Err(BAD),
        [b'0'] if !neg => Ok(()),
        [b'0', ..] => Err(BAD),
        d if d.iter().all(u8::is_ascii_digit) => Ok(()),
        _ => Err(BAD),
    }
}

/// The pdm keywords of Delivery Method (RFC 4517 §3.3.5). None is a prefix of another.
const PDMS: &[&[u8]] = &[
    b"any",
    b"mhs",
    b"physical",
    b"telex",
    b"teletex",
    b"g3fax",
    b"g4fax",
    b"ia5",
    b"videotex",
    b"telephone",
];

/// Delivery Method (RFC 4517 §3.3.5): `DeliveryMethod = pdm *( WSP DOLLAR WSP pdm )`,
/// `WSP = 0*SPACE`. Keywords compare ASCII case-insensitively, as in slapd. Spaces are
/// allowed only around `$` (slapd refuses leading and trailing spaces).
pub(crate) fn delivery_method(v: &[u8]) -> Check {
    const BAD: &str = "not a delivery method (pdm *( WSP \"$\" WSP pdm ))";
    let skip_spaces = |s: &[u8]| -> usize { s.iter().take_while(|&&b| b == b' ').count() };
    let mut rest = v;
    loop {
        let pdm = PDMS
            .iter()
            .find(|p| {
                rest.get(..p.len())
                    .is_some_and(|h| h.eq_ignore_ascii_case(p))
            })
            .ok_or(BAD)?;
        rest = rest.get(pdm.len()..).unwrap_or_default();
        if rest.is_empty() {
            return Ok(());
        }
        rest = rest.get(skip_spaces(rest)..).unwrap_or_default();
        rest = rest.strip_prefix(b"$").ok_or(BAD)?;
        rest = rest.get(skip_spaces(rest)..).unwrap_or_default();
    }
}

/// Postal Address (RFC 4517 §3.3.28): `PostalAddress = line *( DOLLAR line )`, UTF-8, where
/// a backslash may appear only in the escapes `\24` (`$`) and `\5C` (`\`), hex digits in
/// either case.
///
/// Like slapd 2.5 (and unlike the RFC's `line = 1*line-char`), empty lines and an empty
/// value are accepted: slapd answers success for `a$$b`, `a$` and `$`.
pub(crate) fn postal_address(v: &[u8]) -> Check {
    if std::str::from_utf8(v).is_err() {
        return Err("a postal address must be UTF-8");
    }
    let mut i = 0;
    while let Some(&b) = v.get(i) {
        if b == b'\\' {
            let esc = v.get(i + 1..i + 3).unwrap_or_default();
            if !(esc == b"24" || esc.eq_ignore_ascii_case(b"5C")) {
                return Err("in a postal address '\\' may only start \\24 or \\5C");
            }
            i += 3;
        } else {
            i += 1;
        }
    }
    Ok(())
}

/// Bit String (RFC 4517 §3.3.2): `BitString = SQUOTE *binary-digit SQUOTE "B"`.
pub(crate) fn bit_string(v: &[u8]) -> Check {
    let ok = v
        .strip_prefix(b"'")
        .and_then(|r| r.strip_suffix(b"'B"))
        .is_some_and(|bits| bits.iter().all(|&b| b == b'0' || b == b'1'));
    if ok {
        Ok(())
    } else {
        Err("a bit string looks like '0101'B")
    }
}

/// UUID (RFC 4530 §2.1): `UUID = hex-octet{4} "-" hex-octet{2} "-" hex-octet{2} "-"
/// hex-octet{2} "-" hex-octet{6}`, hex digits in either case.
pub(crate) fn uuid(v: &[u8]) -> Check {
    let ok = v.len() == 36
        && v.iter().enumerate().all(|(i, &b)| {
            if matches!(i, 8 | 13 | 18 | 23) {
                b == b'-'
            } else {
                b.is_ascii_hexdigit()
            }
        });
    if ok {
        Ok(())
    } else {
        Err("a UUID is 8-4-4-4-12 hexadecimal digits")
    }
}

/// Generalized Time (RFC 4517 §3.3.13):
/// `century year month day hour [ minute [ second / leap-second ] ] [ fraction ] g-time-zone`.
/// The date must exist and the time zone is required.
pub(crate) fn generalized_time(v: &[u8]) -> Check {
    let s = std::str::from_utf8(v).map_err(|_| "a GeneralizedTime is ASCII")?;
    normalize_generalized_time(s).map(|_| ())
}

/// UTC Time (RFC 4517 §3.3.34): `UTCTime = year month day hour minute [ second ]
/// [ u-time-zone ]`, `u-time-zone = "Z" / ( MINUS / PLUS ) hour minute`. Two-digit years;
/// no leap seconds; a year divisible by four is a leap year (slapd's rule for this
/// syntax). slapd 2.5 does not define this syntax by default; this follows the RFC and
/// slapd's `check_time_syntax`.
pub(crate) fn utc_time(v: &[u8]) -> Check {
    const BAD: &str = "not a UTCTime (YYmmddHHMM[SS][Z|+hhmm|-hhmm])";
    let two = |i: usize| -> Option<u32> {
        match v.get(i..i + 2)? {
            [a, b] if a.is_ascii_digit() && b.is_ascii_digit() => {
                Some(u32::from(a - b'0') * 10 + u32::from(b - b'0'))
            }
            _ => None,
        }
    };
    let year = two(0).ok_or(BAD)?;
    let month = two(2).ok_or(BAD)?;
    let day = two(4).ok_or(BAD)?;
    let hour = two(6).ok_or(BAD)?;
    let minute = two(8).ok_or(BAD)?;
    let mut i = 10;
    if let Some(sec) = two(i) {
        if sec > 59 {
            return Err(BAD);
        }
        i += 2;
    }
    let max_day = match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if year % 4 == 0 => 29,
        2 => 28,
        _ => return Err(BAD),
    };
    if day == 0 || day > max_day || hour > 23 || minute > 59 {
        return Err(BAD);
    }
    match v.get(i) {
        None => Ok(()),
        Some(b'Z') if i + 1 == v.len() => Ok(()),
        Some(b'+' | b'-') => match (two(i + 1), two(i + 3)) {
            (Some(hh), Some(mm)) if hh <= 23 && mm <= 59 && i + 5 == v.len() => Ok(()),
            _ => Err(BAD),
        },
        _ => Err(BAD),
    }
}

/// OID (RFC 4517 §3.3.26) as slapd 2.5 checks it for ordinary attribute types: a
/// `numericoid` (RFC 4512 §1.4), where slapd also accepts a single arc such as `1`. Arcs
/// have no leading zeros.
pub(crate) fn numeric_oid(v: &[u8]) -> Check {
    let ok = !v.is_empty()
        && v.split(|&b| b == b'.').all(|arc| match arc {
            [] => false,
            [b'0'] => true,
            [b'0', ..] => false,
            a => a.iter().all(u8::is_ascii_digit),
        });
    if ok {
        Ok(())
    } else {
        Err("not a numeric OID")
    }
}

fn all_hex(v: &[u8]) -> bool {
    v.iter().all(u8::is_ascii_hexdigit)
}

/// Splits `v` at its first three `#` into four fields; `None` if there are fewer.
fn csn_fields(v: &[u8]) -> Option<[&[u8]; 4]> {
    let mut it = v.splitn(4, |&b| b == b'#');
    Some([it.next()?, it.next()?, it.next()?, it.next()?])
}

/// slapd's `csnValidate`: `time#count#sid#mod` with a 22- or 15-character GeneralizedTime,
/// six hex digits of count, a two- or three-hex-digit sid and six hex digits of mod.
fn csn_strict(v: &[u8]) -> Check {
    const BAD: &str = "not a CSN (YYYYmmddHHMMSS.uuuuuuZ#hhhhhh#hhh#hhhhhh)";
    let [time, count, sid, modn] = csn_fields(v).ok_or(BAD)?;
    if !matches!(time.len(), 15 | 22) || generalized_time(time).is_err() {
        return Err(BAD);
    }
    let ok = count.len() == 6
        && all_hex(count)
        && matches!(sid.len(), 2 | 3)
        && all_hex(sid)
        && modn.len() == 6
        && all_hex(modn);
    if ok {
        Ok(())
    } else {
        Err(BAD)
    }
}

/// CSN (OpenLDAP syntax 1.3.6.1.4.1.4203.666.11.2.1, the change sequence numbers of
/// `entryCSN`/`contextCSN`, draft-ietf-ldup-model): `YYYYmmddHHMMSS.uuuuuuZ#hhhhhh#hhh#hhhhhh`.
///
/// This is what slapd 2.5 enforces, through its `csnNormalize`:
/// * the current 40-character form is checked only for the positions of its `#`
///   separators (22, 6, 3 and 6 characters; slapd assumes the rest is valid);
/// * the OpenLDAP 2.3 form `YYYYmmddHHMMSSZ#hhhhhh#hh#hhhhhh` (32 characters) is converted
///   to the current form and then fully checked (real time, hex fields);
/// * anything else is refused.
pub(crate) fn csn(v: &[u8]) -> Check {
    const BAD: &str = "not a CSN (YYYYmmddHHMMSS.uuuuuuZ#hhhhhh#hhh#hhhhhh)";
    let [time, count, sid, modn] = csn_fields(v).ok_or(BAD)?;
    match (v.len(), time.len(), count.len(), sid.len(), modn.len()) {
        (40, 22, 6, 3, 6) => Ok(()),
        (32, 15, 6, 2, 6) => {
            let mut conv = Vec::with_capacity(40);
            conv.extend_from_slice(time.get(..14).unwrap_or_default());
            conv.extend_from_slice(b".000000Z#");
            conv.extend_from_slice(count);
            conv.extend_from_slice(b"#0");
            conv.extend(sid.iter().map(u8::to_ascii_lowercase));
            conv.push(b'#');
            conv.extend(modn.iter().map(u8::to_ascii_lowercase));
            csn_strict(&conv)
        }
        _ => Err(BAD),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(f: fn(&[u8]) -> Check, good: &[&str], bad: &[&[u8]]) {
        for g in good {
            assert_eq!(f(g.as_bytes()), Ok(()), "{g:?} should be valid");
        }
        for b in bad {
            assert!(
                f(b).is_err(),
                "{:?} should be invalid",
                String::from_utf8_lossy(b)
            );
        }
    }

    #[test]
    fn printable_and_telephone() {
        let good = &["a", " ", "+1 (555) 123-4567", "a=b", "It's a/b:c?d,e."];
        let bad: &[&[u8]] = &[b"", "+1 555 é".as_bytes(), b"a*", b"a@b", b"a\tb", b"\xff"];
        table(printable_string, good, bad);
        table(telephone_number, good, bad);
    }

    #[test]
    fn country() {
        table(
            country_string,
            &["DE", "de", "  "],
            &[b"D", b"DEU", b"D*", b"", "Ä1".as_bytes()],
        );
    }

    #[test]
    fn numeric_ia5_boolean() {
        table(numeric_string, &["1", " ", "1 2"], &[b"", b"1a", b"1-2"]);
        table(
            ia5_string,
            &["", "abc", "a\x00b"],
            &["ä".as_bytes(), b"\x80"],
        );
        table(
            boolean,
            &["TRUE", "FALSE"],
            &[b"true", b" TRUE", b"TRUE ", b"", b"1"],
        );
    }

    #[test]
    fn integers() {
        table(
            integer,
            &[
                "0",
                "7",
                "-12",
                "1000",
                "-1",
                "123456789012345678901234567890",
            ],
            &[
                b"", b"-", b"007", b"00", b"-0", b"-01", b"+5", b" 5", b"5 ", b"1a", b"--1", b"1.0",
            ],
        );
    }

    #[test]
    fn delivery_methods() {
        table(
            delivery_method,
            &[
                "any",
                "ANY $ mhs",
                "any  $  mhs",
                "telex$teletex$telephone$g3fax$G4FAX$ia5$videotex$physical",
            ],
            &[
                b"pigeon",
                b"",
                b"any$",
                b" any",
                b"any ",
                b"any $mhs ",
                b"any\t$mhs",
                b"any mhs",
                b"anyx",
                b"telexx",
                b"any$$mhs",
                b"$any",
            ],
        );
    }

    #[test]
    fn postal_addresses() {
        table(
            postal_address,
            &[
                "1 Main St$Springfield",
                "a\\5c$b\\24",
                "a\\5Cb",
                "x\\245",
                "a$$b",
                "$",
                "a$",
                "",
                "   ",
                "Straße 1$Köln",
            ],
            &[
                b"1 Main St\\x$Springfield",
                b"a\\",
                b"a\\5",
                b"a\\\\",
                b"a\\2",
                b"\xff",
            ],
        );
    }

    #[test]
    fn bits_and_uuids() {
        table(
            bit_string,
            &["''B", "'0101'B"],
            &[b"'012'B", b"'01'b", b"0101", b"'01'", b"'B", b""],
        );
        table(
            uuid,
            &[
                "597ae2f6-16a6-1027-98f4-abcdefabcdef",
                "597AE2F6-16A6-1027-98F4-ABCDEFABCDEF",
            ],
            &[
                b"597ae2f6-16a6-1027-98f4-abcdefabcde",
                b"597ae2f616a6-1027-98f4-abcdefabcdefg",
                b"597ae2f6-16a6-1027-98f4-abcdefabcdeg",
                b"",
            ],
        );
    }

    #[test]
    fn times() {
        table(
            generalized_time,
            &[
                "2024010203Z",
                "202401020304Z",
                "20240102030405Z",
                "20240102030405.123Z",
                "2024010203.5Z",
                "20240102030460Z",
                "20240229000000Z",
                "20240102030405+01",
                "20240102030405+0100",
                "202401020304,5+0130",
            ],
            &[
                b"20230229000000Z",
                b"20240102030405",
                b"20240102030405+2400",
                b"20240102030405.Z",
                b"2024",
                b"99991231230000-0100",
                b"00000101000000+0100",
                b"20240102030405z",
                b"\xff",
            ],
        );
        table(
            utc_time,
            &[
                "2401020304Z",
                "240102030405Z",
                "2401020304",
                "240102030405+0100",
                "240229000000Z",
                "000229000000Z",
            ],
            &[
                b"230229000000Z",
                b"2401020304+01",
                b"240102030460Z",
                b"2413020304Z",
                b"2401320304Z",
                b"2401022404Z",
                b"240102030405Zx",
                b"240102030405+2400",
                b"24010203",
                b"20240102030405Z",
                b"",
            ],
        );
    }

    #[test]
    fn oids() {
        table(
            numeric_oid,
            &[
                "1",
                "0.0",
                "2.5.4.3",
                "1.0",
                "1.3.6.1.4.1.1466.115.121.1.38",
            ],
            &[
                b"", b"cn", b"person", b"01", b"00.1", b"1.", b".1", b"1..2", b"1.2.03", b"a b",
            ],
        );
    }

    #[test]
    fn csns() {
        table(
            csn,
            &[
                "20240101000000.000000Z#000000#000#000000",
                "20240101000000.000000Z#ABCDEF#FFF#abcdef",
                // slapd checks only the field lengths of the current form.
                "20241301000000.000000Z#00000g#000#000000",
                "20240101000000.000000Z#000000#000#0000#0",
                // The OpenLDAP 2.3 form, converted and then fully checked.
                "20240101000000Z#000000#00#000000",
                "20240101000000X#ABCDEF#FF#000000",
                "20240101000060Z#000000#00#000000",
            ],
            &[
                b"20240101000000Z#000000#000#000000",
                b"20240101000000.000000Z#000000#00#000000",
                b"20240101000000.000000Z#000000#0000#000000",
                b"20240101000000.00000Z#000000#000#000000",
                b"20240101000000.000000Z#000000#000#0000000",
                b"20240101000000.000000Z#000000#000",
                b"20240101000000.000000Z#000000#000#000000#",
                b"20240101000000.000000Z#000000##000000",
                b"#000000#000#000000",
                b"20241301000000Z#000000#00#000000",
                b"20240101000000Z#zzzzzz#00#000000",
                b"20240101000000Z#000000#zz#000000",
                b"20240101000000Z#000000#00#zzzzzz",
                b"2024010100000aZ#000000#00#000000",
                b"20240101000000Z#000000#00#0000#0",
                b"2024010100:00:00Z#0x0000#1#0x0000",
                b"",
            ],
        );
    }

    proptest::proptest! {
        #[test]
        fn validators_never_panic(v in proptest::collection::vec(proptest::num::u8::ANY, 0..48)) {
            for f in [
                printable_string, telephone_number, country_string, numeric_string, ia5_string,
                boolean, integer, delivery_method, postal_address, bit_string, uuid,
                generalized_time, utc_time, numeric_oid, csn,
            ] {
                let _ = f(&v);
            }
        }
    }
}
