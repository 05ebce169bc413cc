//! LDIF (RFC 2849): a streaming reader of content and change records, and an entry writer.
//!
//! `attr:< file:///path` values are read from the local file, `file:name` and
//! `file:./name` relative to the current directory as slapadd reads them (RFC 2849; other
//! URL schemes are refused). Not supported (reported as [`LdifError`]): `control:` lines.

use crate::dn::{Dn, Rdn};
use crate::entry::{Attribute, Entry};
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use base64::Engine;
use std::io::{self, BufRead, Write};

/// Base64 (RFC 2849 §"BASE64-STRING", the RFC 4648 standard alphabet), tolerating
/// missing padding when decoding.
const B64: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// The longest line [`write_entry`] writes before folding (RFC 2849 note 2 suggests 76).
const FOLD_AT: usize = 76;

/// A problem reading LDIF: the 1-based line where the record or the problem starts.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {reason}")]
pub struct LdifError {
    /// 1-based physical line number.
    pub line: usize,
    /// 1-based line where the record holding the problem starts (its `dn:` line), which
    /// is what slapadd reports (`could not parse entry (line=N)`); `line` when the
    /// problem is not inside a record.
    pub record: usize,
    /// What is wrong.
    pub reason: String,
}

impl LdifError {
    fn new(line: usize, reason: impl Into<String>) -> LdifError {
        LdifError {
            line,
            record: line,
            reason: reason.into(),
        }
    }

    /// `self` as found in the record starting at line `record`.
    fn in_record(self, record: usize) -> LdifError {
        LdifError { record, ..self }
    }
}

/// The kind of one modification in a `changetype: modify` record (RFC 2849 `mod-spec`;
/// `increment` is RFC 4525).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ModOp {
    /// `add:`
    Add,
    /// `delete:`
    Delete,
    /// `replace:`
    Replace,
    /// `increment:` (RFC 4525 §3)
    Increment,
}

/// One `mod-spec` section of a modify record (RFC 2849), ended by a `-` line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Modification {
    /// What to do.
    pub op: ModOp,
    /// The attribute description and the values listed in the section (may be empty).
    pub attr: Attribute,
}

/// The change of a change record (RFC 2849 `changerecord`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LdifChange {
    /// `changetype: add` with the entry's attributes.
    Add(Vec<Attribute>),
    /// `changetype: delete`.
    Delete,
    /// `changetype: modify` with its sections in order.
    Modify(Vec<Modification>),
    /// `changetype: modrdn` / `moddn`.
    ModDn {
        /// `newrdn:`
        new_rdn: Rdn,
        /// `deleteoldrdn: 1`
        delete_old_rdn: bool,
        /// `newsuperior:`, if given.
        new_superior: Option<Dn>,
    },
}

/// One LDIF record (RFC 2849 `ldif-attrval-record` or `ldif-change-record`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LdifRecord {
    /// A content record: an entry.
    Content {
        /// 1-based line of the record's `dn:` line.
        line: usize,
        /// The entry; values of repeated descriptions are gathered in order.
        entry: Entry,
    },
    /// A change record (has a `changetype:` line).
    Change {
        /// 1-based line of the record's `dn:` line.
        line: usize,
        /// The target DN.
        dn: Dn,
        /// The change.
        change: LdifChange,
    },
}

/// A logical (unfolded) line and the physical line it starts on.
type Line = (usize, Vec<u8>);

/// Reads RFC 2849 LDIF records from a [`BufRead`]. Handles `version: 1`, comments
/// (including folded ones), folded lines, CRLF, base64 (`::`) values and DNs.
pub struct LdifReader<R> {
    r: R,
    line_no: usize,
    first: bool,
    done: bool,
}

impl<R: BufRead> LdifReader<R> {
    /// A reader over `r` (RFC 2849).
    pub fn new(r: R) -> LdifReader<R> {
        LdifReader {
            r,
            line_no: 0,
            first: true,
            done: false,
        }
    }

