//! The baseline for the GET benchmark: the smallest HTTPS server on keyhold's own stack (axum 0.8,
//! hyper-util's auto builder, tokio-rustls over rustls with the aws-lc-rs provider, ALPN h2 + http/1.1,
//! the same accept loop as `crates/server/src/listener.rs`, the same allocator), answering `GET /` with a short body and no
//! authentication, database or routing by `Host`. `hello --listen 127.0.0.1:PORT`.
#![forbid(unsafe_code)]

use std::{net::SocketAddr, sync::Arc};

use anyhow::{Context, Result};
use axum::{Router, body::Body, extract::ConnectInfo, routing::get};
use hyper::{Request, body::Incoming};
use hyper_util::{
    rt::{TokioExecutor, TokioIo},
    server::conn::auto::Builder,
    service::TowerToHyperService,
};
use rustls::pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer};
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;
use tower::ServiceExt;

/// The same allocator as keyhold (`crates/keyhold/src/main.rs`), so the ratio compares request work,
/// not allocators.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> Result<()> {
    let listen: SocketAddr = std::env::args()
        .skip_while(|a| a != "--listen")
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:0".into())
        .parse()
        .context("--listen ADDR")?;
    let listener = TcpListener::bind(listen).await?;
    println!("listening {}", listener.local_addr()?);

    let acceptor = TlsAcceptor::from(tls_config()?);
    let app = Router::new().route("/", get(|| async { "hello" }));
    loop {
        let (tcp, peer) = listener.accept().await?;
        let _ = tcp.set_nodelay(true);
        let (app, acceptor) = (app.clone(), acceptor.clone());
        tokio::spawn(async move {
            let Ok(tls) = acceptor.accept(tcp).await else { return };
            let service = app.map_request(move |mut req: Request<Incoming>| {
                req.extensions_mut().insert(ConnectInfo(peer));
                req.map(Body::new)
            });
            let builder = Builder::new(TokioExecutor::new());
            let _ = builder
                .serve_connection(TokioIo::new(tls), TowerToHyperService::new(service))
                .await;
        });
    }
}

/// A self-signed ECDSA P-256 leaf for 127.0.0.1 (rcgen's default key, as keyhold's local CA issues).
fn tls_config() -> Result<Arc<rustls::ServerConfig>> {
    let rcgen::CertifiedKey { cert, signing_key } =
        rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_owned(), "localhost".to_owned()])?;
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(signing_key.serialize_der()));
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_no_client_auth()
        .with_single_cert(vec![cert.der().clone()], key)?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}
