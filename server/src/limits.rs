//! Search limits as slapd applies them (slapd.conf(5) `sizelimit`/`timelimit`,
//! slapd-limits(5), `limits_check` in servers/slapd/limits.c).
//!
//! A search carries the client's own limits (RFC 4511 §4.5.1.4–5, 0 = none asked). The
//! server has a soft limit (used when the client asks for none) and a hard limit (the most
//! a client may ask for; by default equal to the soft one). The rootdn is subject to no
//! server limit, only to what it asks for itself.

use crate::config::HardLimit;

/// The limit a search runs under (None: unlimited), from the client's request (`client`,
/// 0 or negative = none asked), whether the requester is the rootdn, and the server's soft
/// and hard limits.
///
/// As slapd's `limits_check`: no client limit → the soft limit; a client limit above the
/// hard limit → the hard limit (with `hard = soft`, the soft one); otherwise the client's.
pub fn effective(client: i32, is_root: bool, soft: Option<u32>, hard: HardLimit) -> Option<u32> {
    let client = u32::try_from(client).ok().filter(|c| *c > 0);
    if is_root {
        return client;
    }
    let Some(asked) = client else {
        return soft;
    };
    let hard = match hard {
        HardLimit::Soft => soft,
        HardLimit::Limit(h) => h,
    };
    Some(match hard {
        Some(h) => asked.min(h),
        None => asked,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slapd_limit_rules() {
        // No client limit: the soft limit.
        assert_eq!(effective(0, false, Some(500), HardLimit::Soft), Some(500));
        assert_eq!(effective(0, false, None, HardLimit::Soft), None);
        // Client below the hard (= soft) limit: the client's.
        assert_eq!(effective(10, false, Some(500), HardLimit::Soft), Some(10));
        // Client above hard = soft: the soft limit.
        assert_eq!(
            effective(1000, false, Some(500), HardLimit::Soft),
            Some(500)
        );
        // Explicit hard limit above the soft one: the client may ask up to it.
        let hard = HardLimit::Limit(Some(800));
        assert_eq!(effective(700, false, Some(500), hard), Some(700));
        assert_eq!(effective(900, false, Some(500), hard), Some(800));
        assert_eq!(effective(0, false, Some(500), hard), Some(500));
        // Unlimited hard limit: whatever the client asks.
        assert_eq!(
            effective(100_000, false, Some(500), HardLimit::Limit(None)),
            Some(100_000)
        );
        // The rootdn: only its own limit.
        assert_eq!(effective(0, true, Some(5), HardLimit::Soft), None);
        assert_eq!(effective(3, true, Some(5), HardLimit::Soft), Some(3));
        // A negative request (malformed) counts as none.
        assert_eq!(effective(-4, false, Some(5), HardLimit::Soft), Some(5));
    }
}
