//! The accept loop: bounded connections, tracked tasks, graceful shutdown.

use crate::connection;
use crate::directory::Directory;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// The most connections served at once; further clients wait in the accept backlog.
pub const MAX_CONNECTIONS: usize = 4096;

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
    let limit = Arc::new(Semaphore::new(opts.max_connections));
    let tracker = TaskTracker::new();
    let next_id = AtomicU64::new(1);
    loop {
        let permit = tokio::select! {
            p = limit.clone().acquire_owned() => match p {
                Ok(p) => p,
                Err(_) => break,
            },
            () = shutdown.cancelled() => break,
        };
        let (stream, _) = tokio::select! {
            r = listener.accept() => match r {
                Ok(s) => s,
                Err(e) => {
                    // Out of file descriptors and the like: back off instead of spinning.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = shutdown.cancelled() => break,
        };
        let _ = stream.set_nodelay(true);
        let id = next_id.fetch_add(1, Ordering::Relaxed);
        let dir = dir.clone();
        let token = shutdown.clone();
        let counted = dir.monitor.connection_opened();
        tracker.spawn(async move {
            let _counted = counted;
            connection::handle(stream, dir, token, opts.max_pdu, id, opts.ldaps).await;
            drop(permit);
        });
    }
    tracker.close();
    tracker.wait().await;
    let store = dir.store.clone();
    tokio::task::spawn_blocking(move || store.flush())
        .await
        .map_err(std::io::Error::other)?
        .map_err(std::io::Error::other)?;
    Ok(())
}
