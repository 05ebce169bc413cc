//! The running server handles: [`Server`] (on the caller's runtime) and
//! [`BlockingServer`] (owning a runtime).

use crate::assertions::AssertionError;
use crate::builder::{other, ServerBuilder};
use crate::ldif::{add_request, apply_ldif, moddn_request, modify_request, ToEntry};
use ldap3_proto::proto::{LdapCompareRequest, LdapSearchRequest, LdapSearchScope};
use oxldap_proto::{Dn, Entry, Filter, ResultCode};
use oxldap_server::error::LdapError;
use oxldap_server::session::Identity;
use oxldap_server::{ops, CancellationToken, Directory};
use oxldap_store::{Mod, Scope, Snapshot};
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::task::JoinHandle;

/// The identity in-process operations run as: the rootdn (or an anonymous-named root when
/// the configuration has none), exactly as a client bound as the rootdn.
pub(crate) fn root_identity(dir: &Directory) -> Identity {
    match &dir.rootdn {
        Some((dn, norm)) => Identity::Root {
            dn: dn.clone(),
            norm: norm.clone(),
        },
        None => Identity::Root {
            dn: Dn::default(),
            norm: Default::default(),
        },
    }
}

/// A running oxldap server: its own store, listener and shutdown token.
///
/// In-process operations ([`Server::search`], [`Server::add`], ...) call the same
/// handlers as the wire (`oxldap_server::ops`) as the rootdn and return the same results;
/// they are synchronous (the store is) and take microseconds on a test-sized directory.
///
/// Dropping the handle cancels the server (connections get a Notice of Disconnection);
/// [`Server::shutdown`] also waits for it to stop. The store of a dropped server closes
/// when its task has stopped, a few milliseconds later; a new server on the same
/// `data_dir` waits for that ([`ServerBuilder::start`]), so reopening at once works
/// either way.
pub struct Server {
    dir: Arc<Directory>,
    /// The data folder (None in memory), to let a later server on it wait for this
    /// store to close after a drop (`await_release`).
    data_dir: Option<std::path::PathBuf>,
    who: Identity,
    addr: SocketAddr,
    url: String,
    rootpw: String,
    shutdown: CancellationToken,
    task: Option<JoinHandle<std::io::Result<()>>>,
}

impl std::fmt::Debug for Server {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Server")
            .field("url", &self.url)
            .field("suffix", &self.dir.suffix.to_string())
            .finish_non_exhaustive()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.shutdown.cancel();
        if let Some(path) = self.data_dir.take() {
            // The serve task still holds the Directory (and so the sled lock on the
            // folder) until it notices the cancellation: let a new server wait for it.
            let mut closing = CLOSING.lock().unwrap_or_else(|p| p.into_inner());
            closing.retain(|(_, d)| d.strong_count() > 0);
            closing.push((release_key(&path), Arc::downgrade(&self.dir)));
        }
    }
}

/// Data folders of servers dropped without [`Server::shutdown`] whose store may still be
/// open, with the Directory that holds it. A std Mutex, held only to push or scan.
static CLOSING: std::sync::Mutex<Vec<(std::path::PathBuf, std::sync::Weak<Directory>)>> =
    std::sync::Mutex::new(Vec::new());

/// How long a new server waits for a dropped server's store on the same folder to close
/// (its task stops within milliseconds unless an operation is still running).
const RELEASE_WAIT: Duration = Duration::from_secs(5);

fn release_key(path: &Path) -> std::path::PathBuf {
    std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf())
}

/// Waits (asynchronously, so the dropped server's task can run on the same runtime)
/// until no dropped server of this process still holds the store in `path`, or
/// [`RELEASE_WAIT`] passed (opening then reports the folder as in use).
pub(crate) async fn await_release(path: &Path) {
    let key = release_key(path);
    let start = Instant::now();
    let mut pause = Duration::from_millis(1);
    loop {
        let busy = {
            let mut closing = CLOSING.lock().unwrap_or_else(|p| p.into_inner());
            closing.retain(|(_, d)| d.strong_count() > 0);
            closing.iter().any(|(p, _)| *p == key)
        };
        if !busy || start.elapsed() >= RELEASE_WAIT {
            return;
        }
        tokio::time::sleep(pause).await;
        pause = next_pause(pause);
    }
}

