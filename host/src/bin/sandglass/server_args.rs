//! The connection flags every command that reaches a server takes: the `temporal` CLI's
//! names, over its `temporal.toml` profile and `TEMPORAL_*` variables.

use std::path::{Path, PathBuf};

use anyhow::Context;
use sandglass_host::{ConnectionSettings, ProfileOptions};

/// Where the Temporal server is and how to reach it: the `temporal` CLI's flags, over
/// its `temporal.toml` profile and `TEMPORAL_*` variables.
#[derive(clap::Args, Clone)]
pub(crate) struct ServerArgs {
    /// Temporal frontend address, host:port or an http(s):// URL (default: the profile's,
    /// $TEMPORAL_ADDRESS, or localhost:7233).
    #[arg(long)]
    address: Option<String>,
    /// Namespace (default: the profile's, $TEMPORAL_NAMESPACE, or default).
    #[arg(long)]
    namespace: Option<String>,
    /// API key, sent as `authorization: Bearer <key>`; turns TLS on (default:
    /// $TEMPORAL_API_KEY). Prefer the variable: flags show in `ps`.
    #[arg(long)]
    api_key: Option<String>,
    /// Connect with TLS (default: on with an API key or any TLS setting).
    #[arg(long)]
    tls: bool,
    /// PEM file of the CA that signs the server's certificate (default: the system's
    /// roots).
    #[arg(long)]
    tls_ca_path: Option<PathBuf>,
    /// PEM client certificate, for mTLS.
    #[arg(long, requires = "tls_key_path")]
    tls_cert_path: Option<PathBuf>,
    /// PEM private key of the client certificate.
    #[arg(long, requires = "tls_cert_path")]
    tls_key_path: Option<PathBuf>,
    /// The name the server's certificate carries, if not the address's host.
    #[arg(long)]
    tls_server_name: Option<String>,
    /// Accept any server certificate (encrypted, not authenticated; for tests).
    #[arg(long)]
    tls_disable_host_verification: bool,
    /// gRPC header to send on every call, as KEY=VALUE; repeatable.
    #[arg(long, value_name = "KEY=VALUE")]
    grpc_meta: Vec<String>,
    /// Profile of the configuration file (default: $TEMPORAL_PROFILE or default).
    #[arg(long)]
    profile: Option<String>,
    /// The `temporal.toml` to read (default: $TEMPORAL_CONFIG_FILE, or
    /// ~/.config/temporalio/temporal.toml if it exists).
    #[arg(long)]
    config_file: Option<PathBuf>,
}

impl ServerArgs {
    /// The profile's and the environment's settings, with what the flags say instead.
    pub(crate) fn settings(&self) -> anyhow::Result<ConnectionSettings> {
        let mut profile = ProfileOptions::default();
        if let Some(file) = &self.config_file {
            profile = profile.with_config_file(file);
        }
        if let Some(name) = &self.profile {
            profile = profile.with_profile(name);
        }
        let mut settings = ConnectionSettings::load(&profile)?;
        if let Some(address) = &self.address {
            settings = settings.with_address(address.clone());
        }
        if let Some(namespace) = &self.namespace {
            settings = settings.with_namespace(namespace.clone());
        }
        if let Some(key) = &self.api_key {
            settings = settings.with_api_key(key.clone());
        }
        for meta in &self.grpc_meta {
            let (key, value) = meta
                .split_once('=')
                .with_context(|| format!("--grpc-meta {meta:?}: write it as KEY=VALUE"))?;
            // As envconfig normalizes TEMPORAL_GRPC_META_*, so a flag overrides a profile.
            settings = settings.with_header(key.to_ascii_lowercase().replace('_', "-"), value);
        }
        let tls_flags = self.tls
            || self.tls_ca_path.is_some()
            || self.tls_cert_path.is_some()
            || self.tls_server_name.is_some()
            || self.tls_disable_host_verification;
        if tls_flags {
            let mut tls = settings.tls.take().unwrap_or_default();
            tls.disabled = false;
            if let Some(path) = &self.tls_ca_path {
                tls.server_ca_cert = Some(read_pem("--tls-ca-path", path)?);
            }
            if let (Some(cert), Some(key)) = (&self.tls_cert_path, &self.tls_key_path) {
                tls.client_cert = Some(read_pem("--tls-cert-path", cert)?);
                tls.client_key = Some(read_pem("--tls-key-path", key)?);
            }
            if let Some(name) = &self.tls_server_name {
                tls.server_name = Some(name.clone());
            }
            tls.disable_host_verification |= self.tls_disable_host_verification;
            settings = settings.with_tls(tls);
        }
        Ok(settings)
    }
}

/// A certificate or key file the flags name, at most 1 MiB (whatever it is: a pipe
/// reports no size).
fn read_pem(flag: &str, path: &Path) -> anyhow::Result<Vec<u8>> {
    use std::io::Read;
    const MAX_BYTES: u64 = 1 << 20;
    let context = || format!("{flag} {}", path.display());
    let mut bytes = Vec::new();
    std::fs::File::open(path)
        .with_context(context)?
        .take(MAX_BYTES + 1)
        .read_to_end(&mut bytes)
        .with_context(context)?;
    anyhow::ensure!(
        bytes.len() as u64 <= MAX_BYTES,
        "{}: larger than {MAX_BYTES} bytes, too large for a PEM file",
        context()
    );
    Ok(bytes)
}

/// Keeps the API key out of logs.
impl std::fmt::Debug for ServerArgs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServerArgs")
            .field("address", &self.address)
            .field("namespace", &self.namespace)
            .field("api_key", &self.api_key.as_ref().map(|_| "<redacted>"))
            .field("profile", &self.profile)
            .field("config_file", &self.config_file)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        server: ServerArgs,
    }

    fn settings(args: &[&str]) -> anyhow::Result<ConnectionSettings> {
        let empty = std::env::temp_dir().join(format!("sandglass-cli-{}.toml", std::process::id()));
        std::fs::write(&empty, "").expect("write an empty temporal.toml");
        let mut argv = vec!["sandglass", "--config-file", empty.to_str().expect("utf-8")];
        argv.extend_from_slice(args);
        Cli::try_parse_from(argv)?.server.settings()
    }

    #[test]
    fn flags_set_what_the_temporal_cli_flags_set() {
        let settings = settings(&[
            "--address",
            "cloud.example:7233",
            "--api-key",
            "k",
            "--grpc-meta",
            "X_Team=payments",
            "--tls-server-name",
            "frontend",
        ])
        .expect("valid flags");
        assert_eq!(settings.address, "cloud.example:7233");
        assert_eq!(settings.api_key.as_deref(), Some("k"));
        assert_eq!(
            settings.headers.get("x-team").map(String::as_str),
            Some("payments")
        );
        let tls = settings.effective_tls().expect("TLS is on");
        assert_eq!(tls.server_name.as_deref(), Some("frontend"));
    }

    #[test]
    fn bad_flags_are_named() {
        let missing = settings(&["--tls-ca-path", "/nonexistent/ca.pem"]).unwrap_err();
        assert!(
            format!("{missing:#}").contains("--tls-ca-path"),
            "{missing:#}"
        );
        let meta = settings(&["--grpc-meta", "no-equals-sign"]).unwrap_err();
        assert!(format!("{meta:#}").contains("KEY=VALUE"), "{meta:#}");
        assert!(
            settings(&["--tls-cert-path", "/tmp/cert.pem"]).is_err(),
            "a cert needs its key"
        );
    }
}
