//! Change sequence numbers in OpenLDAP's format.
//!
//! `YYYYmmddHHMMSS.uuuuuuZ#cccccc#sid#mmmmmm` (slapd `csn.c`): UTC time with microseconds,
//! a hexadecimal change count that orders writes sharing a microsecond, the hexadecimal
//! serverID and a modifier number (always 0 here). CSNs sort lexicographically in time order.

use std::sync::Mutex;
use time::OffsetDateTime;

/// A CSN: the microsecond timestamp (since the Unix epoch, UTC), the change count within
/// that microsecond, and the serverID.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Csn {
    /// Microseconds since 1970-01-01T00:00:00Z.
    pub micros: i64,
    /// Orders CSNs that share `micros` (0..=0xffffff).
    pub count: u32,
    /// The serverID of the server that made the change (0..=0xfff).
    pub sid: u16,
}

impl Csn {
    /// The CSN as slapd prints it, e.g. `20261129134633.123456Z#000000#000#000000`.
    ///
    /// Written digit by digit ([`push_padded`]): a bulk load formats two CSN strings
    /// and a timestamp per entry, and `format!` made them ~4,000 instructions each
    /// (issue 7). A year outside 0..=9999 takes the `format!` path, whose output the
    /// fast one equals everywhere else (`fast_format_matches_format` pins it).
    pub fn to_ldap_string(&self) -> String {
        let (dt, frac) = self.datetime();
        if !(0..=9999).contains(&dt.year()) {
            return self.ldap_string_fmt();
        }
        let mut out = String::with_capacity(40);
        push_datetime(&mut out, &dt);
        out.push('.');
        push_padded(&mut out, u64::try_from(frac).unwrap_or(0), 10, 6);
        out.push_str("Z#");
        push_padded(&mut out, u64::from(self.count), 16, 6);
        out.push('#');
        push_padded(&mut out, u64::from(self.sid), 16, 3);
        out.push_str("#000000");
        out
    }

    /// The GeneralizedTime (RFC 4517 §3.3.13) of the CSN, second precision, as slapd
    /// writes createTimestamp/modifyTimestamp: `YYYYmmddHHMMSSZ`.
    pub fn to_generalized_time(&self) -> String {
        let (dt, _) = self.datetime();
        if !(0..=9999).contains(&dt.year()) {
            return self.generalized_time_fmt();
        }
        let mut out = String::with_capacity(15);
        push_datetime(&mut out, &dt);
        out.push('Z');
        out
    }

    /// The UTC date and time of the CSN's second (the epoch when out of range), and the
    /// microseconds within it.
    fn datetime(&self) -> (OffsetDateTime, i64) {
        let secs = self.micros.div_euclid(1_000_000);
        let frac = self.micros.rem_euclid(1_000_000);
        let dt = OffsetDateTime::from_unix_timestamp(secs).unwrap_or(OffsetDateTime::UNIX_EPOCH);
        (dt, frac)
    }

    /// [`Csn::to_ldap_string`] with `format!`: the reference, and the path for years
    /// outside 0..=9999.
    fn ldap_string_fmt(&self) -> String {
        let (dt, frac) = self.datetime();
        format!(
            "{:04}{:02}{:02}{:02}{:02}{:02}.{:06}Z#{:06x}#{:03x}#000000",
            dt.year(),
            u8::from(dt.month()),
            dt.day(),
            dt.hour(),
            dt.minute(),
            dt.second(),
            frac,
            self.count,
            self.sid
        )
    }

    /// [`Csn::to_generalized_time`] with `format!` (see [`Csn::ldap_string_fmt`]).
    fn generalized_time_fmt(&self) -> String {
        let (dt, _) = self.datetime();
        format!(
            "{:04}{:02}{:02}{:02}{:02}{:02}Z",
            dt.year(),
            u8::from(dt.month()),
            dt.day(),
            dt.hour(),
            dt.minute(),
            dt.second()
        )
    }

