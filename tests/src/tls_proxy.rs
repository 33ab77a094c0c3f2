//! A TLS-terminating gRPC proxy in front of a dev server (which has no TLS of its own),
//! with a test CA: what a secured cluster or Temporal Cloud looks like to a client.
//!
//! The proxy terminates TLS (optionally requiring a client certificate the CA signed),
//! optionally refuses calls without `authorization: Bearer <key>` the way Temporal Cloud
//! does (gRPC status `UNAUTHENTICATED`), and forwards everything else over plain HTTP/2
//! to the server.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;

use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Empty};
use hyper::body::{Bytes, Incoming};
use hyper::header::HeaderValue;
use hyper::{Request, Response};
use hyper_util::client::legacy::Client as HttpClient;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioIo};
use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::WebPkiClientVerifier;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

/// A certificate authority of the test's own, and what it signs.
pub struct TestCa {
    /// The CA's certificate, PEM: what a client trusts.
    pub cert_pem: String,
    issuer: Issuer<'static, KeyPair>,
}

/// A certificate and its private key, PEM.
#[derive(Clone)]
pub struct SignedIdentity {
    pub cert_pem: String,
    pub key_pem: String,
}

impl TestCa {
    pub fn new(name: &str) -> Self {
        let key = KeyPair::generate().expect("CA key");
        let mut params = CertificateParams::new(Vec::<String>::new()).expect("CA params");
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.distinguished_name.push(DnType::CommonName, name);
        let cert = params.self_signed(&key).expect("self-signed CA");
        Self {
            cert_pem: cert.pem(),
            issuer: Issuer::new(params, key),
        }
    }

    /// A server certificate for `localhost` and `127.0.0.1`.
    pub fn server_identity(&self) -> SignedIdentity {
        self.sign(
            vec!["localhost".into(), "127.0.0.1".into()],
            ExtendedKeyUsagePurpose::ServerAuth,
        )
    }

    /// A client certificate, for mTLS.
    pub fn client_identity(&self) -> SignedIdentity {
        self.sign(
            vec!["sandglass-test-client".into()],
            ExtendedKeyUsagePurpose::ClientAuth,
        )
    }

    fn sign(&self, names: Vec<String>, usage: ExtendedKeyUsagePurpose) -> SignedIdentity {
        let key = KeyPair::generate().expect("key");
        let mut params = CertificateParams::new(names).expect("params");
        params.extended_key_usages = vec![usage];
        let cert = params
            .signed_by(&key, &self.issuer)
            .expect("signed certificate");
        SignedIdentity {
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
        }
    }
}

/// What the proxy demands of its clients.
#[derive(Clone, Default)]
pub struct ProxyOptions {
    /// Require a client certificate the proxy's CA signed (mTLS).
    pub require_client_cert: bool,
    /// Refuse calls whose `authorization` is not `Bearer <key>`.
    pub api_key: Option<String>,
}

/// The proxy, serving until dropped.
pub struct TlsProxy {
    address: SocketAddr,
    /// The CA that signed the proxy's certificate (and accepted client certificates).
    pub ca: Arc<TestCa>,
    task: JoinHandle<()>,
}

impl TlsProxy {
    /// Listens on a free loopback port and forwards to `upstream` (`host:port`).
    pub async fn start(upstream: &str, options: ProxyOptions) -> Self {
        let ca = Arc::new(TestCa::new("Sandglass test CA"));
        let server = ca.server_identity();
        let certs = CertificateDer::pem_slice_iter(server.cert_pem.as_bytes())
            .collect::<Result<Vec<_>, _>>()
            .expect("server certificate");
        let key = PrivateKeyDer::from_pem_slice(server.key_pem.as_bytes()).expect("server key");
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let builder = rustls::ServerConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .expect("TLS versions");
        let mut config = if options.require_client_cert {
            let mut roots = rustls::RootCertStore::empty();
            for cert in CertificateDer::pem_slice_iter(ca.cert_pem.as_bytes()) {
                roots.add(cert.expect("CA certificate")).expect("CA root");
            }
            let verifier = WebPkiClientVerifier::builder_with_provider(roots.into(), provider)
                .build()
                .expect("client verifier");
            builder.with_client_cert_verifier(verifier)
        } else {
            builder.with_no_client_auth()
        }
        .with_single_cert(certs, key)
        .expect("server TLS config");
        config.alpn_protocols = vec![b"h2".to_vec()];
        let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));

        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind the proxy");
        let address = listener.local_addr().expect("proxy address");
        let upstream: Arc<str> = Arc::from(format!("http://{upstream}"));
        let client: HttpClient<HttpConnector, Incoming> = HttpClient::builder(TokioExecutor::new())
            .http2_only(true)
            .build_http();
        let api_key = options
            .api_key
            .map(|key| Arc::<str>::from(format!("Bearer {key}")));
        let task = tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    // Out of file descriptors, say: wait rather than spin.
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                    continue;
                };
                let (acceptor, client, upstream, api_key) = (
                    acceptor.clone(),
                    client.clone(),
                    upstream.clone(),
                    api_key.clone(),
                );
                tokio::spawn(async move {
                    // A refused handshake (no client certificate, an unknown CA) ends here.
                    let handshake = std::time::Duration::from_secs(10);
                    let Ok(Ok(tls)) =
                        tokio::time::timeout(handshake, acceptor.accept(stream)).await
                    else {
                        return;
                    };
                    let service = hyper::service::service_fn(move |request| {
                        forward(request, client.clone(), upstream.clone(), api_key.clone())
                    });
                    let _ = hyper::server::conn::http2::Builder::new(TokioExecutor::new())
                        .serve_connection(TokioIo::new(tls), service)
                        .await;
                });
            }
        });
        Self { address, ca, task }
    }

    /// `localhost:PORT`: the name on the proxy's certificate.
    pub fn address(&self) -> String {
        format!("localhost:{}", self.address.port())
    }
}

impl Drop for TlsProxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

type ProxyBody = BoxBody<Bytes, hyper::Error>;

async fn forward(
    mut request: Request<Incoming>,
    client: HttpClient<HttpConnector, Incoming>,
    upstream: Arc<str>,
    api_key: Option<Arc<str>>,
) -> Result<Response<ProxyBody>, Infallible> {
    if let Some(expected) = api_key {
        let given = request
            .headers()
            .get("authorization")
            .and_then(|v| v.to_str().ok());
        if given != Some(&*expected) {
            return Ok(grpc_error(
                16,
                "Request unauthorized: a valid API key is required",
            ));
        }
    }
    let path = request
        .uri()
        .path_and_query()
        .map_or("/", |p| p.as_str())
        .to_owned();
    *request.uri_mut() = format!("{upstream}{path}").parse().expect("upstream URI");
    match client.request(request).await {
        Ok(response) => Ok(response.map(|body| body.boxed())),
        Err(error) => Ok(grpc_error(14, &format!("proxy: upstream failed: {error}"))),
    }
}

/// A trailers-only gRPC error response.
fn grpc_error(code: u32, message: &str) -> Response<ProxyBody> {
    let message: String = message
        .chars()
        .map(|c| {
            if c.is_ascii_graphic() || c == ' ' {
                c
            } else {
                '?'
            }
        })
        .collect();
    let mut response = Response::new(Empty::new().map_err(|never| match never {}).boxed());
    let headers = response.headers_mut();
    headers.insert("content-type", HeaderValue::from_static("application/grpc"));
    headers.insert("grpc-status", HeaderValue::from(code));
    if let Ok(message) = HeaderValue::from_str(&message) {
        headers.insert("grpc-message", message);
    }
    response
}
