//! slapd's `stats` log lines (slapd.conf(5) `loglevel stats`, 256; `-d stats`): one line
//! when a connection opens and closes, one per operation request with its main arguments,
//! and one per result with the result code and, for searches, the entries sent. They are
//! what a small install audits (who bound, what was searched, what failed).
//!
//! The lines go to the tracing target `stats` at info level; the binary's log filter
//! turns that target on only when the configured or `-d` level includes `stats` (see
//! `service::tracing_level` in the binary). When it is off, every function here returns
//! after one cached check, so the operation path pays nothing measurable.
//!
//! Format, after slapd's (servers/slapd/result.c, `do_*` in the frontend):
//!
//! ```text
//! conn=3 fd=- ACCEPT from IP=127.0.0.1:50412
//! conn=3 op=1 BIND dn="cn=admin,dc=localdomain,dc=test" method=128
//! conn=3 op=1 RESULT tag=97 err=0 text=
//! conn=3 op=2 SRCH base="dc=localdomain,dc=test" scope=2 deref=0 filter="(uid=ana)"
//! conn=3 op=2 SRCH attr=cn mail
//! conn=3 op=2 SEARCH RESULT tag=101 err=0 nentries=1 text=
//! conn=3 op=3 UNBIND
//! conn=3 closed
//! ```
//!
//! Passwords, compare values and extended-operation values are never logged.

use ldap3_proto::proto::{LdapBindCred, LdapDerefAliases, LdapOp, LdapSearchScope};
use oxldap_proto::codec::Outgoing;
use std::collections::HashMap;

/// The tracing target of the stats lines.
pub const TARGET: &str = "stats";

/// Whether the stats lines are logged now (one cached callsite check).
pub fn enabled() -> bool {
    tracing::enabled!(target: "stats", tracing::Level::INFO)
}

/// Logs a connection's start: its number and the client's address.
pub fn accepted(conn: u64, peer: Option<std::net::SocketAddr>) {
    if enabled() {
        match peer {
            Some(p) => tracing::info!(target: "stats", "conn={conn} ACCEPT from IP={p}"),
            None => tracing::info!(target: "stats", "conn={conn} ACCEPT"),
        }
    }
}

/// Logs a connection's end.
pub fn closed(conn: u64) {
    if enabled() {
        tracing::info!(target: "stats", "conn={conn} closed");
    }
}

/// Logs one decoded request, before it runs: its kind (slapd's names: BIND, SRCH, ADD,
/// MOD, DEL, MODRDN, CMP, EXT, ABANDON, UNBIND) and main arguments.
pub fn request(conn: u64, msgid: i32, op: &LdapOp) {
    if !enabled() {
        return;
    }
    match op {
        LdapOp::BindRequest(b) => {
            let method = match &b.cred {
                LdapBindCred::Simple(_) => "method=128".to_string(),
                LdapBindCred::SASL(s) => format!("method=163 mech={}", s.mechanism),
            };
            tracing::info!(target: "stats", "conn={conn} op={msgid} BIND dn=\"{}\" {method}", b.dn);
        }
        LdapOp::SearchRequest(s) => {
            let scope = match s.scope {
                LdapSearchScope::Base => 0,
                LdapSearchScope::OneLevel => 1,
                LdapSearchScope::Subtree => 2,
                LdapSearchScope::Children => 3,
            };
            let deref = match s.aliases {
                LdapDerefAliases::Never => 0,
                LdapDerefAliases::InSearching => 1,
                LdapDerefAliases::FindingBaseObj => 2,
                LdapDerefAliases::Always => 3,
            };
            let filter = oxldap_proto::filter::Filter::try_from(&s.filter)
                .map(|f| f.to_string())
                .unwrap_or_else(|_| "(?=undefined)".to_string());
            tracing::info!(
                target: "stats",
                "conn={conn} op={msgid} SRCH base=\"{}\" scope={scope} deref={deref} filter=\"{filter}\"",
                s.base
            );
            if !s.attrs.is_empty() {
                tracing::info!(target: "stats", "conn={conn} op={msgid} SRCH attr={}", s.attrs.join(" "));
            }
        }
        LdapOp::AddRequest(a) => {
            tracing::info!(target: "stats", "conn={conn} op={msgid} ADD dn=\"{}\"", a.dn);
        }
        LdapOp::ModifyRequest(m) => {
            tracing::info!(target: "stats", "conn={conn} op={msgid} MOD dn=\"{}\"", m.dn);
            let attrs: Vec<&str> = m
                .changes
                .iter()
                .map(|c| c.modification.atype.as_str())
                .collect();
            tracing::info!(target: "stats", "conn={conn} op={msgid} MOD attr={}", attrs.join(" "));
        }
        LdapOp::DelRequest(dn) => {
            tracing::info!(target: "stats", "conn={conn} op={msgid} DEL dn=\"{dn}\"");
        }
        LdapOp::ModifyDNRequest(r) => {
            let sup = r
                .new_superior
                .as_deref()
                .map(|s| format!(" newSuperior=\"{s}\""))
                .unwrap_or_default();
            tracing::info!(
                target: "stats",
                "conn={conn} op={msgid} MODRDN dn=\"{}\" newrdn=\"{}\" deleteoldrdn={}{sup}",
                r.dn,
                r.newrdn,
                u8::from(r.deleteoldrdn)
            );
        }
        LdapOp::CompareRequest(c) => {
            tracing::info!(target: "stats", "conn={conn} op={msgid} CMP dn=\"{}\" attr=\"{}\"", c.dn, c.atype);
        }
        LdapOp::ExtendedRequest(e) => {
            tracing::info!(target: "stats", "conn={conn} op={msgid} EXT oid={}", e.name);
        }
        LdapOp::AbandonRequest(id) => {
            tracing::info!(target: "stats", "conn={conn} op={msgid} ABANDON msg={id}");
        }
        LdapOp::UnbindRequest => {
            tracing::info!(target: "stats", "conn={conn} op={msgid} UNBIND");
        }
        // Responses are not requests; the codec does not hand them to the server.
        _ => {}
    }
}