fn scope_wire(scope: Scope) -> LdapSearchScope {
    match scope {
        Scope::Base => LdapSearchScope::Base,
        Scope::One => LdapSearchScope::OneLevel,
        Scope::Sub => LdapSearchScope::Subtree,
        Scope::Children => LdapSearchScope::Children,
    }
}

/// The poll interval of the `await_*` helpers: short at first, then backing off.
fn next_pause(p: Duration) -> Duration {
    (p * 2).min(Duration::from_millis(20))
}

impl Server {
    /// A builder with the defaults (see [`ServerBuilder`]).
    pub fn builder() -> ServerBuilder {
        ServerBuilder::default()
    }

    pub(crate) fn new(
        dir: Arc<Directory>,
        data_dir: Option<std::path::PathBuf>,
        addr: SocketAddr,
        rootpw: String,
        shutdown: CancellationToken,
        task: JoinHandle<std::io::Result<()>>,
    ) -> Server {
        Server {
            who: root_identity(&dir),
            dir,
            data_dir,
            addr,
            url: format!("ldap://{addr}/"),
            rootpw,
            shutdown,
            task: Some(task),
        }
    }

    /// The URL clients connect to, `ldap://127.0.0.1:PORT/`.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The address the server listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The suffix (naming context) served, in pretty form.
    pub fn suffix(&self) -> String {
        self.dir.suffix.to_string()
    }

    /// The rootdn to bind as over the wire (empty when none is configured).
    pub fn rootdn(&self) -> String {
        self.dir
            .rootdn
            .as_ref()
            .map(|(d, _)| d.to_string())
            .unwrap_or_default()
    }

    /// The rootpw as configured (cleartext unless the configuration holds a hash).
    pub fn rootpw(&self) -> &str {
        &self.rootpw
    }

    /// The served directory (store, schema, limits), for what this API does not cover.
    pub fn directory(&self) -> &Arc<Directory> {
        &self.dir
    }

    /// Stops accepting connections, tells connected clients (Notice of Disconnection),
    /// waits for running operations, and flushes the store.
    pub async fn shutdown(mut self) -> std::io::Result<()> {
        self.shutdown.cancel();
        match self.task.take() {
            Some(t) => t.await.map_err(std::io::Error::other)?,
            None => Ok(()),
        }
    }

    /// Search (RFC 4511 §4.5) as the rootdn (no size or time limit): the entries in
    /// `scope` of `base` matching the RFC 4515 `filter`, with the attributes `attrs`
    /// selects (empty: all user attributes; `*`, `+`, `1.1` and names as on the wire).
    ///
    /// ```
    /// # let server = oxldap::Server::builder().start_blocking().unwrap();
    /// use oxldap::Scope;
    /// let ous = server.search("o=localdomain,dc=localdomain,dc=test", Scope::One, "(ou=*)", &["ou"])?;
    /// let names: Vec<String> = ous.iter().map(|e| e.dn.to_string()).collect();
    /// assert_eq!(names.len(), 2);
    /// # Ok::<(), oxldap::LdapError>(())
    /// ```
    pub fn search(
        &self,
        base: &str,
        scope: Scope,
        filter: &str,
        attrs: &[&str],
    ) -> Result<Vec<Entry>, LdapError> {
        let parsed = Filter::parse(filter).map_err(|e| {
            LdapError::new(
                ResultCode::ProtocolError,
                format!("bad filter {filter:?}: {e}"),
            )
        })?;
        let req = LdapSearchRequest {
            base: base.to_string(),
            scope: scope_wire(scope),
            aliases: ldap3_proto::proto::LdapDerefAliases::Never,
            sizelimit: 0,
            timelimit: 0,
            typesonly: false,
            filter: (&parsed).into(),
            attrs: attrs.iter().map(|a| a.to_string()).collect(),
        };
        let mut out = Vec::new();
        let mut bad_dn = None;
        ops::search(&self.dir, &self.who, &req, None, &|| false, &mut |e| {
            match Entry::from_search_result(e) {
                Ok(entry) => out.push(entry),
                Err(err) => bad_dn = Some(err),
            }
            true
        })?;
        if let Some(e) = bad_dn {
            return Err(other(format!("the server returned an invalid DN: {e}")));
        }
        Ok(out)
    }