    /// Parses slapd's CSN string form; `None` when it is not one.
    pub fn parse(s: &str) -> Option<Csn> {
        let mut parts = s.split('#');
        let ts = parts.next()?;
        let count = u32::from_str_radix(parts.next()?, 16).ok()?;
        let sid = u16::from_str_radix(parts.next()?, 16).ok()?;
        let _mod = parts.next()?;
        if parts.next().is_some() || ts.len() != 22 || !ts.ends_with('Z') {
            return None;
        }
        let num = |r: std::ops::Range<usize>| ts.get(r).and_then(|x| x.parse::<i64>().ok());
        let date = time::Date::from_calendar_date(
            i32::try_from(num(0..4)?).ok()?,
            time::Month::try_from(u8::try_from(num(4..6)?).ok()?).ok()?,
            u8::try_from(num(6..8)?).ok()?,
        )
        .ok()?;
        let t = time::Time::from_hms(
            u8::try_from(num(8..10)?).ok()?,
            u8::try_from(num(10..12)?).ok()?,
            u8::try_from(num(12..14)?).ok()?,
        )
        .ok()?;
        let micros = num(15..21)?;
        let secs = date.with_time(t).assume_utc().unix_timestamp();
        Some(Csn {
            micros: secs * 1_000_000 + micros,
            count,
            sid,
        })
    }
}

/// Appends `YYYYmmddHHMMSS` of `dt` (a year in 0..=9999) to `out`.
fn push_datetime(out: &mut String, dt: &OffsetDateTime) {
    push_padded(out, u64::try_from(dt.year()).unwrap_or(0), 10, 4);
    push_padded(out, u64::from(u8::from(dt.month())), 10, 2);
    push_padded(out, u64::from(dt.day()), 10, 2);
    push_padded(out, u64::from(dt.hour()), 10, 2);
    push_padded(out, u64::from(dt.minute()), 10, 2);
    push_padded(out, u64::from(dt.second()), 10, 2);
}

/// Appends `value` in `radix` (10 or 16, lowercase) with at least `width` digits,
/// zero-padded on the left, as `format!("{:0width$}")` / `{:0width$x}` do: a wider
/// value keeps all its digits.
fn push_padded(out: &mut String, mut value: u64, radix: u64, width: usize) {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    // u64::MAX has 20 decimal digits.
    let mut buf = [b'0'; 20];
    let mut at = buf.len();
    while value > 0 && at > 0 {
        at -= 1;
        let digit = usize::try_from(value % radix).unwrap_or(0);
        if let Some(slot) = buf.get_mut(at) {
            *slot = DIGITS.get(digit).copied().unwrap_or(b'0');
        }
        value /= radix;
    }
    let start = at.min(buf.len().saturating_sub(width));
    for &b in buf.get(start..).unwrap_or_default() {
        out.push(char::from(b));
    }
}

/// Hands out strictly increasing CSNs for one server, even when the clock steps back or many
/// writes share a microsecond (the count then increases instead).
#[derive(Debug)]
pub struct CsnClock {
    /// The serverID stamped into every CSN.
    sid: u16,
    /// The last CSN handed out; guarded because readers of the store may also stamp.
    last: Mutex<Option<Csn>>,
    /// A fixed time for reproducible CSNs in tests (microseconds), if set.
    fixed_micros: Option<i64>,
}

impl CsnClock {
    /// A clock for `sid` that never goes below `last` (the newest CSN already stored).
    pub fn new(sid: u16, last: Option<Csn>) -> CsnClock {
        CsnClock {
            sid,
            last: Mutex::new(last),
            fixed_micros: None,
        }
    }

