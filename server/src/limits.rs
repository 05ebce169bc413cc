//! Search limits as slapd applies them (slapd.conf(5) `sizelimit`/`timelimit`,
//! slapd-limits(5), `limits_check` in servers/slapd/limits.c).
//!
//! A search carries the client's own limits (RFC 4511 §4.5.1.4–5, 0 = none asked). The
//! server has a soft limit (used when the client asks for none) and a hard limit (the most
//! a client may ask for; by default equal to the soft one). The rootdn is subject to no
//! server limit, only to what it asks for itself.

use crate::config::HardLimit;
use crate::directory::Limits;
use oxldap_proto::Dn;
use oxldap_schema::NormDn;

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

/// One `limits` line (slapd.conf(5) `limits <selector> <limit> [<limit> ...]`,
/// servers/slapd/limits.c): for searches by the identities `selector` picks, the size and
/// time limits it sets replace the database's `sizelimit`/`timelimit` (those it does not
/// set stay the database's). The first rule that matches applies; the rootdn has no
/// limits, as with the database's.
#[derive(Debug, Clone)]
pub struct LimitRule {
    selector: Selector,
    size: Option<Option<u32>>,
    size_hard: Option<HardLimit>,
    time: Option<Option<u32>>,
    time_hard: Option<HardLimit>,
}

/// Who a `limits` rule applies to.
#[derive(Debug, Clone)]
enum Selector {
    /// `*`: everyone.
    Any,
    /// `anonymous` (also `dn.anonymous`): unauthenticated clients.
    Anonymous,
    /// `users`: authenticated clients.
    Users,
    /// `dn[.self|.this][.STYLE]=PATTERN` or a bare PATTERN (exact): the bound DN (`self`,
    /// the default) or the search base (`this`) against a DN pattern.
    Dn {
        /// `this`: the operation's base DN instead of the bound DN.
        this: bool,
        pattern: crate::acl::DnPattern,
    },
    /// `group[/OC[/AT]]=DN`: members (values of AT, default `member`) of the group entry DN
    /// of class OC (default `groupOfNames`).
    Group {
        dn: Dn,
        class: String,
        member: String,
    },
}

impl LimitRule {
    /// Parses the arguments of a `limits` line (quotes already removed). Limits are
    /// `size[.soft|.hard]=N|unlimited` (`.hard` may also be `soft`) and
    /// `time[.soft|.hard]=...`; `size.unchecked`, `size.pr` and `size.prtotal` are
    /// accepted and not enforced, as with `sizelimit`.
    ///
    /// Errors: a message for the configuration error (unknown selector or limit, bad DN or
    /// regular expression, no limit).
    pub fn parse(args: &[String]) -> Result<LimitRule, String> {
        let [selector, limits @ ..] = args else {
            return Err("expected a selector and at least one limit".into());
        };
        if limits.is_empty() {
            return Err(format!("no limit after the selector {selector:?}"));
        }
        let mut rule = LimitRule {
            selector: Selector::parse(selector)?,
            size: None,
            size_hard: None,
            time: None,
            time_hard: None,
        };
        for l in limits {
            let (key, value) = l.split_once('=').ok_or_else(|| {
                format!("expected size[.soft|.hard]=N or time[.soft|.hard]=N, got {l:?}")
            })?;
            let key = key.to_ascii_lowercase();
            let (kind, sub) = key.split_once('.').unwrap_or((key.as_str(), ""));
            let number = || {
                parse_value(value)
                    .ok_or_else(|| format!("expected an integer or \"unlimited\", got {value:?}"))
            };
            let hard = || -> Result<HardLimit, String> {
                if value.eq_ignore_ascii_case("soft") {
                    Ok(HardLimit::Soft)
                } else {
                    number().map(HardLimit::Limit)
                }
            };
            match (kind, sub) {
                ("size", "") => {
                    rule.size = Some(number()?);
                    rule.size_hard = Some(HardLimit::Soft);
                }
                ("size", "soft") => rule.size = Some(number()?),
                ("size", "hard") => rule.size_hard = Some(hard()?),
                ("size", "unchecked" | "pr" | "prtotal") => {}
                ("time", "") => {
                    rule.time = Some(number()?);
                    rule.time_hard = Some(HardLimit::Soft);
                }
                ("time", "soft") => rule.time = Some(number()?),
                ("time", "hard") => rule.time_hard = Some(hard()?),
                _ => return Err(format!("unknown limit {key:?}")),
            }
        }
        Ok(rule)
    }

    /// Normalizes the rule's DNs against `schema` (once, when the server starts).
    ///
    /// Errors: a DN that does not normalize (unknown attribute type, bad value).
    pub fn resolve(&mut self, schema: &oxldap_schema::Schema) -> Result<(), String> {
        match &mut self.selector {
            Selector::Dn { pattern, .. } => pattern.resolve(schema).map_err(|e| e.0),
            _ => Ok(()),
        }
    }