/// Watches a connection's outgoing messages for results: counts the entries sent per
/// search and logs one RESULT line per result (slapd's `RESULT` / `SEARCH RESULT`).
/// Pre-encoded messages ([`Outgoing::Encoded`]) are walked at the BER level (RFC 4511
/// §4.1.1: each is `SEQUENCE { messageID INTEGER, protocolOp [APPLICATION n] ... }`).
#[derive(Debug, Default)]
pub struct ResultTap {
    conn: u64,
    /// Entries sent so far per search message id.
    entries: HashMap<i32, u64>,
}

impl ResultTap {
    /// A tap for connection number `conn`.
    pub fn new(conn: u64) -> ResultTap {
        ResultTap {
            conn,
            entries: HashMap::new(),
        }
    }

    /// Looks at one outgoing message or batch (nothing when the stats lines are off).
    pub fn observe(&mut self, out: &Outgoing) {
        if !enabled() {
            return;
        }
        match out {
            Outgoing::Msg(m) => {
                let res = match &m.op {
                    LdapOp::SearchResultEntry(_) => {
                        *self.entries.entry(m.msgid).or_default() += 1;
                        return;
                    }
                    LdapOp::BindResponse(r) => Some((1, &r.res)),
                    LdapOp::SearchResultDone(r) => Some((5, r)),
                    LdapOp::ModifyResponse(r) => Some((7, r)),
                    LdapOp::AddResponse(r) => Some((9, r)),
                    LdapOp::DelResponse(r) => Some((11, r)),
                    LdapOp::ModifyDNResponse(r) => Some((13, r)),
                    LdapOp::CompareResult(r) => Some((15, r)),
                    LdapOp::ExtendedResponse(r) => Some((24, &r.res)),
                    _ => None,
                };
                if let Some((app, r)) = res {
                    self.result(m.msgid, app, r.code.clone() as i64, &r.message);
                }
            }
            Outgoing::Encoded(bytes) => {
                let mut rest: &[u8] = bytes;
                while let Some((msg, after)) = ber_element(rest) {
                    rest = after;
                    if let Some((msgid, app, code)) = message_summary(msg) {
                        match (app, code) {
                            (4, _) => *self.entries.entry(msgid).or_default() += 1,
                            (_, Some(code)) => self.result(msgid, app, code, ""),
                            _ => {}
                        }
                    }
                }
            }
        }
    }

