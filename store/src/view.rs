//! A stored entry read in place, for the search read path: the filter is tested and the
//! SearchResultEntry encoded straight from the stored bytes, without decoding the entry
//! into owned values (one allocation per value, per attribute description and per RDN).
//! The structure is checked once per read from sled ([`ParsedEntry::parse`]); the entry
//! cache keeps the parsed form, so a cached entry is not checked again, and its DN text is
//! made once however many searches return it.
//!
//! It reads the stored format itself (format version [`keys::FORMAT_VERSION`]): the
//! version byte, then bincode 1's default encoding of [`StoredEntry`] (fixed-width
//! little-endian integers, every sequence, string and byte string as a u64 length and its
//! items):
//!
//! ```text
//! version u8 | parent u64
//! | dn: rdn count u64, each: ava count u64, each: attr (len u64, UTF-8), value (len u64, bytes)
//! | attrs: count u64, each: desc (len u64, UTF-8), value count u64, each: (len u64, bytes)
//! ```
//!
//! A test pins this against bincode for arbitrary entries, so a change of the stored
//! format cannot go unnoticed here. It must not know the schema or the wire.

use crate::keys;
use crate::store::StoredEntry;
use oxldap_proto::{Attributes, Entry};
use std::borrow::Cow;

/// A stored entry checked once: its stored bytes and where each part lies in them. Built
/// by [`ParsedEntry::parse`], which checks the whole structure (lengths, UTF-8 of every
/// attribute description and RDN type) and notes where each attribute lies, so reading it
/// later neither re-checks UTF-8 nor skips values to find the next attribute. This is what
/// the entry cache holds ([`crate::entry_cache`]): a search reads cached entries without
/// parsing them again. Read it through [`ParsedEntry::view`].
#[derive(Debug)]
pub(crate) struct ParsedEntry {
    /// The whole stored value (version byte included).
    bytes: Box<[u8]>,
    /// The parent's id.
    parent: u64,
    /// Where the DN's RDNs start in `bytes` (what follows the RDN count).
    rdns: usize,
    /// How many RDNs.
    rdn_count: u64,
    /// The DN's RFC 4514 text, then the attribute descriptions one after another: one
    /// allocation, read together by a search that tests an attribute and returns the DN.
    text: Box<str>,
    /// Where the DN text ends in `text` (the descriptions start).
    dn_end: u32,
    /// Each attribute: where its description lies in `text` and its values in `bytes`.
    attrs: Box<[AttrSpan]>,
}

/// Where one attribute of a [`ParsedEntry`] lies: offsets are below 4 GiB, since a stored
/// entry is far smaller than that ([`ParsedEntry::parse`] refuses a larger one).
#[derive(Debug, Clone, Copy)]
struct AttrSpan {
    /// The description: `text[name_start..name_end]`.
    name_start: u32,
    name_end: u32,
    /// The values: what follows the value count in `bytes`.
    values: u32,
    /// How many values.
    count: u32,
}

/// A stored entry read in place ([`ParsedEntry::view`]).
#[derive(Debug, Clone, Copy)]
pub struct EntryView<'a> {
    entry: &'a ParsedEntry,
}

/// Takes `n` bytes off the front of `rest`.
fn take<'a>(rest: &mut &'a [u8], n: usize) -> Option<&'a [u8]> {
    let (head, tail) = rest.split_at_checked(n)?;
    *rest = tail;
    Some(head)
}

/// Takes a little-endian u64 off the front of `rest`.
fn take_u64(rest: &mut &[u8]) -> Option<u64> {
    let b = take(rest, 8)?;
    Some(u64::from_le_bytes(<[u8; 8]>::try_from(b).ok()?))
}

/// Takes a length-prefixed byte string off the front of `rest`.
fn take_bytes<'a>(rest: &mut &'a [u8]) -> Option<&'a [u8]> {
    let n = usize::try_from(take_u64(rest)?).ok()?;
    take(rest, n)
}

/// Takes a length-prefixed UTF-8 string off the front of `rest`.
fn take_str<'a>(rest: &mut &'a [u8]) -> Option<&'a str> {
    std::str::from_utf8(take_bytes(rest)?).ok()
}

