//! Where the Temporal server is, read the way every Temporal tool reads it.

use std::time::Duration;

/// The frontend address `temporal server start-dev` listens on.
pub const DEFAULT_ADDRESS: &str = "localhost:7233";
/// The namespace a dev server creates.
pub const DEFAULT_NAMESPACE: &str = "default";

/// How to reach Temporal.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct ConnectionSettings {
    /// `host:port` or a full `http(s)://` URL. Default `localhost:7233`.
    pub address: String,
    /// Default `default`.
    pub namespace: String,
    /// Names this process in the server's records (who started a workflow, which worker
    /// ran a task). Default `<pid>@<hostname>`.
    pub identity: String,
    /// How long to wait for the first connection before reporting the server
    /// unreachable. Default 10 s.
    pub connect_timeout: Duration,
}

impl Default for ConnectionSettings {
    fn default() -> Self {
        Self {
            address: DEFAULT_ADDRESS.to_owned(),
            namespace: DEFAULT_NAMESPACE.to_owned(),
            identity: default_identity(),
            connect_timeout: Duration::from_secs(10),
        }
    }
}

impl ConnectionSettings {
    /// Defaults overridden by `TEMPORAL_ADDRESS` and `TEMPORAL_NAMESPACE`, the variables
    /// the `temporal` CLI and the other SDKs read.
    pub fn from_env() -> Self {
        Self::from_lookup(|key| std::env::var(key).ok())
    }

    fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Self {
        let mut settings = Self::default();
        if let Some(address) = lookup("TEMPORAL_ADDRESS").filter(|v| !v.trim().is_empty()) {
            settings.address = address.trim().to_owned();
        }
        if let Some(namespace) = lookup("TEMPORAL_NAMESPACE").filter(|v| !v.trim().is_empty()) {
            settings.namespace = namespace.trim().to_owned();
        }
        settings
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

    /// The address as a URL; bare `host:port` means plain-text gRPC.
    pub fn url(&self) -> String {
        if self.address.contains("://") {
            self.address.clone()
        } else {
            format!("http://{}", self.address)
        }
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
    fn environment_overrides_defaults() {
        let settings = ConnectionSettings::from_lookup(|key| match key {
            "TEMPORAL_ADDRESS" => Some("127.0.0.1:9999".into()),
            _ => None,
        });
        assert_eq!(settings.address, "127.0.0.1:9999");
        assert_eq!(settings.namespace, "default");
        assert_eq!(settings.url(), "http://127.0.0.1:9999");
    }

    #[test]
    fn blank_variables_are_ignored() {
        let settings = ConnectionSettings::from_lookup(|_| Some("  ".into()));
        assert_eq!(settings.address, DEFAULT_ADDRESS);
    }
}
