//! Per-connection state: the bound identity and the operations still running (for Abandon).

use oxldap_proto::Dn;
use oxldap_schema::NormDn;
use std::collections::HashMap;
use std::sync::Mutex;
use tokio_util::sync::CancellationToken;

/// Who the connection is bound as (RFC 4513 §5). A failed bind resets to anonymous.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Identity {
    /// No bind, an anonymous bind, or after a failed bind.
    #[default]
    Anonymous,
    /// The configured rootdn: unrestricted.
    Root {
        /// The rootdn as the client spelled it in the bind (pretty form, as slapd), or the
        /// entry's DN when it bound with the entry's own userPassword.
        dn: Dn,
        /// Its normalized form.
        norm: NormDn,
    },
    /// An entry of the directory, bound with its userPassword.
    User {
        /// The entry's DN (pretty form).
        dn: Dn,
        /// Its normalized form.
        norm: NormDn,
    },
}

impl Identity {
    /// The authorization DN (creatorsName/modifiersName); empty for anonymous.
    pub fn dn(&self) -> Dn {
        match self {
            Identity::Anonymous => Dn::default(),
            Identity::Root { dn, .. } | Identity::User { dn, .. } => dn.clone(),
        }
    }

    /// The normalized DN, if bound.
    pub fn norm(&self) -> Option<&NormDn> {
        match self {
            Identity::Anonymous => None,
            Identity::Root { norm, .. } | Identity::User { norm, .. } => Some(norm),
        }
    }

    /// Whether this is the rootdn.
    pub fn is_root(&self) -> bool {
        matches!(self, Identity::Root { .. })
    }

    /// The RFC 4532 authzId: `dn:<DN>` or empty for anonymous. As slapd, the DN is the
    /// bound entry's DN as stored (a user who bound as `UID=ANA,OU=USERS,...` is
    /// `dn:uid=ana,ou=Users,...`), and for the rootdn the DN as the client spelled it.
    pub fn authz_id(&self) -> String {
        match self {
            Identity::Anonymous => String::new(),
            Identity::Root { dn, .. } | Identity::User { dn, .. } => format!("dn:{}", dn.to_text()),
        }
    }
}

/// Where a paged search (RFC 2696) stands between two pages.
#[derive(Debug, Clone, PartialEq)]
pub struct PagedState {
    /// Identifies the search the cookie belongs to (base, scope, filter, attributes).
    pub request: String,
    /// Matching entries already returned.
    pub returned: u64,
    /// For a sorted paged search (RFC 2891 with RFC 2696), the sorted entries not yet
    /// returned; None for an unsorted one, whose next page is searched afresh.
    pub sorted: Option<SortedRest>,
}

/// The rest of a sorted paged search: as slapd's sssvlv overlay, the whole result is
/// sorted when the first page is asked for and later pages are served from it. Unlike
/// sssvlv, which keeps the DNs and reads each entry again when its page is sent, the
/// entries are kept as they were read (at most `sort::MAX_SORT_ENTRIES` of them), so a
/// later page does not show writes made after the first.
#[derive(Debug, Clone, PartialEq)]
pub struct SortedRest {
    /// Sorted entries not yet sent, in order.
    pub entries: std::collections::VecDeque<ldap3_proto::proto::LdapSearchResultEntry>,
    /// How the search that collected them ended (Done, or the size or time limit), to be
    /// reported with the last page.
    pub end: crate::ops::SearchEnd,
}

/// The most paged searches a connection may keep open at once; the oldest is dropped.
pub const MAX_PAGED_SEARCHES: usize = 64;

