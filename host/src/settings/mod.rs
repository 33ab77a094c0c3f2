//! Where the Temporal server is and how to reach it, read the way every Temporal tool
//! reads it: a `temporal.toml` profile, then `TEMPORAL_*` environment variables, then
//! what the code or the command line says.

mod profile;
mod tls;

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

pub use tls::TlsSettings;

/// The frontend address `temporal server start-dev` listens on.
pub const DEFAULT_ADDRESS: &str = "localhost:7233";
/// The namespace a dev server creates.
pub const DEFAULT_NAMESPACE: &str = "default";

/// How to reach Temporal: where, as whom, and how securely.
///
/// [`from_env`](Self::from_env) reads it as the `temporal` CLI does; the `with_*`
/// setters change it in code. TLS is on when [`tls`](Self::tls) is set, when the
/// address is an `https://` URL, or when an API key is set (Temporal Cloud).
#[derive(Clone)]
#[non_exhaustive]
pub struct ConnectionSettings {
    /// `host:port` or a full `http(s)://` URL. Default `localhost:7233`.
    pub address: String,
    /// Default `default`.
    pub namespace: String,
    /// Names this process in the server's records (who started a workflow, which worker
    /// ran a task). Default `<pid>@<hostname>`.
    pub identity: String,
    /// How long to wait for the first connection (and its TLS handshake) before
    /// reporting the server unreachable. Default 10 s.
    pub connect_timeout: Duration,
    /// Sent as `authorization: Bearer <key>` on every call, as Temporal Cloud's API keys
    /// are. Turns TLS on unless [`tls`](Self::tls) is [`TlsSettings::disabled`].
    /// [`Client::set_api_key`](crate::Client::set_api_key) rotates it on a live client.
    pub api_key: Option<String>,
    /// TLS, and mTLS when it carries a client certificate. Default: none (plain text,
    /// unless an API key or an `https://` address turns it on).
    pub tls: Option<TlsSettings>,
    /// gRPC headers sent on every call (`TEMPORAL_GRPC_META_*`, `--grpc-meta`).
    pub headers: BTreeMap<String, String>,
}

/// Which `temporal.toml` and which profile in it; unset fields are read from
/// `TEMPORAL_CONFIG_FILE` and `TEMPORAL_PROFILE`, as the `temporal` CLI does.
#[derive(Clone, Debug, Default)]
#[non_exhaustive]
pub struct ProfileOptions {
    /// The configuration file. Default: `$TEMPORAL_CONFIG_FILE`, else
    /// `temporalio/temporal.toml` in the user's configuration directory
    /// (`~/.config` on Linux), if it exists.
    pub config_file: Option<PathBuf>,
    /// The profile in it. Default: `$TEMPORAL_PROFILE`, else `default`.
    pub profile: Option<String>,
}

impl ProfileOptions {
    pub fn with_config_file(mut self, path: impl Into<PathBuf>) -> Self {
        self.config_file = Some(path.into());
        self
    }

    pub fn with_profile(mut self, profile: impl Into<String>) -> Self {
        self.profile = Some(profile.into());
        self
    }
}

/// Why connection settings could not be read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SettingsError {
    #[error(
        "the Temporal configuration file {path} does not exist; create it, or unset \
         TEMPORAL_CONFIG_FILE / drop --config-file to use the default location"
    )]
    ConfigFileMissing { path: PathBuf },
    #[error(
        "profile {profile:?} is not in the Temporal configuration file; list the file's \
         profiles with `temporal config list`, or unset TEMPORAL_PROFILE / drop --profile"
    )]
    ProfileNotFound { profile: String },
    #[error("the Temporal client configuration is not usable: {0}")]
    Invalid(String),
    #[error("cannot read {what} from {path}: {source}")]
    Read {
        what: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{what} is not usable: {reason}")]
    Tls { what: &'static str, reason: String },
    #[error(
        "the address {address} says http://, but TLS is configured (a TLS setting or an API \
         key); use https:// or a bare host:port, or turn TLS off"
    )]
    PlainTextAddressWithTls { address: String },
    #[error(
        "the address {address} says https://, but TLS is turned off (TEMPORAL_TLS=false or a \
         profile's `disabled = true`); use a bare host:port, or turn TLS on"
    )]
    TlsAddressWithoutTls { address: String },
    #[error("the address {address} has the scheme {scheme:?}; use host:port, http:// or https://")]
    UnsupportedScheme { address: String, scheme: String },
    #[error(
        "the gRPC header {name:?} is not usable: {reason}; header names are lowercase \
         ASCII letters, digits, '-' and '_', values visible ASCII"
    )]
    InvalidHeader { name: String, reason: String },
    #[error(
        "the API key contains characters an HTTP header cannot carry (a line break or \
         another control character); copy the key again"
    )]
    InvalidApiKey,
}