    /// A clock that reads a fixed time instead of the system clock (reproducible tests),
    /// and, like [`CsnClock::new`], never goes below `last` (the newest CSN already
    /// stored): a fresh store gets the same CSNs on every run, and a reopened one keeps
    /// stamping after what it stored (the count, then the time, increases), so CSNs never
    /// go backwards across a restart.
    pub fn fixed(sid: u16, micros: i64, last: Option<Csn>) -> CsnClock {
        CsnClock {
            sid,
            last: Mutex::new(last),
            fixed_micros: Some(micros),
        }
    }

    /// The next CSN: the current time, or the last CSN's time with the count increased when
    /// the clock has not moved forward.
    pub fn next(&self) -> Csn {
        let now = self.fixed_micros.unwrap_or_else(|| {
            let t = OffsetDateTime::now_utc();
            t.unix_timestamp() * 1_000_000 + i64::from(t.microsecond())
        });
        let mut last = self.last.lock().unwrap_or_else(|p| p.into_inner());
        let csn = match *last {
            Some(l) if now <= l.micros => {
                if l.count >= 0xff_ffff {
                    Csn {
                        micros: l.micros + 1,
                        count: 0,
                        sid: self.sid,
                    }
                } else {
                    Csn {
                        micros: l.micros,
                        count: l.count + 1,
                        sid: self.sid,
                    }
                }
            }
            _ => Csn {
                micros: now,
                count: 0,
                sid: self.sid,
            },
        };
        *last = Some(csn);
        csn
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn format_and_parse_round_trip() {
        let c = Csn {
            micros: 1_796_045_193_123_456,
            count: 3,
            sid: 1,
        };
        let s = c.to_ldap_string();
        assert_eq!(s.len(), "20261129134633.123456Z#000003#001#000000".len());
        assert!(s.ends_with(".123456Z#000003#001#000000"), "{s}");
        assert_eq!(Csn::parse(&s), Some(c));
        assert_eq!(Csn::parse("garbage"), None);
    }

    #[test]
    fn strictly_increasing_with_fixed_clock() {
        let clock = CsnClock::fixed(2, 1_000_000, None);
        let a = clock.next();
        let b = clock.next();
        let c = clock.next();
        assert!(a < b && b < c);
        assert!(a.to_ldap_string() < b.to_ldap_string());
        assert_eq!(c.count, 2);
    }

    #[test]
    fn never_goes_back_below_stored_csn() {
        let future = Csn {
            micros: i64::MAX / 4,
            count: 7,
            sid: 0,
        };
        let clock = CsnClock::new(0, Some(future));
        assert!(clock.next() > future);
    }

    #[test]
    fn fast_format_matches_format() {
        let cases = [
            (0i64, 0u32, 0u16),
            (1_796_045_193_123_456, 3, 1),
            (-1, 0, 0),
            (-1_000_001, 5, 0xfff),
            (253_402_300_799_999_999, 0xff_ffff, 0xfff), // 9999-12-31T23:59:59.999999
            (253_402_300_800_000_000, 1, 1),             // year 10000: format! path
            (i64::MAX / 4, 0x1_000_000, 0xffff),         // out of range: the epoch
            (86_399_999_999, 0xabc, 0x7),
            (-62_167_219_200_000_001, 2, 3), // year -1: format! path
        ];
        for (micros, count, sid) in cases {
            let c = Csn { micros, count, sid };
            assert_eq!(c.to_ldap_string(), c.ldap_string_fmt(), "{c:?}");
            assert_eq!(c.to_generalized_time(), c.generalized_time_fmt(), "{c:?}");
        }
    }

    proptest::proptest! {
        #[test]
        fn fast_format_matches_format_everywhere(
            micros in -62_167_219_200_000_000i64..253_402_300_800_000_000,
            count in 0u32..=u32::MAX,
            sid in 0u16..=u16::MAX,
        ) {
            let c = Csn { micros, count, sid };
            proptest::prop_assert_eq!(c.to_ldap_string(), c.ldap_string_fmt());
            proptest::prop_assert_eq!(c.to_generalized_time(), c.generalized_time_fmt());
        }
    }
}