    /// Logs one result. `app` is the response's APPLICATION tag number; slapd prints the
    /// whole BER tag (`0x60 | n`, e.g. 101 for SearchResultDone, 97 for BindResponse).
    fn result(&mut self, msgid: i32, app: u8, code: i64, text: &str) {
        let conn = self.conn;
        let tag = 0x60 | u32::from(app);
        if app == 5 {
            let n = self.entries.remove(&msgid).unwrap_or(0);
            tracing::info!(target: "stats", "conn={conn} op={msgid} SEARCH RESULT tag={tag} err={code} nentries={n} text={text}");
        } else {
            tracing::info!(target: "stats", "conn={conn} op={msgid} RESULT tag={tag} err={code} text={text}");
        }
    }
}

/// The first BER element of `buf` (tag, length, content) and what follows it; None when
/// `buf` does not start with a complete element of definite length.
fn ber_element(buf: &[u8]) -> Option<(&[u8], &[u8])> {
    let (_, content, after) = ber_split(buf)?;
    let whole = buf.len() - after.len();
    debug_assert!(whole >= content.len());
    Some((buf.get(..whole)?, after))
}

/// Splits `buf` into its first element's tag byte, its content and the rest.
fn ber_split(buf: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let tag = *buf.first()?;
    let first = *buf.get(1)?;
    let (len, header) = if first < 0x80 {
        (usize::from(first), 2)
    } else {
        let n = usize::from(first & 0x7f);
        if n == 0 || n > 4 {
            return None;
        }
        let mut len = 0usize;
        for b in buf.get(2..2 + n)? {
            len = (len << 8) | usize::from(*b);
        }
        (len, 2 + n)
    };
    let content = buf.get(header..header.checked_add(len)?)?;
    Some((tag, content, buf.get(header + len..)?))
}

/// The message id, the protocolOp's APPLICATION number and, for an LDAPResult-shaped
/// response, its resultCode, of one encoded LDAPMessage.
fn message_summary(msg: &[u8]) -> Option<(i32, u8, Option<i64>)> {
    let (tag, body, _) = ber_split(msg)?;
    if tag != 0x30 {
        return None;
    }
    let (itag, id, rest) = ber_split(body)?;
    let first = *id.first()?;
    if itag != 0x02 || id.len() > 4 {
        return None;
    }
    // Two's complement, big-endian (X.690 §8.3).
    let sign = if first & 0x80 != 0 { -1i64 } else { 0 };
    let msgid = id.iter().fold(sign, |acc, b| (acc << 8) | i64::from(*b));
    let (optag, op, _) = ber_split(rest)?;
    let app = optag & 0x1f;
    let code = match app {
        1 | 5 | 7 | 9 | 11 | 13 | 15 | 24 => {
            let (etag, e, _) = ber_split(op)?;
            (etag == 0x0a).then(|| e.iter().fold(0i64, |acc, b| (acc << 8) | i64::from(*b)))
        }
        _ => None,
    };
    Some((i32::try_from(msgid).ok()?, app, code))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encoded_messages_are_summarized() {
        // SearchResultEntry (msgid 2) then SearchResultDone success (msgid 2) then a
        // BindResponse invalidCredentials (msgid 300).
        let entry = [
            0x30, 0x0b, 0x02, 0x01, 0x02, 0x64, 0x06, 0x04, 0x02, b'd', b'n', 0x30, 0x00,
        ];
        let done = [
            0x30, 0x0c, 0x02, 0x01, 0x02, 0x65, 0x07, 0x0a, 0x01, 0x00, 0x04, 0x00, 0x04, 0x00,
        ];
        let bind = [
            0x30, 0x0d, 0x02, 0x02, 0x01, 0x2c, 0x61, 0x07, 0x0a, 0x01, 49, 0x04, 0x00, 0x04, 0x00,
        ];
        assert_eq!(message_summary(&entry), Some((2, 4, None)));
        assert_eq!(message_summary(&done), Some((2, 5, Some(0))));
        assert_eq!(message_summary(&bind), Some((300, 1, Some(49))));
        let mut all = Vec::new();
        all.extend_from_slice(&entry);
        all.extend_from_slice(&done);
        all.extend_from_slice(&bind);
        let mut rest: &[u8] = &all;
        let mut n = 0;
        while let Some((_, after)) = ber_element(rest) {
            rest = after;
            n += 1;
        }
        assert_eq!((n, rest.len()), (3, 0));
        // Truncated input is not an element.
        assert_eq!(ber_element(&done[..5]), None);
    }
}
