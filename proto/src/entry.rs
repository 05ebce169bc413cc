//! Entries as LDAP carries them: a DN and a list of attributes with their values.

use crate::dn::{Dn, DnError};
use ldap3_proto::proto::{LdapPartialAttribute, LdapSearchResultEntry};
use serde::{Deserialize, Serialize};

/// An attribute: a description (type plus options, e.g. `cn` or `cn;lang-en`) and its values.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Attribute {
    /// The attribute description (RFC 4512 §2.5) as written or as canonicalized by the schema.
    pub desc: String,
    /// The values, raw bytes (RFC 4511 §4.1.7 AttributeValue is an OCTET STRING).
    #[serde(with = "value_list")]
    pub values: Vec<Vec<u8>>,
}

/// An entry: its DN and attributes, in no particular order (RFC 4512 §2).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Entry {
    /// The entry's distinguished name.
    pub dn: Dn,
    /// The attributes. Descriptions are compared case-insensitively by callers.
    pub attrs: Vec<Attribute>,
}

/// Read access to an entry's attributes, whether it is an owned [`Entry`] or a view over
/// stored bytes (the store's `EntryView`), so filter evaluation (RFC 4511 §4.5.1.7) runs
/// on either without copying values out.
pub trait Attributes {
    /// The values of one attribute.
    type Values<'s>: Iterator<Item = &'s [u8]> + Clone
    where
        Self: 's;
    /// The attributes: each description (RFC 4512 §2.5) and its values, in stored order.
    type Iter<'s>: Iterator<Item = (&'s str, Self::Values<'s>)>
    where
        Self: 's;

    /// The attributes, in order.
    fn attributes(&self) -> Self::Iter<'_>;

    /// The whole entry, for what needs its DN as parsed RDNs (an extensible match with
    /// `:dn:`, RFC 4511 §4.5.1.7.7): borrowed when owned already, else decoded.
    fn to_entry(&self) -> std::borrow::Cow<'_, Entry>;
}

/// The values of an owned attribute as byte slices.
pub type OwnedValues<'s> = std::iter::Map<std::slice::Iter<'s, Vec<u8>>, fn(&Vec<u8>) -> &[u8]>;

/// An owned attribute as a description and its values.
pub type OwnedAttributes<'s> = std::iter::Map<
    std::slice::Iter<'s, Attribute>,
    fn(&'s Attribute) -> (&'s str, OwnedValues<'s>),
>;

impl Attributes for Entry {
    type Values<'s> = OwnedValues<'s>;
    type Iter<'s> = OwnedAttributes<'s>;

    fn attributes(&self) -> OwnedAttributes<'_> {
        fn parts(a: &Attribute) -> (&str, OwnedValues<'_>) {
            (a.desc.as_str(), a.values.iter().map(Vec::as_slice))
        }
        self.attrs.iter().map(parts)
    }

    fn to_entry(&self) -> std::borrow::Cow<'_, Entry> {
        std::borrow::Cow::Borrowed(self)
    }
}

impl Attribute {
    /// An attribute with a description and values (RFC 4511 §4.1.7 `Attribute`).
    pub fn new(desc: impl Into<String>, values: Vec<Vec<u8>>) -> Attribute {
        Attribute {
            desc: desc.into(),
            values,
        }
    }
}

impl Entry {
    /// An entry named `dn` with no attributes (RFC 4512 §2).
    pub fn new(dn: Dn) -> Entry {
        Entry {
            dn,
            attrs: Vec::new(),
        }
    }

    fn position(&self, desc: &str) -> Option<usize> {
        self.attrs
            .iter()
            .position(|a| a.desc.eq_ignore_ascii_case(desc))
    }

    /// The attribute whose description equals `desc` ignoring ASCII case (descriptions
    /// are case-insensitive, RFC 4512 §2.5). Options must match exactly as written.
    pub fn get(&self, desc: &str) -> Option<&Attribute> {
        self.attrs
            .iter()
            .find(|a| a.desc.eq_ignore_ascii_case(desc))
    }

    /// Mutable access to the attribute named `desc` (see [`Entry::get`]).
    pub fn get_mut(&mut self, desc: &str) -> Option<&mut Attribute> {
        self.attrs
            .iter_mut()
            .find(|a| a.desc.eq_ignore_ascii_case(desc))
    }

    /// The values of `desc` (see [`Entry::get`]); an empty slice when absent.
    pub fn values(&self, desc: &str) -> &[Vec<u8>] {
        self.get(desc).map(|a| a.values.as_slice()).unwrap_or(&[])
    }