/// The mutable state of one connection, shared by its reader and its operation tasks.
#[derive(Debug, Default)]
pub struct Session {
    /// Open paged searches by cookie (RFC 2696 §3: cookies are per connection).
    paged: Mutex<Vec<(Vec<u8>, PagedState)>>,
    /// Makes cookies unique on this connection.
    next_cookie: std::sync::atomic::AtomicU64,
    /// The bound identity. A std Mutex: it is never held across an await.
    identity: Mutex<Identity>,
    /// Running operations by message id, cancelled by Abandon (RFC 4511 §4.11) or when the
    /// connection closes.
    in_flight: Mutex<HashMap<i32, CancellationToken>>,
    /// The security strength factor of the connection (slapd's `c_ssf`): 0 on plain TCP,
    /// the TLS cipher's key size once TLS is active (`ldaps://` or StartTLS). Set by the
    /// reader task, read by the operations it starts afterwards.
    ssf: std::sync::atomic::AtomicU32,
    /// Cancelled to close the whole connection from inside: an operation panicked, or a
    /// persistent search's client does not read its changes (`sync::PERSIST_QUEUE_LIMIT`).
    /// The reader loop and the writer task both watch it.
    pub closing: CancellationToken,
    /// Cancel extended operations (RFC 3909) of this connection, see [`crate::cancel`].
    pub(crate) cancel: crate::cancel::CancelState,
}

impl Session {
    /// The current identity.
    pub fn identity(&self) -> Identity {
        self.identity
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Replaces the identity (after a bind).
    pub fn set_identity(&self, id: Identity) {
        *self.identity.lock().unwrap_or_else(|p| p.into_inner()) = id;
    }

    /// Registers a running operation; returns its cancellation token.
    pub fn start(&self, msgid: i32) -> CancellationToken {
        let token = CancellationToken::new();
        self.in_flight
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(msgid, token.clone());
        token
    }

    /// Forgets a finished operation.
    pub fn finish(&self, msgid: i32) {
        self.in_flight
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&msgid);
    }

    /// Cancels the operation `msgid` if it is running (Abandon). Unknown ids are ignored.
    pub fn abandon(&self, msgid: i32) {
        if let Some(t) = self
            .in_flight
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&msgid)
        {
            t.cancel();
        }
    }

    /// Whether operation `msgid` is running and has not been abandoned or cancelled.
    pub fn is_running(&self, msgid: i32) -> bool {
        self.in_flight
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .contains_key(&msgid)
    }

    /// Cancels every running operation (connection closing).
    pub fn abandon_all(&self) {
        for (_, t) in self
            .in_flight
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .drain()
        {
            t.cancel();
        }
    }

    /// The token that closes this connection when cancelled (see `closing`).
    pub fn closing(&self) -> CancellationToken {
        self.closing.clone()
    }

    /// Takes the state of the paged search with `cookie`, if it exists.
    pub fn take_paged(&self, cookie: &[u8]) -> Option<PagedState> {
        let mut p = self.paged.lock().unwrap_or_else(|e| e.into_inner());
        let i = p.iter().position(|(c, _)| c == cookie)?;
        Some(p.remove(i).1)
    }

    /// Stores the state of a paged search and returns its new cookie.
    pub fn put_paged(&self, state: PagedState) -> Vec<u8> {
        let n = self
            .next_cookie
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        // Eight octets: `connection::invalid_cookie` tells a malformed cookie by its length.
        let cookie = (n + 1).to_be_bytes().to_vec();
        let mut p = self.paged.lock().unwrap_or_else(|e| e.into_inner());
        if p.len() >= MAX_PAGED_SEARCHES {
            p.remove(0);
        }
        p.push((cookie.clone(), state));
        cookie
    }

    /// The connection's security strength factor (0: no TLS).
    pub fn ssf(&self) -> u32 {
        self.ssf.load(std::sync::atomic::Ordering::Acquire)
    }

    /// Whether TLS is active on the connection: every TLS cipher has a nonzero factor and
    /// nothing else here sets one.
    pub fn tls_active(&self) -> bool {
        self.ssf() > 0
    }

    /// Records the security strength factor after a TLS handshake.
    pub fn set_ssf(&self, ssf: u32) {
        self.ssf.store(ssf, std::sync::atomic::Ordering::Release);
    }

    /// How many operations are running.
    pub fn running(&self) -> usize {
        self.in_flight
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .len()
    }
}
