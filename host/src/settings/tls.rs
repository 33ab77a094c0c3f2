//! TLS and mTLS settings, checked before a connection tries them.

use std::fmt;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};

use super::SettingsError;

/// TLS to the server; with a client certificate and key, mTLS. Each field is what
/// `TEMPORAL_TLS_*` (or a profile's `[profile.NAME.tls]`) sets.
#[derive(Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct TlsSettings {
    /// Turns TLS off even where an API key would turn it on (`TEMPORAL_TLS=false`).
    pub disabled: bool,
    /// PEM certificates of the CAs that may sign the server's certificate; default: the
    /// system's roots.
    pub server_ca_cert: Option<Vec<u8>>,
    /// PEM client certificate (chain), for mTLS; needs [`client_key`](Self::client_key).
    pub client_cert: Option<Vec<u8>>,
    /// PEM private key of the client certificate.
    pub client_key: Option<Vec<u8>>,
    /// The name the server's certificate must carry, and the SNI sent; default: the
    /// address's host.
    pub server_name: Option<String>,
    /// Accept any server certificate (`TEMPORAL_TLS_DISABLE_HOST_VERIFICATION`, as the
    /// `temporal` CLI's `--tls-disable-host-verification`): the connection is encrypted
    /// but not authenticated, and a server CA, if set, is not used. For tests only.
    pub disable_host_verification: bool,
}

impl TlsSettings {
    /// TLS turned off explicitly.
    pub fn disabled() -> Self {
        Self {
            disabled: true,
            ..Self::default()
        }
    }

    pub fn with_server_ca_cert(mut self, pem: impl Into<Vec<u8>>) -> Self {
        self.server_ca_cert = Some(pem.into());
        self
    }

    /// The client certificate and its key, for mTLS.
    pub fn with_client_identity(
        mut self,
        cert: impl Into<Vec<u8>>,
        key: impl Into<Vec<u8>>,
    ) -> Self {
        self.client_cert = Some(cert.into());
        self.client_key = Some(key.into());
        self
    }

    pub fn with_server_name(mut self, name: impl Into<String>) -> Self {
        self.server_name = Some(name.into());
        self
    }

    pub fn with_disable_host_verification(mut self, disable: bool) -> Self {
        self.disable_host_verification = disable;
        self
    }

    /// Parses what it holds, so that a bad file is named now rather than as a handshake
    /// failure later.
    pub(crate) fn validate(&self) -> Result<(), SettingsError> {
        if let Some(pem) = &self.server_ca_cert {
            let mut roots = rustls::RootCertStore::empty();
            for certificate in certificates("the server CA certificate", pem)? {
                roots.add(certificate).map_err(|error| SettingsError::Tls {
                    what: "the server CA certificate",
                    reason: format!("a certificate in it is not usable as a CA ({error})"),
                })?;
            }
        }
        match (&self.client_cert, &self.client_key) {
            (Some(cert), Some(key)) => {
                let chain = certificates("the client certificate", cert)?;
                let key =
                    PrivateKeyDer::from_pem_slice(key).map_err(|error| SettingsError::Tls {
                        what: "the client key",
                        reason: format!("no PEM private key in it ({error})"),
                    })?;
                let provider = rustls::crypto::ring::default_provider();
                rustls::sign::CertifiedKey::from_der(chain, key, &provider).map_err(|error| {
                    SettingsError::Tls {
                        what: "the client key",
                        reason: format!(
                            "it does not belong to the client certificate, or its kind is not \
                             supported ({error})"
                        ),
                    }
                })?;
            }
            (Some(_), None) => {
                return Err(SettingsError::Tls {
                    what: "the client certificate",
                    reason: "it has no key; set TEMPORAL_TLS_CLIENT_KEY_PATH (--tls-key-path)"
                        .into(),
                });
            }
            (None, Some(_)) => {
                return Err(SettingsError::Tls {
                    what: "the client key",
                    reason: "it has no certificate; set TEMPORAL_TLS_CLIENT_CERT_PATH \
                             (--tls-cert-path)"
                        .into(),
                });
            }
            (None, None) => {}
        }
        if let Some(name) = &self.server_name {
            ServerName::try_from(name.as_str()).map_err(|_| SettingsError::Tls {
                what: "the TLS server name",
                reason: format!("{name:?} is not a DNS name or an IP address"),
            })?;
        }
        Ok(())
    }
}

/// The certificates in `pem`: at least one, each parsing.
fn certificates(
    what: &'static str,
    pem: &[u8],
) -> Result<Vec<CertificateDer<'static>>, SettingsError> {
    let certificates = CertificateDer::pem_slice_iter(pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|error| SettingsError::Tls {
            what,
            reason: format!("it does not parse as PEM ({error})"),
        })?;
    if certificates.is_empty() {
        return Err(SettingsError::Tls {
            what,
            reason: "it holds no PEM certificate (-----BEGIN CERTIFICATE-----)".into(),
        });
    }
    Ok(certificates)
}

/// Keeps the client key out of logs.
impl fmt::Debug for TlsSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let shown = |set: bool| if set { "<set>" } else { "<none>" };
        f.debug_struct("TlsSettings")
            .field("disabled", &self.disabled)
            .field("server_ca_cert", &shown(self.server_ca_cert.is_some()))
            .field("client_cert", &shown(self.client_cert.is_some()))
            .field("client_key", &shown(self.client_key.is_some()))
            .field("server_name", &self.server_name)
            .field("disable_host_verification", &self.disable_host_verification)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unusable_material_is_named() {
        let not_pem = TlsSettings::default().with_server_ca_cert(b"hello".to_vec());
        let message = not_pem.validate().unwrap_err().to_string();
        assert!(message.contains("server CA certificate"), "{message}");
        assert!(message.contains("no PEM certificate"), "{message}");

        let half = TlsSettings {
            client_cert: Some(b"x".to_vec()),
            ..TlsSettings::default()
        };
        let message = half.validate().unwrap_err().to_string();
        assert!(
            message.contains("TEMPORAL_TLS_CLIENT_KEY_PATH"),
            "{message}"
        );

        let name = TlsSettings::default().with_server_name("not a name");
        assert!(name.validate().is_err());
    }
}
