//! TLS for the transport: the `ClientTlsConfig` a [`TlsSettings`] describes, and the
//! verifier behind `disable_host_verification`.

use std::sync::Arc;
use std::time::Duration;

use rustls::DigitallySignedStruct;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{CryptoProvider, verify_tls12_signature, verify_tls13_signature};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use temporalio_client::tonic;
use temporalio_client::tonic::transport::{Certificate, ClientTlsConfig, Endpoint, Identity};

use crate::settings::TlsSettings;

/// `endpoint` with TLS as `tls` says: the server's certificate checked against its CA
/// (or the system's roots), a client certificate for mTLS, a server name other than the
/// address's host, the handshake bounded by `timeout`.
pub(super) fn configure(
    endpoint: Endpoint,
    tls: &TlsSettings,
    timeout: Duration,
) -> Result<Endpoint, tonic::transport::Error> {
    let mut config = ClientTlsConfig::new().timeout(timeout);
    let mut endpoint = endpoint;
    if let Some(name) = &tls.server_name {
        config = config.domain_name(name.clone());
        // The `:authority` too, for proxies that route by it.
        if let Ok(origin) = format!("https://{name}").parse() {
            endpoint = endpoint.origin(origin);
        }
    }
    if let (Some(cert), Some(key)) = (&tls.client_cert, &tls.client_key) {
        config = config.identity(Identity::from_pem(cert, key));
    }
    if tls.disable_host_verification {
        return endpoint.tls_config_with_verifier(config, Arc::new(AnyServerCertificate::new()));
    }
    config = match &tls.server_ca_cert {
        Some(ca) => config.ca_certificate(Certificate::from_pem(ca)),
        None => config.with_native_roots(),
    };
    endpoint.tls_config(config)
}

/// Accepts whatever certificate the server shows, still checking that the server holds
/// its key: encryption without authentication, what `--tls-disable-host-verification`
/// asks for.
#[derive(Debug)]
struct AnyServerCertificate(Arc<CryptoProvider>);

impl AnyServerCertificate {
    fn new() -> Self {
        Self(Arc::new(rustls::crypto::ring::default_provider()))
    }
}