    /// The entry `dn` with its user and operational attributes (`*` and `+`), or None.
    pub fn get(&self, dn: &str) -> Result<Option<Entry>, LdapError> {
        match self.search(dn, Scope::Base, "(objectClass=*)", &["*", "+"]) {
            Ok(mut v) => Ok(v.pop()),
            Err(e) if e.code == ResultCode::NoSuchObject => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Add (RFC 4511 §4.7): an [`Entry`], or LDIF text with one content record.
    ///
    /// ```
    /// # let server = oxldap::Server::builder().start_blocking().unwrap();
    /// server.add("dn: cn=printers,ou=Groups,o=localdomain,dc=localdomain,dc=test\n\
    ///             objectClass: groupOfNames\ncn: printers\n\
    ///             member: cn=admin,dc=localdomain,dc=test\n")?;
    /// let err = server.add("dn: cn=x,ou=Nowhere,dc=localdomain,dc=test\nobjectClass: device\ncn: x\n")
    ///     .unwrap_err();
    /// assert_eq!(err.code, oxldap::ResultCode::NoSuchObject);
    /// assert_eq!(err.matched, "dc=localdomain,dc=test");
    /// # Ok::<(), oxldap::LdapError>(())
    /// ```
    pub fn add(&self, entry: impl ToEntry) -> Result<(), LdapError> {
        let entry = entry.to_entry()?;
        let mut req = add_request(entry);
        // As from a client: cleartext userPassword values are hashed with the
        // `password-hash` scheme (`{SSHA}` by default), like a wire add.
        ops::hash_passwords_in_add(&self.dir, &mut req)?;
        ops::add(&self.dir, &self.who, req)
    }

    /// Modify (RFC 4511 §4.6); build the changes with [`crate::mods`].
    pub fn modify(
        &self,
        dn: &str,
        changes: impl IntoIterator<Item = Mod>,
    ) -> Result<(), LdapError> {
        let (mut req, increments) = modify_request(dn, changes.into_iter().collect());
        // userPassword as from a client (see `Server::add`).
        ops::hash_passwords_in_modify(&self.dir, &mut req)?;
        ops::modify(&self.dir, &self.who, req, &increments)
    }

    /// Delete (RFC 4511 §4.8).
    pub fn delete(&self, dn: &str) -> Result<(), LdapError> {
        ops::delete(&self.dir, &self.who, dn)
    }

    /// Modify DN (RFC 4511 §4.9): rename to `new_rdn`, optionally under `new_superior`.
    pub fn modify_dn(
        &self,
        dn: &str,
        new_rdn: &str,
        delete_old_rdn: bool,
        new_superior: Option<&str>,
    ) -> Result<(), LdapError> {
        ops::modify_dn(
            &self.dir,
            &self.who,
            moddn_request(dn, new_rdn, delete_old_rdn, new_superior),
        )
    }

    /// Compare (RFC 4511 §4.10): Ok(true) is compareTrue, Ok(false) compareFalse.
    pub fn compare(
        &self,
        dn: &str,
        attr: &str,
        value: impl AsRef<[u8]>,
    ) -> Result<bool, LdapError> {
        ops::compare(
            &self.dir,
            &self.who,
            LdapCompareRequest {
                dn: dn.to_string(),
                atype: attr.to_string(),
                val: value.as_ref().to_vec(),
            },
        )
    }

    /// Applies LDIF text as the rootdn: content records are added, change records
    /// (`changetype: add/delete/modify/modrdn`) applied, in order. Returns the number of
    /// records; stops at the first failure, whose message names the line and DN.
    ///
    /// Content records load as `oxldap import` (slapadd) loads them: operational
    /// attributes they carry (entryUUID, entryCSN, timestamps, ...) are kept, so
    /// [`Server::export_ldif`] output loads as is, and userPassword is stored as written
    /// (not hashed, unlike [`Server::add`]). Seed LDIF of the builder loads the same way.
    pub fn load_ldif(&self, text: &str) -> Result<usize, LdapError> {
        apply_ldif(&self.dir, &self.who, text)
    }

    /// Applies an LDIF file like [`Server::load_ldif`].
    pub fn load_ldif_file(&self, path: impl AsRef<Path>) -> Result<usize, LdapError> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path)
            .map_err(|e| other(format!("cannot read {}: {e}", path.display())))?;
        self.load_ldif(&text)
    }