impl Default for ConnectionSettings {
    fn default() -> Self {
        Self {
            address: DEFAULT_ADDRESS.to_owned(),
            namespace: DEFAULT_NAMESPACE.to_owned(),
            identity: default_identity(),
            connect_timeout: Duration::from_secs(10),
            api_key: None,
            tls: None,
            headers: BTreeMap::new(),
        }
    }
}

impl ConnectionSettings {
    /// The defaults, overridden by the default profile of `temporal.toml` (or the one
    /// `TEMPORAL_CONFIG_FILE` and `TEMPORAL_PROFILE` name), overridden in turn by
    /// `TEMPORAL_ADDRESS`, `TEMPORAL_NAMESPACE`, `TEMPORAL_API_KEY`, `TEMPORAL_TLS`,
    /// `TEMPORAL_TLS_*` and `TEMPORAL_GRPC_META_*`: the `temporal` CLI's precedence.
    /// Blank variables count as unset.
    pub fn from_env() -> Result<Self, SettingsError> {
        Self::load(&ProfileOptions::default())
    }

    /// Like [`from_env`](Self::from_env), from the file and profile `options` name.
    pub fn load(options: &ProfileOptions) -> Result<Self, SettingsError> {
        profile::load(options, &profile::process_env())
    }

    pub fn with_address(mut self, address: impl Into<String>) -> Self {
        self.address = address.into();
        self
    }

    pub fn with_namespace(mut self, namespace: impl Into<String>) -> Self {
        self.namespace = namespace.into();
        self
    }

    pub fn with_connect_timeout(mut self, connect_timeout: Duration) -> Self {
        self.connect_timeout = connect_timeout;
        self
    }

    pub fn with_api_key(mut self, api_key: impl Into<String>) -> Self {
        self.api_key = Some(api_key.into());
        self
    }

    pub fn with_tls(mut self, tls: TlsSettings) -> Self {
        self.tls = Some(tls);
        self
    }

    /// Adds a gRPC header sent on every call.
    pub fn with_header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.headers.insert(name.into(), value.into());
        self
    }

    /// The TLS to connect with, if any: [`tls`](Self::tls) unless disabled, else the
    /// defaults when an API key or an `https://` address asks for TLS.
    pub fn effective_tls(&self) -> Option<TlsSettings> {
        match &self.tls {
            Some(tls) if tls.disabled => None,
            Some(tls) => Some(tls.clone()),
            None if self.api_key.is_some() || self.scheme().as_deref() == Some("https") => {
                Some(TlsSettings::default())
            }
            None => None,
        }
    }

    /// The address's scheme, lowercase, if it has one.
    fn scheme(&self) -> Option<String> {
        let (scheme, _) = self.address.split_once("://")?;
        Some(scheme.to_ascii_lowercase())
    }

    /// The address as a URL: `https://` when TLS is on, `http://` (plain-text gRPC)
    /// otherwise. Only those two schemes are taken: tonic speaks TLS to `https` alone,
    /// so any other would carry an API key in plain text.
    pub fn url(&self) -> Result<String, SettingsError> {
        let tls = self.effective_tls().is_some();
        let address = self.address.clone();
        let rest = self
            .address
            .split_once("://")
            .map_or(self.address.as_str(), |(_, rest)| rest);
        match (self.scheme().as_deref(), tls) {
            (None | Some("https"), true) => Ok(format!("https://{rest}")),
            (None | Some("http"), false) => Ok(format!("http://{rest}")),
            (Some("http"), true) => Err(SettingsError::PlainTextAddressWithTls { address }),
            (Some("https"), false) => Err(SettingsError::TlsAddressWithoutTls { address }),
            (Some(scheme), _) => Err(SettingsError::UnsupportedScheme {
                address,
                scheme: scheme.to_owned(),
            }),
        }
    }

    /// Checks what the server and core would otherwise trip over later: headers and an
    /// API key that HTTP cannot carry, TLS material that does not parse.
    pub(crate) fn validate(&self) -> Result<(), SettingsError> {
        for (name, value) in &self.headers {
            validate_header(name, value)?;
        }
        if let Some(key) = &self.api_key {
            validate_api_key(key)?;
        }
        if let Some(tls) = self.effective_tls() {
            tls.validate()?;
        }
        self.url().map(drop)
    }
}