    /// The next physical line without its line ending, or `None` at end of input.
    fn physical(&mut self) -> Result<Option<Line>, LdifError> {
        let mut buf = Vec::new();
        let n = self
            .r
            .read_until(b'\n', &mut buf)
            .map_err(|e| LdifError::new(self.line_no + 1, format!("read error: {e}")))?;
        if n == 0 {
            return Ok(None);
        }
        self.line_no += 1;
        if buf.last() == Some(&b'\n') {
            buf.pop();
            if buf.last() == Some(&b'\r') {
                buf.pop();
            }
        }
        Ok(Some((self.line_no, buf)))
    }

    /// Skips the rest of the current record (up to a blank line or end of input).
    fn skip_record(&mut self) -> Result<(), LdifError> {
        while let Some((_, l)) = self.physical()? {
            if l.is_empty() {
                break;
            }
        }
        Ok(())
    }

    /// The unfolded, comment-free lines of the next record; `None` at end of input.
    fn record_lines(&mut self) -> Result<Option<Vec<Line>>, LdifError> {
        let mut lines: Vec<Line> = Vec::new();
        let mut in_comment = false;
        while let Some((no, l)) = self.physical()? {
            if l.is_empty() {
                in_comment = false;
                if lines.is_empty() {
                    continue;
                }
                break;
            }
            if l[0] == b' ' {
                if in_comment {
                    continue;
                }
                match lines.last_mut() {
                    Some(last) => last.1.extend_from_slice(&l[1..]),
                    None => {
                        self.skip_record()?;
                        return Err(LdifError::new(
                            no,
                            "continuation line without a line to continue",
                        ));
                    }
                }
                continue;
            }
            if l[0] == b'#' {
                in_comment = true;
                continue;
            }
            in_comment = false;
            lines.push((no, l));
        }
        Ok(if lines.is_empty() { None } else { Some(lines) })
    }

    fn next_record(&mut self) -> Result<Option<LdifRecord>, LdifError> {
        loop {
            let Some(mut lines) = self.record_lines()? else {
                return Ok(None);
            };
            if std::mem::take(&mut self.first) {
                let (no, line) = &lines[0];
                let (desc, value) = split_line(*no, line)?;
                if desc.eq_ignore_ascii_case("version") {
                    if value.trim_ascii() != b"1" {
                        return Err(LdifError::new(*no, "unsupported LDIF version (only 1)"));
                    }
                    lines.remove(0);
                    if lines.is_empty() {
                        continue;
                    }
                }
            }
            let start = lines.first().map_or(0, |(no, _)| *no);
            return parse_record(&lines)
                .map(Some)
                .map_err(|e| e.in_record(start));
        }
    }
}

impl<R: BufRead> Iterator for LdifReader<R> {
    type Item = Result<LdifRecord, LdifError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        match self.next_record() {
            Ok(Some(r)) => Some(Ok(r)),
            Ok(None) => {
                self.done = true;
                None
            }
            Err(e) => {
                if e.reason.starts_with("read error") {
                    self.done = true;
                }
                Some(Err(e))
            }
        }
    }
}

/// Whether `b` may appear in an RFC 2849 `AttributeDescription`.
fn is_desc_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b';' | b'.')
}

/// Splits `desc: value`, `desc:: base64` (decoded), `desc:< file:///path` (read).
fn split_line(no: usize, line: &[u8]) -> Result<(String, Vec<u8>), LdifError> {
    let colon = line
        .iter()
        .position(|&b| b == b':')
        .ok_or_else(|| LdifError::new(no, "missing ':' after the attribute description"))?;
    let desc = &line[..colon];
    if desc.is_empty() || !desc.iter().all(|&b| is_desc_char(b)) {
        return Err(LdifError::new(no, "invalid attribute description"));
    }
    let desc = String::from_utf8_lossy(desc).into_owned();
    let rest = &line[colon + 1..];
    let value = match rest.first() {
        Some(b':') => {
            let b64: Vec<u8> = rest[1..]
                .iter()
                .copied()
                .filter(|b| !b.is_ascii_whitespace())
                .collect();
            B64.decode(&b64)
                .map_err(|e| LdifError::new(no, format!("invalid base64 value of {desc}: {e}")))?
        }
        Some(b'<') => url_value(no, &desc, &rest[1..])?,
        _ => {
            let start = rest.iter().position(|&b| b != b' ').unwrap_or(rest.len());
            rest[start..].to_vec()
        }
    };
    Ok((desc, value))
}