    /// The whole directory as LDIF (like `oxldap export`: stored attributes, parents
    /// before children), written with `oxldap_proto::ldif::write_entry`.
    pub fn export_ldif(&self) -> Result<String, LdapError> {
        let mut out = Vec::new();
        for entry in self.dir.store.iter_entries() {
            oxldap_proto::ldif::write_entry(&mut out, &entry?)
                .map_err(|e| other(format!("writing LDIF: {e}")))?;
        }
        String::from_utf8(out).map_err(|e| other(format!("writing LDIF: {e}")))
    }

    /// The stored entries in DN order (parents first), without computed attributes.
    pub fn entries(&self) -> Result<Vec<Entry>, LdapError> {
        Ok(self
            .dir
            .store
            .iter_entries()
            .collect::<Result<Vec<_>, _>>()?)
    }

    /// A copy of the whole store to [`Server::restore`] later (see
    /// `oxldap_store::Store::snapshot`). Restoring it into this server rewrites only
    /// what changed since, so resetting between tests is cheap.
    pub fn snapshot(&self) -> Result<Snapshot, LdapError> {
        Ok(self.dir.store.snapshot()?)
    }

    /// Puts the store back to `snapshot` (taken from this server or one with the same
    /// configuration). Clients reading during the restore may see a partial state.
    ///
    /// Content sync stays correct across it (RFC 4533): a cookie issued before the
    /// restore is answered with every entry (a present phase from nothing, so the
    /// consumer drops what the restore removed), and open refreshAndPersist searches end
    /// with e-syncRefreshRequired (4096). `cn=changelog` numbers keep counting from
    /// where they were (see `oxldap_store::Store::restore`).
    ///
    /// Errors: unwillingToPerform (53) naming what differs when the snapshot comes from a
    /// server with other suffixes, indexes or schema (nothing is written).
    pub fn restore(&self, snapshot: &Snapshot) -> Result<(), LdapError> {
        let out = self.dir.store.restore(snapshot);
        if !matches!(out, Err(oxldap_store::StoreError::SnapshotMismatch { .. })) {
            self.dir.fanout.require_refresh();
        }
        Ok(out?)
    }

    /// Removes every entry, the suffix entry included (reload with
    /// [`Server::load_ldif`] or [`Server::bootstrap_layout`]). Content sync is told as
    /// for [`Server::restore`].
    pub fn clear(&self) -> Result<(), LdapError> {
        let out = self.dir.store.clear();
        self.dir.fanout.require_refresh();
        Ok(out?)
    }

    /// Creates the suffix entry and the Axigen layout if the directory is empty; returns
    /// whether it did.
    pub fn bootstrap_layout(&self) -> Result<bool, LdapError> {
        self.dir.bootstrap_layout()
    }

