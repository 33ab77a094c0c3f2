//! `temporal.toml` profiles and `TEMPORAL_*` variables, through `temporalio-client`'s
//! own envconfig, so that Sandglass reads them exactly as the `temporal` CLI and the
//! other SDKs do.

use std::collections::HashMap;
use std::io::Read;
use std::path::{Path, PathBuf};

use temporalio_common::envconfig::{
    ClientConfigProfile, ConfigError, DataSource, LoadClientConfigProfileOptions,
    load_client_config_profile,
};

use super::{ConnectionSettings, ProfileOptions, SettingsError, TlsSettings};

/// A configuration file, certificate or key larger than this is refused.
const MAX_FILE_BYTES: u64 = 1 << 20;

/// The process's `TEMPORAL_*` variables, blank ones left out (as unset) except for
/// `TEMPORAL_GRPC_META_*`, where blank removes a header the profile set.
pub(super) fn process_env() -> HashMap<String, String> {
    temporal_variables(
        std::env::vars_os()
            .filter_map(|(key, value)| Some((key.into_string().ok()?, value.into_string().ok()?))),
    )
}

fn temporal_variables(vars: impl Iterator<Item = (String, String)>) -> HashMap<String, String> {
    vars.filter(|(key, value)| {
        key.starts_with("TEMPORAL_")
            && (key.starts_with("TEMPORAL_GRPC_META_") || !value.trim().is_empty())
    })
    .collect()
}

pub(super) fn load(
    options: &ProfileOptions,
    env: &HashMap<String, String>,
) -> Result<ConnectionSettings, SettingsError> {
    let config_file = options
        .config_file
        .clone()
        .or_else(|| env.get("TEMPORAL_CONFIG_FILE").map(PathBuf::from));
    // A file named explicitly must exist; the default one may not.
    let config_source = match &config_file {
        Some(path) if !path.exists() => {
            return Err(SettingsError::ConfigFileMissing { path: path.clone() });
        }
        Some(path) => Some(read_bounded("the Temporal configuration file", path)?),
        None => default_config_file()
            .filter(|path| path.exists())
            .map(|path| read_bounded("the Temporal configuration file", &path))
            .transpose()?,
    };
    let load_options = LoadClientConfigProfileOptions::builder()
        .maybe_config_source(config_source.map(DataSource::Data))
        .maybe_config_file_profile(options.profile.clone())
        .build();
    if let Some(value) = env.get("TEMPORAL_TLS")
        && !["true", "false", "1", "0"].contains(&value.trim().to_ascii_lowercase().as_str())
    {
        return Err(SettingsError::Invalid(format!(
            "TEMPORAL_TLS is {value:?}; set it to true or false"
        )));
    }
    let profile = load_client_config_profile(load_options, Some(env)).map_err(config_error)?;
    from_profile(profile)
}

/// Where the `temporal` CLI looks when nothing names a file.
fn default_config_file() -> Option<PathBuf> {
    let config_dir = std::env::var_os("XDG_CONFIG_HOME")
        .map(PathBuf::from)
        .filter(|dir| dir.is_absolute())
        .or_else(|| std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".config")))?;
    Some(config_dir.join("temporalio").join("temporal.toml"))
}

fn from_profile(profile: ClientConfigProfile) -> Result<ConnectionSettings, SettingsError> {
    let mut settings = ConnectionSettings::default();
    let set = |value: Option<String>| value.map(|v| v.trim().to_owned()).filter(|v| !v.is_empty());
    if let Some(address) = set(profile.address) {
        settings.address = address;
    }
    if let Some(namespace) = set(profile.namespace) {
        settings.namespace = namespace;
    }
    settings.api_key = set(profile.api_key);
    if let Some(tls) = profile.tls {
        settings.tls = Some(TlsSettings {
            disabled: tls.disabled == Some(true),
            server_ca_cert: data("the server CA certificate", tls.server_ca_cert)?,
            client_cert: data("the client certificate", tls.client_cert)?,
            client_key: data("the client key", tls.client_key)?,
            server_name: set(tls.server_name),
            disable_host_verification: tls.disable_host_verification,
        });
    }
    settings.headers = profile.grpc_meta.into_iter().collect();
    settings.validate()?;
    Ok(settings)
}

