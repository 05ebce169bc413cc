//! Deterministic search filters built from the fixture's actual values, for
//! `tests/filters_vs_slapd.rs`: equality with case variants and extra spaces, substrings of
//! 1–5 characters at the start, middle and end of values, presence, ordering (on
//! timestamps and entryCSN against bounds far from any load time, and on types without an
//! ordering rule, which is Undefined on both servers), objectClass and DN-valued
//! equality, extensible matches with `:dn:` and explicit rules, and and/or/not
//! combinations. No approximate filters (`tests/approx_vs_slapd.rs` compares those)
//! and no filters on actual timestamps, CSNs or entryUUIDs (they differ between the
//! servers), nor on memberOf (oxldap's `--ldif` load runs the memberof overlay, slapadd
//! does not).

use super::common::{FixtureEntry, BASE, GROUPS, USERS};

/// SplitMix64: small, seedable, and the same on every platform.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number in `0..n` (n > 0).
    pub fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
}

/// One search of the comparison.
#[derive(Debug, Clone)]
pub struct Search {
    pub filter: String,
    pub base: &'static str,
    pub scope: &'static str,
}

/// RFC 4515 §3 escaping of an assertion value.
pub fn escape(v: &str) -> String {
    let mut out = String::with_capacity(v.len());
    for c in v.chars() {
        match c {
            '*' => out.push_str("\\2a"),
            '(' => out.push_str("\\28"),
            ')' => out.push_str("\\29"),
            '\\' => out.push_str("\\5c"),
            '\0' => out.push_str("\\00"),
            c => out.push(c),
        }
    }
    out
}

/// A case or space variant of a value that every equality rule involved
/// (caseIgnoreMatch, caseIgnoreIA5Match, telephoneNumberMatch) treats as equal.
fn variant(rng: &mut Rng, v: &str) -> String {
    match rng.below(8) {
        0 | 1 => v.to_string(),
        2 => v.to_uppercase(),
        3 => v.to_lowercase(),
        4 => v
            .chars()
            .map(|c| {
                if c.is_uppercase() {
                    c.to_lowercase().collect::<String>()
                } else {
                    c.to_uppercase().collect::<String>()
                }
            })
            .collect(),
        5 => format!("  {v}"),
        6 => format!("{v}   "),
        _ => v.replace(' ', "   "),
    }
}

/// A case variant only (substring pieces keep their spaces: an edge space of a piece is
/// significant).
fn case_variant(rng: &mut Rng, v: &str) -> String {
    match rng.below(4) {
        0 => v.to_uppercase(),
        1 => v.to_lowercase(),
        _ => v.to_string(),
    }
}

/// Attributes with values in the fixture and the entries that hold them.
struct Values<'a> {
    entries: &'a [FixtureEntry],
}

impl Values<'_> {
    /// A value of `attr` from a random entry that has one.
    fn of(&self, rng: &mut Rng, attr: &str) -> String {
        let holders: Vec<&FixtureEntry> = self
            .entries
            .iter()
            .filter(|e| !e.get(attr).is_empty())
            .collect();
        assert!(!holders.is_empty(), "no fixture entry has {attr}");
        let vs = rng.pick(&holders).get(attr);
        rng.pick(&vs).to_string()
    }

    fn dn(&self, rng: &mut Rng) -> String {
        rng.pick(self.entries).dn.clone()
    }
}

/// Attributes compared with equality and substrings (all have both rules).
const STRING_ATTRS: &[&str] = &[
    "uid",
    "cn",
    "sn",
    "givenName",
    "mail",
    "ou",
    "description",
    "telephoneNumber",
];

fn equality(rng: &mut Rng, vals: &Values) -> String {
    let attr = *rng.pick(STRING_ATTRS);
    let v = vals.of(rng, attr);
    let name = match (attr, rng.below(4)) {
        ("sn", 0) => "surname",
        ("cn", 0) => "CN",
        ("mail", 0) => "rfc822Mailbox",
        _ => attr,
    };
    let v = if attr == "telephoneNumber" && rng.below(2) == 0 {
        // telephoneNumberMatch ignores spaces and hyphens.
        v.replace(' ', "-")
    } else {
        variant(rng, &v)
    };
    format!("({name}={})", escape(&v))
}

/// A substring of `v`: characters `from..from+len`.
fn piece(v: &[char], from: usize, len: usize) -> String {
    v[from.min(v.len())..(from + len).min(v.len())]
        .iter()
        .collect()
}

fn substrings(rng: &mut Rng, vals: &Values) -> String {
    let attr = *rng.pick(STRING_ATTRS);
    let v: Vec<char> = vals.of(rng, attr).chars().collect();
    let len = 1 + rng.below(5);
    let n = v.len();
    let start = |rng: &mut Rng| case_variant(rng, &piece(&v, 0, len));
    let end = |rng: &mut Rng| case_variant(rng, &piece(&v, n.saturating_sub(len), len));
    let middle = |rng: &mut Rng| {
        let from = if n > len { rng.below(n - len + 1) } else { 0 };
        case_variant(rng, &piece(&v, from, len))
    };
    let e = |s: String| escape(&s);
    let body = match rng.below(6) {
        0 => format!("{}*", e(start(rng))),
        1 => format!("*{}*", e(middle(rng))),
        2 => format!("*{}", e(end(rng))),
        3 => format!("{}*{}", e(start(rng)), e(end(rng))),
        4 => format!("{}*{}*{}", e(start(rng)), e(middle(rng)), e(end(rng))),
        _ => format!("*{}*{}", e(middle(rng)), e(end(rng))),
    };
    format!("({attr}={body})")
}