    /// Runs `check` until it returns true or `timeout` passes; the error says what was
    /// awaited (`what`).
    ///
    /// `check` runs again as soon as a write commits: the wait follows the store's commit
    /// observer (the stream that feeds persistent sync searches) instead of polling. A
    /// short poll remains as a fallback, for a directory without `overlay syncprov` (no
    /// observer) and for state that changes without a write.
    pub async fn wait_for(
        &self,
        timeout: Duration,
        what: &str,
        mut check: impl FnMut(&Server) -> bool,
    ) -> Result<(), AssertionError> {
        let start = Instant::now();
        let mut pause = Duration::from_millis(1);
        // Subscribed before the first check, so a commit between the check and the wait
        // still wakes it.
        let mut commits = self.dir.events.subscribe();
        loop {
            if check(self) {
                return Ok(());
            }
            if start.elapsed() >= timeout {
                return Err(AssertionError::timeout(what, timeout));
            }
            let left = timeout.saturating_sub(start.elapsed());
            tokio::select! {
                // A commit (or a lagged/closed channel): check again.
                _ = commits.recv() => {}
                () = tokio::time::sleep(pause.min(left)) => pause = next_pause(pause),
            }
        }
    }

    /// Waits until the entry `dn` exists (for writes made by another client or task) and
    /// returns it with `*` and `+`.
    pub async fn await_entry(&self, dn: &str, timeout: Duration) -> Result<Entry, AssertionError> {
        let mut found = None;
        self.wait_for(timeout, &format!("entry {dn} to exist"), |s| {
            found = s.get(dn).ok().flatten();
            found.is_some()
        })
        .await?;
        found.ok_or_else(|| AssertionError::timeout(&format!("entry {dn} to exist"), timeout))
    }

    /// Waits until a subtree search of `base` with `filter` returns exactly `count`
    /// entries, and returns them.
    ///
    /// Errors: a search that fails never counts as "0 entries". A malformed filter (or any
    /// error but noSuchObject) ends the wait at once; a missing base (noSuchObject, 32)
    /// is waited out, since the awaited write may create it, and is returned if it still
    /// fails at the timeout. Either way [`AssertionError::ldap_error`] holds the error.
    pub async fn await_search(
        &self,
        base: &str,
        filter: &str,
        count: usize,
        timeout: Duration,
    ) -> Result<Vec<Entry>, AssertionError> {
        let what = format!("{count} entries under {base} matching {filter}");
        let mut probe = SearchProbe::default();
        let waited = self
            .wait_for(timeout, &what, |s| probe.check(s, base, filter, count))
            .await;
        probe.finish(&what, waited)
    }

    /// The blocking form of [`Server::wait_for`] (sleeps the thread between polls).
    pub fn wait_for_blocking(
        &self,
        timeout: Duration,
        what: &str,
        mut check: impl FnMut(&Server) -> bool,
    ) -> Result<(), AssertionError> {
        let start = Instant::now();
        let mut pause = Duration::from_millis(1);
        loop {
            if check(self) {
                return Ok(());
            }
            if start.elapsed() >= timeout {
                return Err(AssertionError::timeout(what, timeout));
            }
            std::thread::sleep(pause.min(timeout.saturating_sub(start.elapsed())));
            pause = next_pause(pause);
        }
    }
}

/// The state of an `await_search`: the last entries found, or the error that ended it.
#[derive(Default)]
struct SearchProbe {
    last: Vec<Entry>,
    error: Option<LdapError>,
}

impl SearchProbe {
    /// One try: true when done (the count matches, or an error that waiting cannot cure).
    fn check(&mut self, s: &Server, base: &str, filter: &str, count: usize) -> bool {
        match s.search(base, Scope::Sub, filter, &["*", "+"]) {
            Ok(found) => {
                self.error = None;
                self.last = found;
                self.last.len() == count
            }
            Err(e) => {
                let fatal = e.code != ResultCode::NoSuchObject;
                self.error = Some(e);
                fatal
            }
        }
    }