/// Header names as HTTP/2 sends them (lowercase); binary (`-bin`) headers and the ones
/// the connection sets itself are refused.
pub(crate) fn validate_header(name: &str, value: &str) -> Result<(), SettingsError> {
    let refuse = |reason: &str| {
        Err(SettingsError::InvalidHeader {
            name: name.to_owned(),
            reason: reason.to_owned(),
        })
    };
    if name.is_empty() {
        return refuse("it is empty");
    }
    if !name
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
    {
        return refuse("the name has a character other than a-z, 0-9, '-' or '_'");
    }
    if name.ends_with("-bin") {
        return refuse("binary (-bin) headers are not supported");
    }
    if name == "authorization" {
        return refuse("set the API key instead (TEMPORAL_API_KEY, --api-key)");
    }
    const SET_BY_THE_CONNECTION: [&str; 9] = [
        "content-type",
        "te",
        "user-agent",
        "host",
        "connection",
        "keep-alive",
        "proxy-connection",
        "transfer-encoding",
        "upgrade",
    ];
    if name.starts_with("grpc-") || SET_BY_THE_CONNECTION.contains(&name) {
        return refuse("the connection sets this header itself");
    }
    if !value
        .bytes()
        .all(|b| b == b'\t' || (b' '..=b'~').contains(&b))
    {
        return refuse("the value has a character other than visible ASCII");
    }
    Ok(())
}

pub(crate) fn validate_api_key(key: &str) -> Result<(), SettingsError> {
    if key.bytes().all(|b| (b' '..=b'~').contains(&b)) {
        Ok(())
    } else {
        Err(SettingsError::InvalidApiKey)
    }
}

/// Keeps the API key and the client key out of logs.
impl fmt::Debug for ConnectionSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ConnectionSettings")
            .field("address", &self.address)
            .field("namespace", &self.namespace)
            .field("identity", &self.identity)
            .field("connect_timeout", &self.connect_timeout)
            .field("api_key", &self.api_key.as_ref().map(|_| "<redacted>"))
            .field("tls", &self.tls)
            .field("headers", &self.headers.keys().collect::<Vec<_>>())
            .finish()
    }
}

fn default_identity() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|h| h.trim().to_owned())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "localhost".to_owned());
    format!("{}@{host}", std::process::id())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tls_follows_the_api_key_and_the_scheme() {
        let plain = ConnectionSettings::default().with_address("127.0.0.1:9999");
        assert_eq!(plain.url().unwrap(), "http://127.0.0.1:9999");
        let keyed = plain.clone().with_api_key("k");
        assert_eq!(keyed.url().unwrap(), "https://127.0.0.1:9999");
        let off = keyed.clone().with_tls(TlsSettings::disabled());
        assert_eq!(off.url().unwrap(), "http://127.0.0.1:9999");
        let https = ConnectionSettings::default().with_address("https://cloud:7233");
        assert!(https.effective_tls().is_some());
        let contradiction = keyed.clone().with_address("http://127.0.0.1:9999");
        assert!(matches!(
            contradiction.url(),
            Err(SettingsError::PlainTextAddressWithTls { .. })
        ));
        // Schemes in any case; only http and https.
        let shouting = keyed.clone().with_address("HTTP://cloud:7233");
        assert!(shouting.url().is_err());
        let https = ConnectionSettings::default().with_address("HTTPS://cloud:7233");
        assert_eq!(https.url().unwrap(), "https://cloud:7233");
        for other in ["grpc://cloud:7233", "dns:///cloud:7233", "unix:///tmp/s"] {
            let settings = keyed.clone().with_address(other);
            assert!(
                matches!(settings.url(), Err(SettingsError::UnsupportedScheme { .. })),
                "{other}"
            );
        }
        let off = ConnectionSettings::default()
            .with_address("https://cloud:7233")
            .with_tls(TlsSettings::disabled());
        assert!(matches!(
            off.url(),
            Err(SettingsError::TlsAddressWithoutTls { .. })
        ));
    }

    #[test]
    fn headers_http_cannot_carry_are_refused() {
        for (name, value) in [
            ("", "v"),
            ("Upper", "v"),
            ("x y", "v"),
            ("trace-bin", "v"),
            ("authorization", "Bearer x"),
            ("grpc-timeout", "1S"),
            ("connection", "close"),
            ("upgrade", "h2c"),
            ("x-team", "line\nbreak"),
            ("x-team", "é"),
        ] {
            assert!(validate_header(name, value).is_err(), "{name:?}: {value:?}");
        }
        validate_header("x-team_id", "payments 7").unwrap();
        assert!(matches!(
            validate_api_key("key\r\nx-injected: 1"),
            Err(SettingsError::InvalidApiKey)
        ));
    }

    #[test]
    fn debug_output_keeps_secrets_out() {
        let settings = ConnectionSettings::default()
            .with_api_key("secret-key")
            .with_tls(
                TlsSettings::default().with_client_identity(b"CERT".to_vec(), b"KEY".to_vec()),
            )
            .with_header("x-token", "secret-header");
        let shown = format!("{settings:?}");
        for secret in ["secret-key", "KEY", "secret-header"] {
            assert!(!shown.contains(secret), "{shown}");
        }
    }
}
