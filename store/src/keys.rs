//! Key encodings for the sled trees. All integers are big-endian so that byte order is
//! numeric order (sled iterates in byte order).

use oxldap_schema::NormDn;

/// The `dn2id` key of a normalized DN: its RDNs from the root down, each followed by a NUL
/// byte. A subtree is then a prefix scan, and the key of a DN is a prefix of the keys of
/// exactly its descendants (normalized RDNs never contain a raw NUL: it is escaped).
pub fn dn_key(dn: &NormDn) -> Vec<u8> {
    let mut key = Vec::with_capacity(dn.rdns.iter().map(|r| r.len() + 1).sum());
    for rdn in dn.rdns.iter().rev() {
        key.extend_from_slice(rdn.as_bytes());
        key.push(0);
    }
    key
}

/// The `entries` key of an entry id.
pub fn id_key(id: u64) -> [u8; 8] {
    id.to_be_bytes()
}

/// Decodes an 8-byte big-endian id.
pub fn decode_id(bytes: &[u8]) -> Option<u64> {
    <[u8; 8]>::try_from(bytes).ok().map(u64::from_be_bytes)
}

/// The `children` key linking `parent` to `child`; a parent's children are a prefix scan.
pub fn child_key(parent: u64, child: u64) -> [u8; 16] {
    let mut k = [0u8; 16];
    k[..8].copy_from_slice(&parent.to_be_bytes());
    k[8..].copy_from_slice(&child.to_be_bytes());
    k
}

/// The id of the root of the tree of naming contexts: suffix entries are its children.
pub const ROOT_ID: u64 = 0;

/// `meta` key: the next entry id to allocate.
pub const META_NEXT_ID: &[u8] = b"next_id";
/// `meta` key: the newest CSN written (slapd's contextCSN is derived from it).
pub const META_LAST_CSN: &[u8] = b"last_csn";
/// `meta` key: the fingerprint of the index configuration the `index` tree was built for.
pub const META_INDEXES: &[u8] = b"indexes";
/// `meta` key: the newest CSN dropped from the change log by its size bound.
pub const META_LOG_TRIMMED: &[u8] = b"log_trimmed";
/// `meta` key: the changeNumber the next change log record gets (u64 BE; 1 when absent).
pub const META_NEXT_CHANGE: &[u8] = b"next_change";
/// `meta` key: the CSN of the last snapshot restore or clear (`crate::snapshot`): the
/// entries and the change log were replaced then, so a content-sync cookie older than it
/// describes a state the change log does not lead from (see `Store::restored_at`).
pub const META_RESTORED: &[u8] = b"restored_at";
/// `meta` key: present while `oxldap restore` loads a backup (`Store::begin_restore` to
/// `Store::finish_restore`): a folder that still holds it was cut off part-way and is not
/// opened except by another restore.
pub const META_RESTORING: &[u8] = b"restoring";
/// `meta` key: the normalized suffixes the data was written for, one per line
/// (`crate::store::check_suffixes`): a folder is not served under other suffixes.
pub const META_SUFFIXES: &[u8] = b"suffixes";
/// `meta` key: the storage format version.
pub const META_FORMAT: &[u8] = b"format";
/// The storage format this code writes and reads.
pub const FORMAT_VERSION: u8 = 1;

#[cfg(test)]
mod tests {
    use super::*;

    fn n(rdns: &[&str]) -> NormDn {
        NormDn {
            rdns: rdns.iter().map(|s| s.to_string()).collect(),
        }
    }

    #[test]
    fn descendants_share_the_prefix_siblings_do_not() {
        let base = dn_key(&n(&["cn=a", "dc=test"]));
        let child = dn_key(&n(&["uid=x", "cn=a", "dc=test"]));
        let sibling = dn_key(&n(&["cn=ab", "dc=test"]));
        assert!(child.starts_with(&base));
        assert!(!sibling.starts_with(&base));
    }
}