/// The value of an RFC 2849 `desc:< URL` line: the contents of a local file, read as
/// slapadd and ldapadd read it (libldap `ldif_open_url`): after a case-insensitive `file:`,
/// - `//` followed by `/path` (`file:///path`) or, beyond libldap, `localhost/path`: that
///   absolute path;
/// - anything else (`file:blob.bin`, `file:./dir/blob.bin`, `file:/abs`): the path as
///   written, so a relative one is read relative to the current directory (libldap hands
///   it to `fopen` unchanged; RFC 2849 only says "URL").
///
/// The path is percent-decoded (`ldap_pvt_hex_unescape`). Other schemes and remote hosts
/// are refused (oxldap does no network IO for LDIF), as is a file that cannot be read; the
/// error names the line.
fn url_value(no: usize, desc: &str, rest: &[u8]) -> Result<Vec<u8>, LdifError> {
    let text = std::str::from_utf8(rest)
        .map_err(|_| LdifError::new(no, format!("the URL of {desc} is not valid UTF-8")))?
        .trim_matches(' ');
    let bad = |why: String| LdifError::new(no, format!("URL value of {desc} ({text}): {why}"));
    let path = match text.get(..5) {
        Some(scheme) if scheme.eq_ignore_ascii_case("file:") => file_url_path(&text[5..])
            .ok_or_else(|| bad("only local files (file:///path) are supported".into()))?,
        _ => {
            let parsed = url::Url::parse(text).map_err(|e| bad(format!("invalid URL: {e}")))?;
            return Err(bad(format!(
                "only file:// URLs are supported, not {}:",
                parsed.scheme()
            )));
        }
    };
    let decoded = percent_decode(path.as_bytes());
    let path = String::from_utf8(decoded)
        .map(std::path::PathBuf::from)
        .map_err(|_| bad("the path is not valid UTF-8".into()))?;
    std::fs::read(&path).map_err(|e| bad(format!("cannot read {}: {e}", path.display())))
}

/// The (still percent-encoded) path of a `file:` URL given what follows `file:`; None for
/// a remote host (`file://host/path`). See [`url_value`].
fn file_url_path(after_scheme: &str) -> Option<&str> {
    let Some(authority_and_path) = after_scheme.strip_prefix("//") else {
        // No authority: the path as written, relative or absolute (libldap).
        return Some(after_scheme);
    };
    if authority_and_path.starts_with('/') {
        return Some(authority_and_path);
    }
    match authority_and_path.get(..10) {
        Some(host) if host.eq_ignore_ascii_case("localhost/") => authority_and_path.get(9..),
        _ => None,
    }
}

/// `%hh` sequences decoded to their bytes (RFC 3986 §2.1), others kept as they are.
fn percent_decode(s: &[u8]) -> Vec<u8> {
    percent_encoding::percent_decode(s).collect()
}

fn utf8(no: usize, v: Vec<u8>, what: &str) -> Result<String, LdifError> {
    String::from_utf8(v).map_err(|_| LdifError::new(no, format!("{what} is not valid UTF-8")))
}

fn parse_dn(no: usize, v: Vec<u8>, what: &str) -> Result<Dn, LdifError> {
    let s = utf8(no, v, what)?;
    Dn::parse(&s).map_err(|e| LdifError::new(no, format!("{what} {s:?}: {e}")))
}

fn parse_record(lines: &[Line]) -> Result<LdifRecord, LdifError> {
    let mut it = lines.iter();
    let Some((line, first)) = it.next() else {
        return Err(LdifError::new(0, "empty record"));
    };
    let line = *line;
    let (desc, value) = split_line(line, first)?;
    if !desc.eq_ignore_ascii_case("dn") {
        return Err(LdifError::new(
            line,
            "record does not start with a dn: line",
        ));
    }
    let dn = parse_dn(line, value, "invalid DN")?;
    let mut rest = it.as_slice();
    if let Some((no, l)) = rest.first() {
        let (desc, value) = split_line(*no, l)?;
        if desc.eq_ignore_ascii_case("control") {
            return Err(LdifError::new(*no, "control: lines are not supported"));
        }
        if desc.eq_ignore_ascii_case("changetype") {
            rest = &rest[1..];
            let ct = utf8(*no, value, "changetype")?;
            let change = parse_change(*no, ct.trim_end(), rest)?;
            return Ok(LdifRecord::Change { line, dn, change });
        }
    }
    let mut entry = Entry::new(dn);
    for (no, l) in rest {
        let (desc, value) = split_line(*no, l)?;
        entry.push_value(&desc, value);
    }
    Ok(LdifRecord::Content { line, entry })
}