    /// Whether the rule selects by the search base (`dn.this`), so the base must be
    /// normalized to apply it.
    pub fn uses_base(&self) -> bool {
        matches!(self.selector, Selector::Dn { this: true, .. })
    }

    /// Whether the rule applies to a search by `who` (None: anonymous) under `base`.
    fn selects(
        &self,
        who: Option<&NormDn>,
        base: Option<&NormDn>,
        groups: &dyn Fn(&Dn, &str, &str, &NormDn) -> bool,
    ) -> bool {
        match &self.selector {
            Selector::Any => true,
            Selector::Anonymous => who.is_none(),
            Selector::Users => who.is_some(),
            Selector::Dn { this, pattern } => {
                let dn = if *this { base } else { who };
                dn.is_some_and(|d| pattern.matches(d, &d.to_string()))
            }
            Selector::Group { dn, class, member } => {
                who.is_some_and(|me| groups(dn, class, member, me))
            }
        }
    }

    /// `limits` with this rule's size and time limits in place of those it sets.
    fn apply(&self, mut limits: Limits) -> Limits {
        if let Some(s) = self.size {
            limits.size = s;
        }
        if let Some(h) = self.size_hard {
            limits.size_hard = h;
        }
        if let Some(t) = self.time {
            limits.time = t;
        }
        if let Some(h) = self.time_hard {
            limits.time_hard = h;
        }
        limits
    }
}

impl Selector {
    fn parse(text: &str) -> Result<Selector, String> {
        let lower = text.to_ascii_lowercase();
        match lower.as_str() {
            "*" => return Ok(Selector::Any),
            "anonymous" => return Ok(Selector::Anonymous),
            "users" => return Ok(Selector::Users),
            _ => {}
        }
        let Some((key, value)) = text.split_once('=') else {
            // A bare pattern: an exact DN.
            return Ok(Selector::Dn {
                this: false,
                pattern: crate::acl::DnPattern::parse(None, text).map_err(|e| e.0)?,
            });
        };
        let key_lower = key.to_ascii_lowercase();
        if let Some(spec) = key_lower.strip_prefix("group") {
            let mut parts = spec.split('/').skip(1);
            let class = parts
                .next()
                .filter(|c| !c.is_empty())
                .unwrap_or("groupOfNames");
            let member = parts.next().filter(|m| !m.is_empty()).unwrap_or("member");
            if !spec.is_empty() && !spec.starts_with('/') {
                return Err(format!("unknown selector {text:?}"));
            }
            let dn = Dn::parse(value).map_err(|e| format!("invalid group DN {value:?}: {e}"))?;
            return Ok(Selector::Group {
                dn,
                class: class.to_string(),
                member: member.to_string(),
            });
        }
        let Some(spec) = key_lower.strip_prefix("dn") else {
            return Err(format!("unknown selector {text:?}"));
        };
        let mut this = false;
        let mut style = None;
        for word in spec.split('.').filter(|w| !w.is_empty()) {
            match word {
                "self" => this = false,
                "this" => this = true,
                "anonymous" => return Ok(Selector::Anonymous),
                "users" => return Ok(Selector::Users),
                w => style = Some(w.to_string()),
            }
        }
        if !spec.is_empty() && !spec.starts_with('.') {
            return Err(format!("unknown selector {text:?}"));
        }
        let pattern = match style.as_deref() {
            // slapd-limits: `dn.regex=` is the expression itself (no `$$` doubling needed,
            // but accepted as in access rules).
            Some(s) => crate::acl::DnPattern::parse(Some(s), value),
            None => crate::acl::DnPattern::parse(None, value),
        }
        .map_err(|e| e.0)?;
        Ok(Selector::Dn { this, pattern })
    }
}

/// A limit value: an integer, or `unlimited`/`none`/`-1` (None).
fn parse_value(value: &str) -> Option<Option<u32>> {
    match value.to_ascii_lowercase().as_str() {
        "unlimited" | "none" | "-1" => Some(None),
        v => v.parse::<u32>().ok().map(Some),
    }
}

/// The limits a search by `who` under `base` runs under: the first of `rules` that
/// selects it, over the database's `limits` (slapd's `limits_get`). `groups` answers group
/// membership (`acl::group_has_member` through the store).
pub fn for_search(
    rules: &[LimitRule],
    limits: Limits,
    who: Option<&NormDn>,
    base: Option<&NormDn>,
    groups: &dyn Fn(&Dn, &str, &str, &NormDn) -> bool,
) -> Limits {
    rules
        .iter()
        .find(|r| r.selects(who, base, groups))
        .map_or(limits, |r| r.apply(limits))
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