/// The bytes a profile's data source names: inline, or read from a file.
fn data(what: &'static str, source: Option<DataSource>) -> Result<Option<Vec<u8>>, SettingsError> {
    match source {
        None => Ok(None),
        Some(DataSource::Data(bytes)) => Ok(Some(bytes)),
        Some(DataSource::Path(path)) => read_bounded(what, Path::new(&path)).map(Some),
        Some(_) => Err(SettingsError::Invalid(format!(
            "{what} comes from a source this version does not read"
        ))),
    }
}

fn read_bounded(what: &'static str, path: &Path) -> Result<Vec<u8>, SettingsError> {
    let error = |source| SettingsError::Read {
        what,
        path: path.to_owned(),
        source,
    };
    let file = std::fs::File::open(path).map_err(error)?;
    let mut bytes = Vec::new();
    file.take(MAX_FILE_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(error)?;
    if bytes.len() as u64 > MAX_FILE_BYTES {
        return Err(error(std::io::Error::other(format!(
            "it is larger than {MAX_FILE_BYTES} bytes"
        ))));
    }
    Ok(bytes)
}

/// envconfig's errors, as ours (its `LoadError` is neither `Send` nor `Sync`).
fn config_error(error: ConfigError) -> SettingsError {
    match error {
        ConfigError::ProfileNotFound(profile) => SettingsError::ProfileNotFound { profile },
        ConfigError::InvalidConfig(message) => SettingsError::Invalid(message),
        ConfigError::LoadError(source) => {
            SettingsError::Invalid(without_source_lines(&source.to_string()))
        }
    }
}

/// A parse error without the lines of the file it quotes: they may hold an API key or a
/// private key.
fn without_source_lines(message: &str) -> String {
    message
        .lines()
        .map(str::trim)
        .filter(|line| !line.is_empty() && !line.contains('|'))
        .collect::<Vec<_>>()
        .join(": ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    fn write(name: &str, contents: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("sandglass-profile-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join(name);
        std::fs::write(&path, contents).unwrap();
        path
    }

    #[test]
    fn environment_overrides_the_profile_which_overrides_defaults() {
        let file = write(
            "temporal.toml",
            r#"
[profile.default]
address = "file-host:7233"
namespace = "from-file"

[profile.prod]
address = "prod.tmprl.cloud:7233"
namespace = "prod"
api_key = "file-key"
[profile.prod.grpc_meta]
x-team = "payments"
"#,
        );
        let file_env = |extra: &[(&str, &str)]| {
            let mut vars = env(&[("TEMPORAL_CONFIG_FILE", file.to_str().unwrap())]);
            vars.extend(env(extra));
            vars
        };
        let default = load(&ProfileOptions::default(), &file_env(&[])).unwrap();
        assert_eq!(default.address, "file-host:7233");
        assert_eq!(default.namespace, "from-file");
        assert!(default.effective_tls().is_none());

        let prod = load(
            &ProfileOptions::default(),
            &file_env(&[
                ("TEMPORAL_PROFILE", "prod"),
                ("TEMPORAL_NAMESPACE", "env-ns"),
            ]),
        )
        .unwrap();
        assert_eq!(prod.address, "prod.tmprl.cloud:7233");
        assert_eq!(prod.namespace, "env-ns");
        assert_eq!(prod.api_key.as_deref(), Some("file-key"));
        assert_eq!(
            prod.headers.get("x-team").map(String::as_str),
            Some("payments")
        );
        assert_eq!(prod.url().unwrap(), "https://prod.tmprl.cloud:7233");

        let flag = load(
            &ProfileOptions::default().with_profile("prod"),
            &file_env(&[]),
        )
        .unwrap();
        assert_eq!(flag.namespace, "prod");

        let missing = load(
            &ProfileOptions::default().with_profile("staging"),
            &file_env(&[]),
        );
        assert!(matches!(
            missing,
            Err(SettingsError::ProfileNotFound { .. })
        ));
    }

    #[test]
    fn blank_variables_count_as_unset() {
        let vars = temporal_variables(
            [
                ("TEMPORAL_ADDRESS", "  "),
                ("TEMPORAL_NAMESPACE", "ns"),
                ("TEMPORAL_GRPC_META_X_TEAM", ""),
                ("HOME", "/root"),
            ]
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v.to_owned())),
        );
        assert!(!vars.contains_key("TEMPORAL_ADDRESS"));
        assert!(!vars.contains_key("HOME"));
        assert_eq!(
            vars.get("TEMPORAL_NAMESPACE").map(String::as_str),
            Some("ns")
        );
        assert!(vars.contains_key("TEMPORAL_GRPC_META_X_TEAM"));
    }

    #[test]
    fn no_file_and_no_variables_is_the_dev_server() {
        let settings = load(
            &ProfileOptions::default().with_config_file(write("empty.toml", "")),
            &HashMap::new(),
        )
        .unwrap();
        assert_eq!(settings.address, super::super::DEFAULT_ADDRESS);
        assert_eq!(settings.url().unwrap(), "http://localhost:7233");
    }

    #[test]
    fn a_named_file_that_is_missing_or_broken_is_an_error() {
        let missing = load(
            &ProfileOptions::default().with_config_file("/nonexistent/temporal.toml"),
            &HashMap::new(),
        );
        assert!(matches!(
            missing,
            Err(SettingsError::ConfigFileMissing { .. })
        ));

        let broken = load(
            &ProfileOptions::default().with_config_file(write("broken.toml", "[profile.x\n")),
            &HashMap::new(),
        );
        assert!(
            matches!(broken, Err(SettingsError::Invalid(_))),
            "{broken:?}"
        );

        // A parse error does not quote the line it stopped at: it may be a secret.
        let secret = load(
            &ProfileOptions::default().with_config_file(write(
                "secret.toml",
                "[profile.default]\napi_key = sk-live-0123456789\n",
            )),
            &HashMap::new(),
        );
        let message = secret.unwrap_err().to_string();
        assert!(!message.contains("sk-live"), "{message}");
        assert!(message.contains("line 2"), "{message}");

        let yes = load(
            &ProfileOptions::default().with_config_file(write("empty.toml", "")),
            &env(&[("TEMPORAL_TLS", "yes")]),
        );
        assert!(yes.unwrap_err().to_string().contains("TEMPORAL_TLS"));
    }

    #[test]
    fn tls_variables_read_files_and_name_the_bad_ones() {
        let empty = write("empty.toml", "");
        let options = ProfileOptions::default().with_config_file(&empty);
        let missing_ca = load(
            &options,
            &env(&[("TEMPORAL_TLS_SERVER_CA_CERT_PATH", "/nonexistent/ca.pem")]),
        );
        let message = missing_ca.unwrap_err().to_string();
        assert!(message.contains("/nonexistent/ca.pem"), "{message}");

        let not_a_cert = write("ca.pem", "not a certificate");
        let bad_ca = load(
            &options,
            &env(&[(
                "TEMPORAL_TLS_SERVER_CA_CERT_PATH",
                not_a_cert.to_str().unwrap(),
            )]),
        );
        let message = bad_ca.unwrap_err().to_string();
        assert!(message.contains("no PEM certificate"), "{message}");

        let off = load(
            &options,
            &env(&[("TEMPORAL_API_KEY", "k"), ("TEMPORAL_TLS", "false")]),
        )
        .unwrap();
        assert!(off.effective_tls().is_none());
    }
}