fn parse_change(no: usize, changetype: &str, lines: &[Line]) -> Result<LdifChange, LdifError> {
    match changetype.to_ascii_lowercase().as_str() {
        "add" => {
            let mut e = Entry::default();
            for (no, l) in lines {
                let (desc, value) = split_line(*no, l)?;
                e.push_value(&desc, value);
            }
            if e.attrs.is_empty() {
                return Err(LdifError::new(no, "add record without attributes"));
            }
            Ok(LdifChange::Add(e.attrs))
        }
        "delete" => match lines.first() {
            Some((n, _)) => Err(LdifError::new(*n, "unexpected line in delete record")),
            None => Ok(LdifChange::Delete),
        },
        "modrdn" | "moddn" => parse_moddn(no, lines),
        "modify" => parse_modify(lines),
        _ => Err(LdifError::new(
            no,
            format!("unknown changetype {changetype:?}"),
        )),
    }
}

fn parse_moddn(no: usize, lines: &[Line]) -> Result<LdifChange, LdifError> {
    let mut it = lines.iter();
    let (n, l) = it
        .next()
        .ok_or_else(|| LdifError::new(no, "modrdn record without newrdn:"))?;
    let (desc, value) = split_line(*n, l)?;
    if !desc.eq_ignore_ascii_case("newrdn") {
        return Err(LdifError::new(*n, "expected newrdn:"));
    }
    let s = utf8(*n, value, "newrdn")?;
    let new_rdn =
        Rdn::parse(&s).map_err(|e| LdifError::new(*n, format!("invalid newrdn {s:?}: {e}")))?;
    let (n, l) = it
        .next()
        .ok_or_else(|| LdifError::new(*n, "modrdn record without deleteoldrdn:"))?;
    let (desc, value) = split_line(*n, l)?;
    if !desc.eq_ignore_ascii_case("deleteoldrdn") {
        return Err(LdifError::new(*n, "expected deleteoldrdn:"));
    }
    let delete_old_rdn = match value.as_slice() {
        b"0" => false,
        b"1" => true,
        _ => return Err(LdifError::new(*n, "deleteoldrdn must be 0 or 1")),
    };
    let mut new_superior = None;
    if let Some((n, l)) = it.next() {
        let (desc, value) = split_line(*n, l)?;
        if !desc.eq_ignore_ascii_case("newsuperior") {
            return Err(LdifError::new(*n, "expected newsuperior: or end of record"));
        }
        new_superior = Some(parse_dn(*n, value, "invalid newsuperior")?);
    }
    if let Some((n, _)) = it.next() {
        return Err(LdifError::new(*n, "unexpected line in modrdn record"));
    }
    Ok(LdifChange::ModDn {
        new_rdn,
        delete_old_rdn,
        new_superior,
    })
}

fn parse_modify(lines: &[Line]) -> Result<LdifChange, LdifError> {
    let mut mods = Vec::new();
    let mut it = lines.iter();
    while let Some((n, l)) = it.next() {
        let (opname, target) = split_line(*n, l)?;
        let op = match opname.to_ascii_lowercase().as_str() {
            "add" => ModOp::Add,
            "delete" => ModOp::Delete,
            "replace" => ModOp::Replace,
            "increment" => ModOp::Increment,
            _ => {
                return Err(LdifError::new(
                    *n,
                    format!("expected add:, delete:, replace: or increment:, found {opname}:"),
                ))
            }
        };
        let target = utf8(*n, target, "attribute description")?;
        let target = target.trim_end();
        if target.is_empty() || !target.bytes().all(is_desc_char) {
            return Err(LdifError::new(*n, "invalid attribute description"));
        }
        let mut attr = Attribute::new(target, Vec::new());
        for (vn, vl) in it.by_ref() {
            if vl.trim_ascii_end() == b"-" {
                break;
            }
            let (desc, value) = split_line(*vn, vl)?;
            if !desc.eq_ignore_ascii_case(target) {
                return Err(LdifError::new(
                    *vn,
                    format!("value for {desc} in a section modifying {target} (missing '-'?)"),
                ));
            }
            attr.values.push(value);
        }
        mods.push(Modification { op, attr });
    }
    Ok(LdifChange::Modify(mods))
}