    /// The first value of `desc` as UTF-8 text, if present and valid UTF-8.
    pub fn first_str(&self, desc: &str) -> Option<&str> {
        self.values(desc)
            .first()
            .and_then(|v| std::str::from_utf8(v).ok())
    }

    /// Appends `value` to the attribute `desc`, creating the attribute (with `desc` as
    /// written) if the entry has none. Does not check for duplicate values.
    pub fn push_value(&mut self, desc: &str, value: impl Into<Vec<u8>>) {
        let value = value.into();
        match self.get_mut(desc) {
            Some(a) => a.values.push(value),
            None => self.attrs.push(Attribute {
                desc: desc.to_owned(),
                values: vec![value],
            }),
        }
    }

    /// Removes and returns the attribute `desc` (see [`Entry::get`]).
    pub fn remove(&mut self, desc: &str) -> Option<Attribute> {
        self.position(desc).map(|i| self.attrs.remove(i))
    }
}

impl Entry {
    /// The entry as a SearchResultEntry (RFC 4511 §4.5.2), every attribute as it is: the
    /// wire form of an entry, also used for AddRequest's attribute list (§4.7).
    pub fn into_search_result(self) -> LdapSearchResultEntry {
        LdapSearchResultEntry {
            dn: self.dn.to_string(),
            attributes: self
                .attrs
                .into_iter()
                .map(|a| LdapPartialAttribute {
                    atype: a.desc,
                    vals: a.values,
                })
                .collect(),
        }
    }

    /// The entry a SearchResultEntry carries.
    ///
    /// Errors: the [`DnError`] of a DN that does not parse (RFC 4514).
    pub fn from_search_result(e: LdapSearchResultEntry) -> Result<Entry, DnError> {
        Ok(Entry {
            dn: Dn::parse(&e.dn)?,
            attrs: e
                .attributes
                .into_iter()
                .map(|a| Attribute {
                    desc: a.atype,
                    values: a.vals,
                })
                .collect(),
        })
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::panic)]
mod tests {
    use super::*;

    #[test]
    fn helpers() {
        let mut e = Entry::new(Dn::parse("cn=a,dc=b").unwrap());
        assert!(e.get("cn").is_none());
        assert!(e.values("cn").is_empty());
        e.push_value("cn", "a");
        e.push_value("CN", b"b".to_vec());
        e.push_value("cn;lang-en", "c");
        assert_eq!(e.attrs.len(), 2);
        assert_eq!(e.values("Cn"), &[b"a".to_vec(), b"b".to_vec()]);
        assert_eq!(e.first_str("cn"), Some("a"));
        assert_eq!(e.get("CN;LANG-EN").unwrap().values, vec![b"c".to_vec()]);
        e.get_mut("cn").unwrap().values.clear();
        assert_eq!(e.first_str("cn"), None);
        e.push_value("x", vec![0xff]);
        assert_eq!(e.first_str("x"), None);
        assert_eq!(e.remove("CN").unwrap().desc, "cn");
        assert!(e.remove("cn").is_none());
        assert_eq!(e.attrs.len(), 2);
    }
}

/// Serde for a list of values as a sequence of byte strings: formats with a byte-string
/// type (bincode, the store's) read each value with one copy instead of byte by byte. In
/// bincode the bytes are the same as those of a `Vec<Vec<u8>>` (a u64 length, then the
/// bytes), so stored entries read either way.
mod value_list {
    use serde::de::{SeqAccess, Visitor};
    use serde::ser::SerializeSeq;
    use serde::{Deserializer, Serializer};
    use serde_bytes::{ByteBuf, Bytes};

    pub fn serialize<S: Serializer>(values: &[Vec<u8>], s: S) -> Result<S::Ok, S::Error> {
        let mut seq = s.serialize_seq(Some(values.len()))?;
        for v in values {
            seq.serialize_element(Bytes::new(v))?;
        }
        seq.end()
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<Vec<u8>>, D::Error> {
        struct Values;
        impl<'de> Visitor<'de> for Values {
            type Value = Vec<Vec<u8>>;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a sequence of byte strings")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
                // The hint comes from the input: cap it, as serde does.
                let mut out = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(4096));
                while let Some(v) = seq.next_element::<ByteBuf>()? {
                    out.push(v.into_vec());
                }
                Ok(out)
            }
        }
        d.deserialize_seq(Values)
    }
}