    /// The result of the wait: the error of the last try if it failed, else the entries.
    fn finish(
        self,
        what: &str,
        waited: Result<(), AssertionError>,
    ) -> Result<Vec<Entry>, AssertionError> {
        if let Some(e) = self.error {
            return Err(AssertionError::failed(&format!("waiting for {what}"), e));
        }
        waited.map(|()| self.last)
    }
}

/// A [`Server`] with a tokio runtime of its own, for tests that are not async
/// ([`ServerBuilder::start_blocking`]). Dereferences to [`Server`] for every operation,
/// assertion and snapshot method.
pub struct BlockingServer {
    server: Option<Server>,
    runtime: Option<tokio::runtime::Runtime>,
}

impl std::fmt::Debug for BlockingServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("BlockingServer").field(&self.server).finish()
    }
}

impl BlockingServer {
    pub(crate) fn new(server: Server, runtime: tokio::runtime::Runtime) -> BlockingServer {
        BlockingServer {
            server: Some(server),
            runtime: Some(runtime),
        }
    }

    fn inner(&self) -> &Server {
        // Invariant: `server` is Some until shutdown or drop consume the handle.
        match &self.server {
            Some(s) => s,
            None => unreachable_server(),
        }
    }

    /// Stops the server like [`Server::shutdown`] and then its runtime.
    pub fn shutdown(mut self) -> std::io::Result<()> {
        let (Some(server), Some(rt)) = (self.server.take(), self.runtime.take()) else {
            return Ok(());
        };
        let out = rt.block_on(server.shutdown());
        rt.shutdown_timeout(Duration::from_secs(5));
        out
    }

    /// Waits until the entry `dn` exists, like [`Server::await_entry`].
    pub fn await_entry(&self, dn: &str, timeout: Duration) -> Result<Entry, AssertionError> {
        let mut found = None;
        let what = format!("entry {dn} to exist");
        self.inner().wait_for_blocking(timeout, &what, |s| {
            found = s.get(dn).ok().flatten();
            found.is_some()
        })?;
        found.ok_or_else(|| AssertionError::timeout(&what, timeout))
    }

    /// Waits until a subtree search returns exactly `count` entries, like
    /// [`Server::await_search`].
    pub fn await_search(
        &self,
        base: &str,
        filter: &str,
        count: usize,
        timeout: Duration,
    ) -> Result<Vec<Entry>, AssertionError> {
        let what = format!("{count} entries under {base} matching {filter}");
        let mut probe = SearchProbe::default();
        let waited = self
            .inner()
            .wait_for_blocking(timeout, &what, |s| probe.check(s, base, filter, count));
        probe.finish(&what, waited)
    }

    /// Polls `check` like [`Server::wait_for`], sleeping the thread.
    pub fn wait_for(
        &self,
        timeout: Duration,
        what: &str,
        check: impl FnMut(&Server) -> bool,
    ) -> Result<(), AssertionError> {
        self.inner().wait_for_blocking(timeout, what, check)
    }

    /// The runtime the server runs on, to drive async clients from a blocking test.
    pub fn runtime(&self) -> &tokio::runtime::Runtime {
        match &self.runtime {
            Some(rt) => rt,
            None => unreachable_server(),
        }
    }
}

#[allow(clippy::panic)]
#[cold]
fn unreachable_server() -> ! {
    // Only reachable through a handle consumed by shutdown, which takes `self`.
    panic!("invariant: a BlockingServer is used after shutdown")
}

impl std::ops::Deref for BlockingServer {
    type Target = Server;
    fn deref(&self) -> &Server {
        self.inner()
    }
}

impl Drop for BlockingServer {
    fn drop(&mut self) {
        // Cancel first, then stop the runtime without waiting on blocking tasks for long.
        drop(self.server.take());
        if let Some(rt) = self.runtime.take() {
            if tokio::runtime::Handle::try_current().is_ok() {
                // Dropped inside an async context (a BlockingServer held by an async
                // test): a runtime may not block there, so it stops in the background.
                rt.shutdown_background();
            } else {
                rt.shutdown_timeout(Duration::from_secs(1));
            }
        }
    }
}