impl ParsedEntry {
    /// The parsed form of a stored value (copied), or None when it is not a well-formed
    /// entry of the current format (the caller reports it as corrupt, as
    /// [`StoredEntry::decode`] does) or is 4 GiB or larger.
    pub(crate) fn parse(stored: &[u8]) -> Option<ParsedEntry> {
        u32::try_from(stored.len()).ok()?;
        let offset = |rest: &[u8]| stored.len() - rest.len();
        let mut rest = stored;
        if take(&mut rest, 1)? != [keys::FORMAT_VERSION] {
            return None;
        }
        let parent = take_u64(&mut rest)?;
        let rdn_count = take_u64(&mut rest)?;
        let rdns = offset(rest);
        let mut text = String::with_capacity(stored.len() / 2);
        write_dn_text(&mut text, &mut rest, rdn_count)?;
        let dn_end = u32::try_from(text.len()).ok()?;
        let attr_count = take_u64(&mut rest)?;
        // The count comes from the stored bytes: cap the reservation (each attribute takes
        // at least 16 bytes, so a well-formed value cannot hold more than this).
        let cap = usize::try_from(attr_count).ok()?.min(rest.len() / 16);
        let mut attrs = Vec::with_capacity(cap);
        for _ in 0..attr_count {
            let desc = take_str(&mut rest)?;
            let count = u32::try_from(take_u64(&mut rest)?).ok()?;
            let values = offset(rest);
            for _ in 0..count {
                take_bytes(&mut rest)?;
            }
            let name_start = text.len();
            text.push_str(desc);
            attrs.push(AttrSpan {
                name_start: u32::try_from(name_start).ok()?,
                name_end: u32::try_from(text.len()).ok()?,
                values: u32::try_from(values).ok()?,
                count,
            });
        }
        Some(ParsedEntry {
            bytes: stored.into(),
            parent,
            rdns,
            rdn_count,
            text: text.into_boxed_str(),
            dn_end,
            attrs: attrs.into_boxed_slice(),
        })
    }

    /// The view to read it through.
    pub(crate) fn view(&self) -> EntryView<'_> {
        EntryView { entry: self }
    }

    /// The stored value, as sled holds it.
    pub(crate) fn stored(&self) -> &[u8] {
        &self.bytes
    }

    /// The memory it takes, in bytes, for the entry cache's budget: the stored value, the
    /// DN text and descriptions, the spans.
    pub(crate) fn size(&self) -> usize {
        std::mem::size_of::<ParsedEntry>()
            + self.bytes.len()
            + self.text.len()
            + self.attrs.len() * std::mem::size_of::<AttrSpan>()
    }

    /// The RDNs: what follows the RDN count in the stored value.
    fn rdn_bytes(&self) -> &[u8] {
        self.bytes.get(self.rdns..).unwrap_or_default()
    }
}

impl<'a> EntryView<'a> {
    /// The parent's id.
    pub(crate) fn parent(&self) -> u64 {
        self.entry.parent
    }

    /// The entry decoded into owned values (what [`StoredEntry::decode`] gives).
    pub(crate) fn to_stored(self) -> Option<StoredEntry> {
        StoredEntry::decode(&self.entry.bytes).ok()
    }

    /// The DN alone, decoded into owned RDNs (the same `Dn` as the decoded entry's), for
    /// what needs it parsed, such as access control's normalized DN; the attributes stay
    /// in place. A malformed DN cannot occur ([`ParsedEntry::parse`] checked it); it would
    /// give the RDNs read before it.
    pub fn dn(&self) -> oxldap_proto::Dn {
        let mut rest = self.entry.rdn_bytes();
        let count = self.entry.rdn_count;
        let mut rdns = Vec::with_capacity(usize::try_from(count).unwrap_or(0).min(64));
        for _ in 0..count {
            let avas = take_u64(&mut rest).unwrap_or(0);
            let mut rdn = oxldap_proto::Rdn {
                avas: Vec::with_capacity(usize::try_from(avas).unwrap_or(1).min(8)),
            };
            for _ in 0..avas {
                let (Some(attr), Some(value)) = (take_str(&mut rest), take_bytes(&mut rest)) else {
                    return oxldap_proto::Dn { rdns };
                };
                rdn.avas.push(oxldap_proto::Ava {
                    attr: attr.to_string(),
                    value: value.to_vec(),
                });
            }
            rdns.push(rdn);
        }
        oxldap_proto::Dn { rdns }
    }

    /// The DN in its RFC 4514 string form (the same text as `Dn::to_text` of the decoded
    /// entry), made once when the entry was parsed.
    pub fn dn_text(&self) -> &'a str {
        self.entry
            .text
            .get(..self.entry.dn_end as usize)
            .unwrap_or_default()
    }
}

/// Takes `rdn_count` RDNs in stored form off the front of `rdns` and appends their RFC
/// 4514 text to `out`; None when they are not well formed.
fn write_dn_text(out: &mut String, rdns: &mut &[u8], rdn_count: u64) -> Option<()> {
    for i in 0..rdn_count {
        if i > 0 {
            out.push(',');
        }
        for j in 0..take_u64(rdns)? {
            if j > 0 {
                out.push('+');
            }
            let attr = take_str(rdns)?;
            let value = take_bytes(rdns)?;
            oxldap_proto::dn::write_ava_text(out, attr, value);
        }
    }
    Some(())
}