impl ServerCertVerifier for AnyServerCertificate {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        signature: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(
            message,
            cert,
            signature,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        signature: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(
            message,
            cert,
            signature,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// Why a server closed a TLS connection it had accepted: with TLS 1.3 a server checks
/// the client's certificate after the client's side of the handshake is done, and its
/// refusal reaches the request as a bare "connection closed". This probe connects once
/// more, speaks first and reads the server's alert. `None` if the server answers.
pub(super) async fn diagnose(url: &str, tls: &TlsSettings, timeout: Duration) -> Option<String> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    let uri: tonic::codegen::http::Uri = url.parse().ok()?;
    let host = uri
        .host()?
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_owned();
    let port = uri.port_u16().unwrap_or(443);
    let name =
        ServerName::try_from(tls.server_name.clone().unwrap_or_else(|| host.clone())).ok()?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let versions = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .ok()?;
    // The real connection's trust: the client certificate goes only to a server it trusts.
    let builder = if tls.disable_host_verification {
        versions
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(AnyServerCertificate::new()))
    } else {
        let mut roots = rustls::RootCertStore::empty();
        match &tls.server_ca_cert {
            Some(pem) => {
                use rustls::pki_types::pem::PemObject;
                for certificate in CertificateDer::pem_slice_iter(pem) {
                    roots.add(certificate.ok()?).ok()?;
                }
            }
            None => {
                roots.add_parsable_certificates(rustls_native_certs::load_native_certs().certs);
            }
        }
        versions.with_root_certificates(roots)
    };
    let mut config = match (&tls.client_cert, &tls.client_key) {
        (Some(cert), Some(key)) => {
            use rustls::pki_types::pem::PemObject;
            let chain = CertificateDer::pem_slice_iter(cert)
                .collect::<Result<Vec<_>, _>>()
                .ok()?;
            let key = rustls::pki_types::PrivateKeyDer::from_pem_slice(key).ok()?;
            builder.with_client_auth_cert(chain, key).ok()?
        }
        _ => builder.with_no_client_auth(),
    };
    config.alpn_protocols = vec![b"h2".to_vec()];
    let probe = async {
        let stream = tokio::net::TcpStream::connect((host.as_str(), port))
            .await
            .ok()?;
        let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
        let mut stream = match connector.connect(name, stream).await {
            Ok(stream) => stream,
            Err(error) => return explain(&error, true),
        };
        // The HTTP/2 preface and an empty SETTINGS frame: enough for the server to answer.
        let hello = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\x00\x00\x00\x04\x00\x00\x00\x00\x00";
        if let Err(error) = stream.write_all(hello).await {
            return explain(&error, true);
        }
        let mut answer = [0u8; 64];
        match stream.read(&mut answer).await {
            Err(error) => explain(&error, true),
            Ok(_) => None,
        }
    };
    tokio::time::timeout(timeout, probe).await.ok().flatten()
}

/// What went wrong in a TLS handshake, in words that say what to change, if the error
/// chain holds a rustls error.
pub(super) fn explain(error: &(dyn std::error::Error + 'static), tls: bool) -> Option<String> {
    let mut source = Some(error);
    while let Some(error) = source {
        // tokio-rustls wraps its errors in an `io::Error`, whose `source` skips them.
        let inner = error
            .downcast_ref::<std::io::Error>()
            .and_then(|io| io.get_ref())
            .map(|inner| inner as &(dyn std::error::Error + 'static));
        let rustls = error
            .downcast_ref::<rustls::Error>()
            .or_else(|| inner.and_then(|inner| inner.downcast_ref::<rustls::Error>()));
        if let Some(rustls) = rustls {
            return Some(explain_rustls(rustls));
        }
        source = error.source();
    }
    let text = error_chain(error);
    if tls && text.contains("native certs") {
        return Some(
            "this machine has no system CA certificates; set the server's CA \
             (TEMPORAL_TLS_SERVER_CA_CERT_PATH, --tls-ca-path) or install them \
             (ca-certificates)"
                .into(),
        );
    }
    if tls && (text.contains("InvalidContentType") || text.contains("corrupt message")) {
        return Some(
            "the server does not speak TLS; connect without TLS (drop the TLS settings and \
             any API key, or set TEMPORAL_TLS=false)"
                .into(),
        );
    }
    None
}

fn explain_rustls(error: &rustls::Error) -> String {
    use rustls::{AlertDescription, CertificateError, Error};
    match error {
        Error::InvalidCertificate(CertificateError::UnknownIssuer) => {
            "the server's certificate is not signed by a CA this client trusts; set the CA \
             that signed it (TEMPORAL_TLS_SERVER_CA_CERT_PATH, --tls-ca-path)"
                .into()
        }
        Error::InvalidCertificate(
            CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
        ) => "the server's certificate is not issued for the name connected to; set the name \
              it carries (TEMPORAL_TLS_SERVER_NAME, --tls-server-name)"
            .into(),
        Error::InvalidCertificate(
            CertificateError::Expired | CertificateError::ExpiredContext { .. },
        ) => "the server's certificate has expired".into(),
        Error::InvalidCertificate(other) => {
            format!("the server's certificate does not verify ({other:?})")
        }
        Error::AlertReceived(AlertDescription::CertificateRequired)
        | Error::AlertReceived(AlertDescription::BadCertificate)
        | Error::AlertReceived(AlertDescription::UnknownCA) => {
            "the server refused the TLS handshake; it wants a client certificate it trusts \
             (mTLS): set TEMPORAL_TLS_CLIENT_CERT_PATH and TEMPORAL_TLS_CLIENT_KEY_PATH \
             (--tls-cert-path, --tls-key-path) to one its CA signed"
                .into()
        }
        Error::AlertReceived(AlertDescription::HandshakeFailure) => {
            "the server refused the TLS handshake: it wants a client certificate it trusts \
             (mTLS: TEMPORAL_TLS_CLIENT_CERT_PATH and TEMPORAL_TLS_CLIENT_KEY_PATH), or it \
             shares no TLS version or cipher suite with this client"
                .into()
        }
        Error::InvalidMessage(_) => {
            "the server does not speak TLS; connect without TLS (drop the TLS settings and \
             any API key, or set TEMPORAL_TLS=false)"
                .into()
        }
        other => format!("the TLS handshake failed ({other})"),
    }
}

/// The error and its sources, joined.
pub(super) fn error_chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(error) = source {
        text.push_str(": ");
        text.push_str(&error.to_string());
        source = error.source();
    }
    text
}