/// Whether `v` can be written as an RFC 2849 `SAFE-STRING` (otherwise it is base64'd):
/// no NUL, LF, CR or bytes ≥ 0x80; does not start with space, `:` or `<`; does not end
/// with a space.
fn is_safe(v: &[u8]) -> bool {
    let bad = |b: &u8| matches!(b, 0 | b'\n' | b'\r') || *b >= 0x80;
    !v.iter().any(bad) && !matches!(v.first(), Some(b' ' | b':' | b'<')) && v.last() != Some(&b' ')
}

/// Writes one `desc: value` (or `desc:: base64`) line, folded at [`FOLD_AT`] bytes
/// (RFC 2849 `attrval-spec`); used by [`write_entry`] and the change log's `changes`.
pub fn write_attr_line<W: Write>(w: &mut W, desc: &str, value: &[u8]) -> io::Result<()> {
    let mut line = Vec::with_capacity(desc.len() + value.len() + 3);
    line.extend_from_slice(desc.as_bytes());
    if value.is_empty() {
        line.push(b':');
    } else if is_safe(value) {
        line.extend_from_slice(b": ");
        line.extend_from_slice(value);
    } else {
        line.extend_from_slice(b":: ");
        line.extend_from_slice(B64.encode(value).as_bytes());
    }
    let (first, mut rest) = line.split_at(line.len().min(FOLD_AT));
    w.write_all(first)?;
    w.write_all(b"\n")?;
    while !rest.is_empty() {
        let (chunk, r) = rest.split_at(rest.len().min(FOLD_AT - 1));
        w.write_all(b" ")?;
        w.write_all(chunk)?;
        w.write_all(b"\n")?;
        rest = r;
    }
    Ok(())
}