/// The attributes of an [`EntryView`], in stored order.
#[derive(Debug, Clone)]
pub struct AttrIter<'a> {
    entry: &'a ParsedEntry,
    spans: std::slice::Iter<'a, AttrSpan>,
}

/// The values of one attribute of an [`EntryView`].
#[derive(Debug, Clone)]
pub struct ValueIter<'a> {
    rest: &'a [u8],
    left: u32,
}

impl<'a> Iterator for AttrIter<'a> {
    type Item = (&'a str, ValueIter<'a>);

    fn next(&mut self) -> Option<Self::Item> {
        let a = self.spans.next()?;
        let e = self.entry;
        // Offsets were taken from these very strings by `ParsedEntry::parse`.
        let name = e
            .text
            .get(a.name_start as usize..a.name_end as usize)
            .unwrap_or_default();
        let values = e.bytes.get(a.values as usize..).unwrap_or_default();
        Some((
            name,
            ValueIter {
                rest: values,
                left: a.count,
            },
        ))
    }
}

impl<'a> Iterator for ValueIter<'a> {
    type Item = &'a [u8];

    fn next(&mut self) -> Option<&'a [u8]> {
        if self.left == 0 {
            return None;
        }
        self.left -= 1;
        take_bytes(&mut self.rest)
    }
}

impl<'a> EntryView<'a> {
    /// The attributes, in stored order, borrowing the stored bytes.
    pub fn attrs(&self) -> AttrIter<'a> {
        AttrIter {
            entry: self.entry,
            spans: self.entry.attrs.iter(),
        }
    }
}

impl Attributes for EntryView<'_> {
    type Values<'s>
        = ValueIter<'s>
    where
        Self: 's;
    type Iter<'s>
        = AttrIter<'s>
    where
        Self: 's;

    fn attributes(&self) -> AttrIter<'_> {
        self.attrs()
    }

    fn to_entry(&self) -> Cow<'_, Entry> {
        Cow::Owned(self.to_stored().map(|s| s.entry).unwrap_or_default())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use oxldap_proto::{Attribute, Ava, Dn, Rdn};
    use proptest::prelude::*;

    fn stored(
        parent: u64,
        rdns: Vec<Vec<(String, Vec<u8>)>>,
        attrs: Vec<(String, Vec<Vec<u8>>)>,
    ) -> StoredEntry {
        StoredEntry {
            parent,
            entry: Entry {
                dn: Dn {
                    rdns: rdns
                        .into_iter()
                        .map(|avas| Rdn {
                            avas: avas
                                .into_iter()
                                .map(|(attr, value)| Ava { attr, value })
                                .collect(),
                        })
                        .collect(),
                },
                attrs: attrs
                    .into_iter()
                    .map(|(d, v)| Attribute::new(d, v))
                    .collect(),
            },
        }
    }

    proptest! {
        /// The view reads exactly what bincode wrote: the parent, the DN text and every
        /// attribute with its values, in order.
        #[test]
        fn the_view_reads_what_the_store_wrote(
            parent in any::<u64>(),
            rdns in proptest::collection::vec(
                proptest::collection::vec(("[a-zA-Z]{1,8}", proptest::collection::vec(any::<u8>(), 0..20)), 1..3),
                0..4),
            attrs in proptest::collection::vec(
                (".{0,12}", proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..40), 0..4)),
                0..6),
        ) {
            let s = stored(parent, rdns, attrs);
            let bytes = s.encode().unwrap();
            let p = ParsedEntry::parse(&bytes).unwrap();
            let v = p.view();
            prop_assert_eq!(v.parent(), s.parent);
            prop_assert_eq!(v.dn_text(), s.entry.dn.to_text());
            // Made once, the same the second time.
            prop_assert_eq!(v.dn_text(), s.entry.dn.to_text());
            prop_assert_eq!(v.dn(), s.entry.dn.clone());
            let got: Vec<(String, Vec<Vec<u8>>)> = v
                .attrs()
                .map(|(d, vals)| (d.to_string(), vals.map(<[u8]>::to_vec).collect()))
                .collect();
            let want: Vec<(String, Vec<Vec<u8>>)> = s
                .entry
                .attrs
                .iter()
                .map(|a| (a.desc.clone(), a.values.clone()))
                .collect();
            prop_assert_eq!(got, want);
            prop_assert_eq!(v.to_stored().unwrap().entry, s.entry);
            // Every truncation is refused, never read past.
            for cut in 0..bytes.len() {
                prop_assert!(ParsedEntry::parse(&bytes[..cut]).is_none());
            }
        }
    }

    #[test]
    fn another_format_version_is_refused() {
        let s = stored(1, vec![], vec![("cn".into(), vec![b"a".to_vec()])]);
        let mut bytes = s.encode().unwrap();
        bytes[0] = bytes[0].wrapping_add(1);
        assert!(ParsedEntry::parse(&bytes).is_none());
    }
}
