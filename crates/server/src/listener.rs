//! Accept loops: HTTPS for the main listener, plain HTTP for the managed-identity one (IMDS is plain
//! HTTP too). Both stop accepting on shutdown and let in-flight requests finish.

use std::{net::SocketAddr, sync::Arc, time::Duration};

use axum::{Router, body::Body, extract::ConnectInfo};
use hyper::{Request, body::Incoming};
use hyper_util::{
    rt::{TokioExecutor, TokioIo, TokioTimer},
    server::{conn::auto::Builder, graceful::GracefulShutdown},
    service::TowerToHyperService,
};
use tokio::{
    io::{AsyncRead, AsyncWrite},
    net::TcpListener,
    sync::{Semaphore, watch},
};
use tokio_rustls::TlsAcceptor;
use tower::ServiceExt;

/// Bounds on what one client can hold: a connection that never finishes its handshake or its request
/// head, or idles, is closed; past `max_connections` new connections are closed at once.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// TLS handshake, and reading a request head (also the wait for the next one on an HTTP/1
    /// keep-alive connection).
    pub header_read_timeout: Duration,
    /// An HTTP/2 connection that does not answer a ping within this time is closed; HTTP/1 idling
    /// is bounded by `header_read_timeout`.
    pub idle_timeout: Duration,
    pub max_connections: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            header_read_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(60),
            max_connections: 1024,
        }
    }
}

pub async fn serve(
    listener: TcpListener,
    tls: Option<Arc<rustls::ServerConfig>>,
    app: Router,
    limits: Limits,
    mut shutdown: watch::Receiver<bool>,
) {
    let graceful = GracefulShutdown::new();
    let slots = Arc::new(Semaphore::new(limits.max_connections));
    let acceptor = tls.map(TlsAcceptor::from);
    let mut refused = Refusals::default();
    loop {
        let (tcp, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            _ = shutdown.changed() => break,
        };
        let Ok(slot) = slots.clone().try_acquire_owned() else {
            if let Some(closed) = refused.report() {
                tracing::warn!(%peer, max = limits.max_connections, closed, "connection limit reached: closing new connections");
            }
            drop(tcp);
            continue;
        };
        let _ = tcp.set_nodelay(true);
        let app = app.clone();
        let acceptor = acceptor.clone();
        let watcher = graceful.watcher();
        tokio::spawn(async move {
            let _slot = slot;
            match acceptor {
                Some(acceptor) => match tokio::time::timeout(limits.header_read_timeout, acceptor.accept(tcp)).await {
                    Ok(Ok(stream)) => {
                        let h2 = stream.get_ref().1.alpn_protocol() == Some(b"h2");
                        connection(stream, h2, peer, app, limits, watcher).await
                    }
                    Ok(Err(e)) => tracing::debug!(%peer, error = %e, "TLS handshake failed"),
                    Err(_) => tracing::debug!(%peer, "TLS handshake timed out"),
                },
                None => connection(tcp, false, peer, app, limits, watcher).await,
            }
        });
    }
    drop(listener);
    let _ = tokio::time::timeout(Duration::from_secs(10), graceful.shutdown()).await;
}

async fn connection<IO>(
    io: IO,
    h2: bool,
    peer: SocketAddr,
    app: Router,
    limits: Limits,
    watcher: hyper_util::server::graceful::Watcher,
) where
    IO: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let service = app.map_request(move |mut req: Request<Incoming>| {
        req.extensions_mut().insert(ConnectInfo(peer));
        req.map(Body::new)
    });
    // The protocol is fixed up front (ALPN over TLS; HTTP/1 for the plain managed-identity listener,
    // as IMDS is): the auto builder's sniffing of the first bytes has no timeout, so a silent client
    // would hold the connection forever. hyper's HTTP/1 header timer runs from the start of each
    // request head, so it bounds a fresh connection, a partial head and an idle keep-alive alike.
    let mut builder = Builder::new(TokioExecutor::new());
    builder = if h2 { builder.http2_only() } else { builder.http1_only() };
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout);
    builder
        .http2()
        .timer(TokioTimer::new())
        .keep_alive_interval(limits.idle_timeout)
        .keep_alive_timeout(limits.header_read_timeout);
    let conn = builder.serve_connection(TokioIo::new(io), TowerToHyperService::new(service));
    if let Err(e) = watcher.watch(conn).await {
        tracing::debug!(%peer, error = %e, "connection ended with an error");
    }
}

/// Connections closed at the limit, reported at most once a second: a flood of them must not
/// become a flood of log lines.
#[derive(Default)]
struct Refusals {
    reported_at: Option<std::time::Instant>,
    unreported: u64,
}

impl Refusals {
    /// Counts one refusal; returns how many to report now (this one and those since the last line).
    fn report(&mut self) -> Option<u64> {
        self.unreported += 1;
        let due = self.reported_at.is_none_or(|at| at.elapsed() >= Duration::from_secs(1));
        due.then(|| {
            self.reported_at = Some(std::time::Instant::now());
            std::mem::take(&mut self.unreported)
        })
    }
}