/// Writes `entry` as an RFC 2849 content record: `dn:` then one `desc: value` line per
/// value, then a blank line. Values (and the DN) that are not `SAFE-STRING`s are written
/// base64-encoded (`::`), including any with bytes ≥ 0x80 as slapcat does; lines longer
/// than 76 bytes are folded.
pub fn write_entry<W: Write>(mut w: W, entry: &Entry) -> io::Result<()> {
    write_attr_line(&mut w, "dn", entry.dn.to_string().as_bytes())?;
    for a in &entry.attrs {
        for v in &a.values {
            write_attr_line(&mut w, &a.desc, v)?;
        }
    }
    w.write_all(b"\n")
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::panic)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn read_all(s: &[u8]) -> Vec<Result<LdifRecord, LdifError>> {
        LdifReader::new(s).collect()
    }

    fn content(r: &Result<LdifRecord, LdifError>) -> (&usize, &Entry) {
        match r {
            Ok(LdifRecord::Content { line, entry }) => (line, entry),
            other => panic!("not a content record: {other:?}"),
        }
    }

    #[test]
    fn reads_content_records() {
        let ldif = "version: 1
# a comment
#  folded
 comment continued
dn: cn=Barbara Jensen, ou=Product Development, dc=airius, dc=com
objectclass: top
objectclass: person
cn: Barbara Jensen
cn;lang-en: Babs
description: a long
  folded value
CN: Babs Jensen


# between records

dn:: Y249THXEjWnEhyxkYz1leGFtcGxl
sn:: IGxlYWRpbmcgc3BhY2U
x:: OmNvbG9u
y:: YQpi
empty:
z:   spaces before
"
        .replace('\n', "\r\n");
        let ldif = ldif.as_bytes();
        let recs = read_all(ldif);
        assert_eq!(recs.len(), 2, "{recs:?}");
        let (line, e) = content(&recs[0]);
        assert_eq!(*line, 5);
        assert_eq!(
            e.dn,
            Dn::parse("cn=Barbara Jensen,ou=Product Development,dc=airius,dc=com").unwrap()
        );
        assert_eq!(e.values("objectClass").len(), 2);
        assert_eq!(
            e.values("cn"),
            &[b"Barbara Jensen".to_vec(), b"Babs Jensen".to_vec()]
        );
        assert_eq!(e.first_str("cn;lang-en"), Some("Babs"));
        assert_eq!(e.first_str("description"), Some("a long folded value"));
        let (line, e) = content(&recs[1]);
        assert_eq!(*line, 17);
        assert_eq!(e.dn.rdns[0].avas[0].value_str(), Some("Lučić"));
        assert_eq!(e.first_str("sn"), Some(" leading space"));
        assert_eq!(e.first_str("x"), Some(":colon"));
        assert_eq!(e.first_str("y"), Some("a\nb"));
        assert_eq!(e.first_str("empty"), Some(""));
        assert_eq!(e.first_str("z"), Some("spaces before"));
    }

    #[test]
    fn reads_change_records() {
        let ldif = b"version: 1
dn: cn=a,dc=x
changetype: add
objectClass: top
cn: a

dn: cn=a,dc=x
changetype: delete

dn: cn=a,dc=x
changetype: modrdn
newrdn: cn=b
deleteoldrdn: 1
newsuperior: ou=y,dc=x

dn: cn=a,dc=x
changetype: moddn
newrdn: cn=b
deleteoldrdn: 0

dn: cn=a,dc=x
changetype: modify
add: mail
mail: a@x
mail: b@x
-
delete: description
-
replace: cn;lang-en
cn;lang-en: A
-
increment: uidNumber
uidNumber: 1
";
        let recs: Vec<_> = read_all(ldif).into_iter().map(Result::unwrap).collect();
        assert_eq!(recs.len(), 5);
        let dn = Dn::parse("cn=a,dc=x").unwrap();
        assert_eq!(
            recs[0],
            LdifRecord::Change {
                line: 2,
                dn: dn.clone(),
                change: LdifChange::Add(vec![
                    Attribute::new("objectClass", vec![b"top".to_vec()]),
                    Attribute::new("cn", vec![b"a".to_vec()]),
                ])
            }
        );
        assert_eq!(
            recs[1],
            LdifRecord::Change {
                line: 7,
                dn: dn.clone(),
                change: LdifChange::Delete
            }
        );
        assert_eq!(
            recs[2],
            LdifRecord::Change {
                line: 10,
                dn: dn.clone(),
                change: LdifChange::ModDn {
                    new_rdn: Rdn::parse("cn=b").unwrap(),
                    delete_old_rdn: true,
                    new_superior: Some(Dn::parse("ou=y,dc=x").unwrap())
                }
            }
        );
        assert!(matches!(
            &recs[3],
            LdifRecord::Change {
                change: LdifChange::ModDn {
                    delete_old_rdn: false,
                    new_superior: None,
                    ..
                },
                ..
            }
        ));
        let LdifRecord::Change {
            change: LdifChange::Modify(mods),
            ..
        } = &recs[4]
        else {
            panic!("not modify");
        };
        assert_eq!(
            mods,
            &vec![
                Modification {
                    op: ModOp::Add,
                    attr: Attribute::new("mail", vec![b"a@x".to_vec(), b"b@x".to_vec()])
                },
                Modification {
                    op: ModOp::Delete,
                    attr: Attribute::new("description", vec![])
                },
                Modification {
                    op: ModOp::Replace,
                    attr: Attribute::new("cn;lang-en", vec![b"A".to_vec()])
                },
                Modification {
                    op: ModOp::Increment,
                    attr: Attribute::new("uidNumber", vec![b"1".to_vec()])
                },
            ]
        );
    }

    fn first_err(ldif: &[u8]) -> LdifError {
        read_all(ldif)
            .into_iter()
            .find_map(Result::err)
            .unwrap_or_else(|| panic!("no error for {:?}", String::from_utf8_lossy(ldif)))
    }

    #[test]
    fn errors_name_the_problem_line_and_the_record_line() {
        // As slapadd's "could not parse entry (line=N)": N is the record's dn: line.
        let e = first_err(b"version: 1\n\ndn: cn=a\ncn: a\n\n# c\ndn: cn=b\ncn: b\nbroken\n");
        assert_eq!((e.line, e.record), (9, 7));
        let e = first_err(b"dn: not a dn\ncn: a\n");
        assert_eq!((e.line, e.record), (1, 1));
        // The records after a bad one are still read.
        let recs = read_all(b"dn: cn=a\nbroken\n\ndn: cn=b\ncn: b\n");
        assert!(recs[0].is_err() && recs[1].is_ok(), "{recs:?}");
    }

    #[test]
    fn url_values_read_local_files() {
        let dir = std::env::temp_dir().join(format!("oxldap-ldif-url-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let path = dir.join("a photo.bin");
        let bytes: Vec<u8> = (0..=255u8).collect();
        std::fs::write(&path, &bytes).expect("write");
        let p = path.display().to_string().replace(' ', "%20");
        for url in [format!("file://{p}"), format!("file://localhost{p}")] {
            let text = format!("dn: cn=a\ncn: a\njpegPhoto:<  {url}\n");
            let recs = read_all(text.as_bytes());
            let (_, e) = content(&recs[0]);
            let got = e.get("jpegPhoto").map(|a| a.values.clone());
            assert_eq!(got, Some(vec![bytes.clone()]), "{url}");
        }
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn file_urls_name_paths_as_libldap() {
        assert_eq!(file_url_path("///tmp/x"), Some("/tmp/x"));
        assert_eq!(file_url_path("//localhost/tmp/x"), Some("/tmp/x"));
        assert_eq!(file_url_path("//LocalHost/tmp/x"), Some("/tmp/x"));
        assert_eq!(file_url_path("blob.bin"), Some("blob.bin"));
        assert_eq!(file_url_path("./d/blob.bin"), Some("./d/blob.bin"));
        assert_eq!(file_url_path("/abs"), Some("/abs"));
        assert_eq!(file_url_path("//otherhost/x"), None);
        assert_eq!(file_url_path("//localhostx/x"), None);
        assert_eq!(percent_decode(b"a%20b%2fc%zz"), b"a b/c%zz".to_vec());
        let e = first_err(b"dn: cn=a\nnocolon\n");
        assert!(e.reason.contains("missing ':'"), "{e}");
    }

    #[test]
    fn errors_name_lines() {
        let e = first_err(b"dn: cn=a\ncn: a\n\ndn: cn=b,\ncn: b\n");
        assert_eq!(e.line, 4);
        assert!(e.reason.contains("DN"), "{e}");
        assert!(e.to_string().starts_with("line 4: "));
        let e = first_err(b"dn: cn=a\njpegPhoto:< file:///nonexistent/x.jpg\n");
        assert_eq!(e.line, 2);
        assert!(e.reason.contains("cannot read /nonexistent/x.jpg"), "{e}");
        let e = first_err(b"dn: cn=a\ncn: a\njpegPhoto:< http://example.com/x.jpg\n");
        assert_eq!(e.line, 3);
        assert!(e.reason.contains("only file:// URLs"), "{e}");
        let e = first_err(b"dn: cn=a\njpegPhoto:< file://otherhost/x.jpg\n");
        assert!(e.reason.contains("only local files"), "{e}");
        let e = first_err(b"dn: cn=a\njpegPhoto:< not a url\n");
        assert!(e.reason.contains("invalid URL"), "{e}");
        let e = first_err(b"dn: cn=a\ncontrol: 1.2.3 true\nchangetype: delete\n");
        assert_eq!(e.line, 2);
        assert!(e.reason.contains("not supported"));
        assert_eq!(first_err(b"version: 2\ndn: cn=a\n").line, 1);
        assert_eq!(first_err(b"cn: a\n").line, 1);
        assert_eq!(first_err(b"\n\n continued\n").line, 3);
        assert_eq!(first_err(b"dn: cn=a\nnocolon\n").line, 2);
        assert_eq!(first_err(b"dn: cn=a\nx:: !!!!\n").line, 2);
        assert_eq!(first_err(b"dn: cn=a\nchangetype: bogus\n").line, 2);
        assert_eq!(first_err(b"dn: cn=a\nchangetype: delete\ncn: a\n").line, 3);
        assert_eq!(first_err(b"dn: cn=a\nchangetype: add\n").line, 2);
        assert_eq!(
            first_err(b"dn: cn=a\nchangetype: modify\nadd: cn\ncn: x\nsn: y\n-\n").line,
            5
        );
        assert_eq!(
            first_err(b"dn: cn=a\nchangetype: modrdn\nnewrdn: cn=b\ndeleteoldrdn: 2\n").line,
            4
        );
        // Reading continues after a bad record.
        let recs = read_all(b"dn: cn=a,\n\ndn: cn=b\n");
        assert!(recs[0].is_err());
        assert!(recs[1].is_ok());
    }

    #[test]
    fn writer_folds_and_encodes() {
        let mut e = Entry::new(Dn::parse("cn=a,dc=x").unwrap());
        e.push_value("cn", "a");
        e.push_value("description", "x".repeat(200));
        e.push_value("sn", " lead");
        e.push_value("sn", ":colon");
        e.push_value("sn", "<lt");
        e.push_value("sn", "trail ");
        e.push_value("sn", "new\nline");
        e.push_value("sn", "Lučić");
        e.push_value("sn", "");
        let mut out = Vec::new();
        write_entry(&mut out, &e).unwrap();
        let text = String::from_utf8(out.clone()).unwrap();
        assert!(text.starts_with("dn: cn=a,dc=x\ncn: a\ndescription: xxx"));
        assert!(text.lines().all(|l| l.len() <= 76), "{text}");
        assert!(text.contains("sn:: IGxlYWQ=\n"));
        assert!(text.contains("sn:\n"));
        assert!(text.ends_with("\n\n"));
        assert_eq!(text.matches("sn:: ").count(), 6);
        let back = read_all(&out);
        assert_eq!(back.len(), 1);
        assert_eq!(content(&back[0]).1, &e);
    }

    fn arb_entry() -> impl Strategy<Value = Entry> {
        let ava = (
            "[a-z][a-z0-9-]{0,6}",
            proptest::collection::vec(any::<u8>(), 0..8),
        )
            .prop_map(|(attr, value)| crate::dn::Ava { attr, value });
        let rdn = proptest::collection::vec(ava, 1..3).prop_map(|avas| Rdn { avas });
        let dn = proptest::collection::vec(rdn, 0..3).prop_map(|rdns| Dn { rdns });
        let value = prop_oneof![
            proptest::collection::vec(any::<u8>(), 0..120),
            "[ :<a-z\u{e9}\n\r]{0,100}".prop_map(String::into_bytes),
        ];
        let attr = (
            "[a-zA-Z][a-zA-Z0-9-]{0,10}(;[a-z]{1,5})?",
            proptest::collection::vec(value, 1..4),
        )
            .prop_map(|(desc, values)| Attribute { desc, values });
        (dn, proptest::collection::vec(attr, 0..5)).prop_map(|(dn, attrs)| {
            let mut seen = std::collections::HashSet::new();
            let attrs = attrs
                .into_iter()
                .filter(|a| {
                    let l = a.desc.to_ascii_lowercase();
                    l != "changetype" && l != "control" && seen.insert(l)
                })
                .collect();
            Entry { dn, attrs }
        })
    }

    proptest! {
        #[test]
        fn write_read_round_trip(entries in proptest::collection::vec(arb_entry(), 0..4)) {
            let mut out = Vec::new();
            for e in &entries {
                write_entry(&mut out, e).unwrap();
            }
            let back: Vec<Entry> = LdifReader::new(out.as_slice())
                .map(|r| match r {
                    Ok(LdifRecord::Content { entry, .. }) => Ok(entry),
                    other => Err(format!("{other:?}")),
                })
                .collect::<Result<_, _>>()
                .map_err(TestCaseError::fail)?;
            prop_assert_eq!(back, entries);
        }

        #[test]
        fn reader_never_panics(s in proptest::collection::vec(any::<u8>(), 0..200)) {
            let _ = LdifReader::new(s.as_slice()).count();
        }
    }
}
