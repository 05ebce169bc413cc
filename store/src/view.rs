//! A view of a stored entry that borrows from the bytes sled returned, for the search read
//! path: the filter is tested and the SearchResultEntry encoded straight from the stored
//! bytes, without decoding the entry into owned values (one allocation per value, per
//! attribute description and per RDN).
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

/// A stored entry read in place. Built only by [`EntryView::parse`], which checks the
/// whole structure once and notes where each attribute lies (one allocation per entry,
/// instead of one per value), so walking it later neither re-checks UTF-8 nor skips
/// values to find the next attribute.
#[derive(Debug, Clone)]
pub struct EntryView<'a> {
    /// The whole stored value (version byte included), for an owned decode when needed.
    bytes: &'a [u8],
    /// The parent's id.
    parent: u64,
    /// The DN's RDNs: what follows the RDN count.
    rdns: &'a [u8],
    /// How many RDNs.
    rdn_count: u64,
    /// Each attribute: its description and where its values lie.
    attrs: Vec<AttrSpan<'a>>,
}

/// Where one attribute of an [`EntryView`] lies.
#[derive(Debug, Clone, Copy)]
struct AttrSpan<'a> {
    /// The attribute description.
    desc: &'a str,
    /// The values: what follows the value count.
    values: &'a [u8],
    /// How many values.
    count: u64,
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

impl<'a> EntryView<'a> {
    /// The view of a stored value, or None when it is not a well-formed entry of the
    /// current format (the caller reports it as corrupt, as [`StoredEntry::decode`] does).
    pub(crate) fn parse(bytes: &'a [u8]) -> Option<EntryView<'a>> {
        let mut rest = bytes;
        if take(&mut rest, 1)? != [keys::FORMAT_VERSION] {
            return None;
        }
        let parent = take_u64(&mut rest)?;
        let rdn_count = take_u64(&mut rest)?;
        let rdns = rest;
        for _ in 0..rdn_count {
            for _ in 0..take_u64(&mut rest)? {
                take_str(&mut rest)?;
                take_bytes(&mut rest)?;
            }
        }
        let attr_count = take_u64(&mut rest)?;
        // The count comes from the stored bytes: cap the reservation (each attribute takes
        // at least 16 bytes, so a well-formed value cannot hold more than this).
        let mut attrs = Vec::with_capacity(usize::try_from(attr_count).ok()?.min(rest.len() / 16));
        for _ in 0..attr_count {
            let desc = take_str(&mut rest)?;
            let count = take_u64(&mut rest)?;
            let values = rest;
            for _ in 0..count {
                take_bytes(&mut rest)?;
            }
            attrs.push(AttrSpan {
                desc,
                values,
                count,
            });
        }
        Some(EntryView {
            bytes,
            parent,
            rdns,
            rdn_count,
            attrs,
        })
    }

    /// The parent's id.
    pub(crate) fn parent(&self) -> u64 {
        self.parent
    }

    /// The entry decoded into owned values (what [`StoredEntry::decode`] gives).
    pub(crate) fn to_stored(&self) -> Option<StoredEntry> {
        StoredEntry::decode(self.bytes).ok()
    }

    /// The DN alone, decoded into owned RDNs (the same `Dn` as the decoded entry's), for
    /// what needs it parsed, such as access control's normalized DN; the attributes stay
    /// in place. A malformed DN cannot occur ([`EntryView::parse`] checked it); it would
    /// give the RDNs read before it.
    pub fn dn(&self) -> oxldap_proto::Dn {
        let mut rest = self.rdns;
        let mut rdns = Vec::with_capacity(usize::try_from(self.rdn_count).unwrap_or(0).min(64));
        for _ in 0..self.rdn_count {
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

    /// Appends the DN in its RFC 4514 string form to `out` (the same text as
    /// `Dn::to_text` of the decoded entry).
    pub fn write_dn(&self, out: &mut String) {
        let mut rest = self.rdns;
        for i in 0..self.rdn_count {
            if i > 0 {
                out.push(',');
            }
            let avas = take_u64(&mut rest).unwrap_or(0);
            for j in 0..avas {
                if j > 0 {
                    out.push('+');
                }
                let (Some(attr), Some(value)) = (take_str(&mut rest), take_bytes(&mut rest)) else {
                    return;
                };
                oxldap_proto::dn::write_ava_text(out, attr, value);
            }
        }
    }
}

/// The attributes of an [`EntryView`], in stored order.
#[derive(Debug, Clone)]
pub struct AttrIter<'a> {
    spans: std::slice::Iter<'a, AttrSpan<'a>>,
}

/// The values of one attribute of an [`EntryView`].
#[derive(Debug, Clone)]
pub struct ValueIter<'a> {
    rest: &'a [u8],
    left: u64,
}

impl<'a> Iterator for AttrIter<'a> {
    type Item = (&'a str, ValueIter<'a>);

    fn next(&mut self) -> Option<Self::Item> {
        let a = self.spans.next()?;
        Some((
            a.desc,
            ValueIter {
                rest: a.values,
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

impl EntryView<'_> {
    /// The attributes, in stored order, borrowing the stored bytes.
    pub fn attrs(&self) -> AttrIter<'_> {
        AttrIter {
            spans: self.attrs.iter(),
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
            let v = EntryView::parse(&bytes).unwrap();
            prop_assert_eq!(v.parent(), s.parent);
            let mut dn = String::new();
            v.write_dn(&mut dn);
            prop_assert_eq!(dn, s.entry.dn.to_text());
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
                prop_assert!(EntryView::parse(&bytes[..cut]).is_none());
            }
        }
    }

    #[test]
    fn another_format_version_is_refused() {
        let s = stored(1, vec![], vec![("cn".into(), vec![b"a".to_vec()])]);
        let mut bytes = s.encode().unwrap();
        bytes[0] = bytes[0].wrapping_add(1);
        assert!(EntryView::parse(&bytes).is_none());
    }
}