fn presence(rng: &mut Rng) -> String {
    let attr = rng.pick(&[
        "cn",
        "mail",
        "ou",
        "description",
        "telephoneNumber",
        "member",
        "givenName",
        "o",
        "dc",
        "uid",
        "objectClass",
        "seeAlso",
        "surname",
    ]);
    format!("({attr}=*)")
}

/// Ordering: on the operational types that have an ordering rule, against bounds far
/// from both servers' load times (so the answer does not depend on when each loaded the
/// fixture), or on types without an ordering rule (Undefined on both servers, also under
/// `!`).
fn ordering(rng: &mut Rng, vals: &Values) -> String {
    let f = match rng.below(4) {
        0 => format!(
            "({}{}{})",
            rng.pick(&["createTimestamp", "modifyTimestamp"]),
            rng.pick(&[">=", "<="]),
            rng.pick(&["19700101000000Z", "20991231235959Z", "2000010100Z"])
        ),
        1 => format!(
            "(entryCSN{}{})",
            rng.pick(&[">=", "<="]),
            rng.pick(&[
                "19700101000000.000000Z#000000#000#000000",
                "20991231235959.999999Z#ffffff#fff#ffffff"
            ])
        ),
        _ => {
            let attr = *rng.pick(&["cn", "uid", "sn", "mail"]);
            let v = vals.of(rng, attr);
            format!("({attr}{}{})", rng.pick(&[">=", "<="]), escape(&v))
        }
    };
    if rng.below(3) == 0 {
        format!("(!{f})")
    } else {
        f
    }
}

fn object_class(rng: &mut Rng) -> String {
    let oc = rng.pick(&[
        "person",
        "inetOrgPerson",
        "INETORGPERSON",
        "organizationalPerson",
        "groupOfNames",
        "organizationalUnit",
        "organization",
        "dcObject",
        "top",
        "2.5.6.6",
        "inetLocalMailRecipient",
    ]);
    format!("(objectClass={oc})")
}

/// A DN written differently: upper-case types and values, spaces after the commas.
fn dn_variant(rng: &mut Rng, dn: &str) -> String {
    match rng.below(3) {
        0 => dn.to_string(),
        1 => dn.replace(',', ", "),
        _ => dn.to_uppercase(),
    }
}

fn member(rng: &mut Rng, vals: &Values) -> String {
    let dn = vals.of(rng, "member");
    format!("(member={})", escape(&dn_variant(rng, &dn)))
}

fn extensible(rng: &mut Rng, vals: &Values) -> String {
    match rng.below(8) {
        0 => format!(
            "(ou:dn:={})",
            rng.pick(&["Users", "users", "Groups", "GROUPS"])
        ),
        1 => "(o:dn:=localdomain)".to_string(),
        2 => {
            let uid = vals.of(rng, "uid");
            format!("(uid:dn:={})", escape(&variant(rng, &uid)))
        }
        3 => {
            let cn = vals.of(rng, "cn");
            let cn = if rng.below(2) == 0 {
                cn.to_uppercase()
            } else {
                cn
            };
            format!("(cn:caseExactMatch:={})", escape(&cn))
        }
        4 => {
            let ou = vals.of(rng, "ou");
            format!("(ou:dn:caseIgnoreMatch:={})", escape(&variant(rng, &ou)))
        }
        5 => {
            let sn = vals.of(rng, "sn");
            format!("(sn:2.5.13.2:={})", escape(&variant(rng, &sn)))
        }
        6 => format!(
            "(ou:dn:caseExactMatch:={})",
            rng.pick(&["Users", "users", "Groups"])
        ),
        _ => {
            let dn = vals.dn(rng);
            format!(
                "(member:distinguishedNameMatch:={})",
                escape(&dn_variant(rng, &dn))
            )
        }
    }
}

/// A simple (non-composite) filter.
fn simple(rng: &mut Rng, vals: &Values) -> String {
    match rng.below(20) {
        0..=5 => equality(rng, vals),
        6..=12 => substrings(rng, vals),
        13 => presence(rng),
        14 => ordering(rng, vals),
        15 => object_class(rng),
        16 => member(rng, vals),
        _ => extensible(rng, vals),
    }
}

fn combination(rng: &mut Rng, vals: &Values, depth: usize) -> String {
    let child = |rng: &mut Rng| {
        if depth < 2 && rng.below(4) == 0 {
            combination(rng, vals, depth + 1)
        } else {
            simple(rng, vals)
        }
    };
    match rng.below(5) {
        0 | 1 => {
            let n = 2 + rng.below(2);
            let parts: String = (0..n).map(|_| child(rng)).collect();
            format!("(&{parts})")
        }
        2 | 3 => {
            let n = 2 + rng.below(2);
            let parts: String = (0..n).map(|_| child(rng)).collect();
            format!("(|{parts})")
        }
        _ => {
            // A negation, mostly narrowed by a second condition.
            let neg = format!("(!{})", child(rng));
            if rng.below(3) == 0 {
                neg
            } else {
                format!("(&{}{neg})", child(rng))
            }
        }
    }
}

/// `n` searches from the fixture's values, the same for the same seed.
pub fn searches(entries: &[FixtureEntry], n: usize, seed: u64) -> Vec<Search> {
    let mut rng = Rng::new(seed);
    let vals = Values { entries };
    (0..n)
        .map(|i| {
            let filter = if i % 4 == 3 {
                combination(&mut rng, &vals, 0)
            } else {
                simple(&mut rng, &vals)
            };
            let (base, scope) = match rng.below(10) {
                0 => (USERS, "one"),
                1 => (GROUPS, "sub"),
                2 => (USERS, "children"),
                _ => (BASE, "sub"),
            };
            Search {
                filter,
                base,
                scope,
            }
        })
        .collect()
}
