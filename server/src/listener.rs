//! The accept loop: bounded connections, tracked tasks, graceful shutdown.

use crate::connection;
use crate::directory::Directory;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// The most connections served at once unless `conn_max` says otherwise; a client beyond
/// it is told so (Notice of Disconnection, busy) and closed, so it holds no buffers.
pub const MAX_CONNECTIONS: usize = 4096;

/// The most refused connections being told "busy" at once; beyond it a refused socket is
/// closed without a word, so a connection flood costs no more than this many small tasks.
pub const MAX_REFUSING: usize = 64;

/// How long a refused client gets to take its Notice of Disconnection.
const REFUSE_WRITE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(1);

/// Tunables of the listener.
#[derive(Debug, Clone, Copy)]
pub struct ServeOptions {
    /// The largest request PDU accepted, in bytes; larger requests close the connection
    /// with a Notice of Disconnection (RFC 4511 §4.4.1).
    pub max_pdu: usize,
    /// The most concurrent connections.
    pub max_connections: usize,
    /// Serve `ldaps://`: every connection starts with a TLS handshake (the directory
    /// must have a TLS context, see [`crate::tls::Tls`]).
    pub ldaps: bool,
}

impl Default for ServeOptions {
    fn default() -> Self {
        ServeOptions {
            max_pdu: oxldap_proto::codec::DEFAULT_MAX_PDU,
            max_connections: MAX_CONNECTIONS,
            ldaps: false,
        }
    }
}

/// Serves LDAP on `listener` until `shutdown` is cancelled, then tells every client (Notice
/// of Disconnection), waits for running operations to finish, and flushes the store.
pub async fn serve(
    listener: TcpListener,
    dir: Arc<Directory>,
    opts: ServeOptions,
    shutdown: CancellationToken,
) -> std::io::Result<()> {
    let max = dir.limits().conn_max.unwrap_or(opts.max_connections);
    let limit = Arc::new(Semaphore::new(max));
    let refusing = Arc::new(Semaphore::new(MAX_REFUSING));
    let tracker = TaskTracker::new();
    let next_id = AtomicU64::new(1);
    // Refusals are logged at most once a second, with how many there were: a client
    // opening connections in a loop must not flood the log (thousands of lines a second).
    let mut refused: u64 = 0;
    let mut refusal_logged: Option<std::time::Instant> = None;
    let mut accept_failures: u64 = 0;
    let mut accept_logged: Option<std::time::Instant> = None;
    loop {
        let (stream, _) = tokio::select! {
            r = listener.accept() => match r {
                Ok(s) => s,
                Err(e) => {
                    // Out of file descriptors and the like: back off instead of spinning,
                    // and log at most once a second with the count (tester 11 saw 20 lines
                    // a second while descriptors ran out).
                    accept_failures += 1;
                    if accept_logged.is_none_or(|t| t.elapsed() >= std::time::Duration::from_secs(1)) {
                        tracing::warn!(error = %e, failures = accept_failures, "accept failed");
                        accept_failures = 0;
                        accept_logged = Some(std::time::Instant::now());
                    }
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = shutdown.cancelled() => break,
        };
        let Ok(permit) = limit.clone().try_acquire_owned() else {
            refused += 1;
            if refusal_logged.is_none_or(|t| t.elapsed() >= std::time::Duration::from_secs(1)) {
                tracing::warn!(max, refused, "too many connections; refusing new ones");
                refused = 0;
                refusal_logged = Some(std::time::Instant::now());
            }
            if let Ok(p) = refusing.clone().try_acquire_owned() {
                tracker.spawn(async move {
                    refuse(stream).await;
                    drop(p);
                });
            }
            continue;
        };
        let _ = stream.set_nodelay(true);
        let id = next_id.fetch_add(1, Ordering::Relaxed);
        let dir = dir.clone();
        let token = shutdown.clone();
        let counted = dir.monitor.connection_opened();
        tracker.spawn(async move {
            let _counted = counted;
            // A panic in the connection's own task ends only this connection (the
            // operations' tasks are guarded in `connection`); the permit is released.
            let run = std::panic::AssertUnwindSafe(connection::handle(
                stream,
                dir,
                token,
                opts.max_pdu,
                id,
                opts.ldaps,
            ));
            if let Err(p) = futures::FutureExt::catch_unwind(run).await {
                tracing::error!(conn = id, panic = %connection::panic_message(&p), "connection task panicked; connection closed");
            }
            drop(permit);
        });
    }
    tracker.close();
    drop(listener);
    tracker.wait().await;
    let store = dir.store.clone();
    tokio::task::spawn_blocking(move || store.flush())
        .await
        .map_err(std::io::Error::other)?
        .map_err(std::io::Error::other)?;
    Ok(())
}

/// Tells a client beyond the connection limit that the server is busy (RFC 4511 §4.4.1
/// Notice of Disconnection; slapd closes such sockets without a word) and closes it.
async fn refuse(stream: tokio::net::TcpStream) {
    use futures::SinkExt;
    let mut w = tokio_util::codec::FramedWrite::new(
        stream,
        oxldap_proto::codec::ServerCodec::new(oxldap_proto::codec::DEFAULT_MAX_PDU),
    );
    let notice = oxldap_proto::codec::notice_of_disconnection(
        oxldap_proto::ResultCode::Busy,
        "too many connections",
    );
    let _ = tokio::time::timeout(REFUSE_WRITE_TIMEOUT, async {
        let _ = w.send(notice).await;
        let _ = SinkExt::<ldap3_proto::proto::LdapMsg>::close(&mut w).await;
    })
    .await;
}
