//! Secured clusters: TLS, mTLS and API keys, through a TLS-terminating proxy in front of
//! a real dev server, configured in code, by `TEMPORAL_*`-style profiles and for the
//! Python SDK's client alike. Every refusal names what to fix, within seconds.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use greeting_activities::GREETING_WORKFLOW;
use sandglass_host::{
    Client, ClientError, ConnectionSettings, ProfileOptions, TlsSettings, Worker, WorkflowOptions,
};
use sandglass_tests::tls_proxy::{ProxyOptions, TestCa, TlsProxy};
use sandglass_tests::{
    RunningWorker, TestEnv, greeting_component, python_client, unique_task_queue,
};

const API_KEY: &str = "sandglass-test-key";

/// A greeting served and started over `settings`.
async fn greeting_over(settings: ConnectionSettings, name: &str) -> String {
    let client = Client::connect(settings)
        .await
        .expect("connect through the proxy");
    let task_queue = unique_task_queue("secure");
    let worker = RunningWorker::start(
        Worker::builder(client.clone(), &task_queue)
            .workflow_module(greeting_component())
            .sync_activity(greeting_activities::GREET, |_ctx, name: String| {
                Ok(greeting_activities::greet(name))
            }),
    )
    .await;
    let result = client
        .execute_workflow(
            GREETING_WORKFLOW,
            &name.to_owned(),
            WorkflowOptions::new(format!("secure-{name}"), &task_queue),
        )
        .await
        .expect("the greeting runs over the secured connection");
    worker.stop().await.expect("worker stops cleanly");
    result
}

/// Connects, expecting a refusal within seconds; returns it.
async fn refused(settings: ConnectionSettings) -> ClientError {
    let started = Instant::now();
    let error = Client::connect(settings.with_connect_timeout(Duration::from_secs(10)))
        .await
        .expect_err("the connection is refused");
    assert!(
        started.elapsed() < Duration::from_secs(9),
        "refused only after {:?}: {error}",
        started.elapsed()
    );
    error
}

fn tls_to(proxy: &TlsProxy) -> TlsSettings {
    TlsSettings::default().with_server_ca_cert(proxy.ca.cert_pem.clone())
}

#[tokio::test(flavor = "multi_thread")]
async fn an_api_key_over_tls_reaches_the_server_and_a_missing_one_is_named() {
    let env = TestEnv::start().await;
    let proxy = TlsProxy::start(
        &env.address(),
        ProxyOptions {
            api_key: Some(API_KEY.into()),
            ..ProxyOptions::default()
        },
    )
    .await;
    let secured = ConnectionSettings::default()
        .with_address(proxy.address())
        .with_tls(tls_to(&proxy))
        .with_api_key(API_KEY);
    assert_eq!(
        greeting_over(secured.clone(), "Cloud").await,
        "Hello, Cloud!"
    );

    // No key: the proxy answers UNAUTHENTICATED, as Temporal Cloud does.
    let mut keyless = secured.clone();
    keyless.api_key = None;
    let error = refused(keyless).await;
    assert!(
        matches!(error, ClientError::Unauthenticated { .. }),
        "{error}"
    );
    // The server's own words come through.
    assert!(
        error.to_string().contains("a valid API key is required"),
        "{error}"
    );

    // A key rotated on a live client takes effect on its next call.
    let client = Client::connect(secured.clone()).await.expect("connect");
    client
        .set_api_key(Some("revoked".into()))
        .expect("a valid key");
    let rotated = client
        .workflow_handle::<String>("none", None)
        .describe()
        .await;
    let message = rotated.expect_err("the revoked key is refused").to_string();
    assert!(message.contains("unauthorized"), "{message}");
    client
        .set_api_key(Some(API_KEY.into()))
        .expect("a valid key");
    assert!(
        client.count_workflows("").await.is_ok(),
        "the right key works again"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_certificate_that_does_not_verify_and_a_server_without_tls_are_named() {
    let env = TestEnv::start().await;
    let proxy = TlsProxy::start(&env.address(), ProxyOptions::default()).await;

    let other_ca = TestCa::new("Some other CA");
    let error = refused(
        ConnectionSettings::default()
            .with_address(proxy.address())
            .with_tls(TlsSettings::default().with_server_ca_cert(other_ca.cert_pem.clone())),
    )
    .await;
    assert!(matches!(error, ClientError::Tls { .. }), "{error}");
    assert!(error.to_string().contains("not signed by a CA"), "{error}");

    // The system's roots do not know the test CA either.
    let error = refused(
        ConnectionSettings::default()
            .with_address(proxy.address())
            .with_tls(TlsSettings::default()),
    )
    .await;
    assert!(matches!(error, ClientError::Tls { .. }), "{error}");

    // TLS to the dev server itself, which speaks plain text.
    let error = refused(
        ConnectionSettings::default()
            .with_address(env.address())
            .with_tls(TlsSettings::default().with_disable_host_verification(true)),
    )
    .await;
    assert!(error.to_string().contains("does not speak TLS"), "{error}");

    // Verification off: encrypted, not authenticated, and it works.
    let unverified = ConnectionSettings::default()
        .with_address(proxy.address())
        .with_tls(TlsSettings::default().with_disable_host_verification(true));
    assert_eq!(
        greeting_over(unverified, "Unverified").await,
        "Hello, Unverified!"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn mtls_admits_a_client_certificate_and_refuses_a_client_without_one() {
    let env = TestEnv::start().await;
    let proxy = TlsProxy::start(
        &env.address(),
        ProxyOptions {
            require_client_cert: true,
            ..ProxyOptions::default()
        },
    )
    .await;
    let identity = proxy.ca.client_identity();
    let mtls = ConnectionSettings::default()
        .with_address(proxy.address())
        .with_tls(tls_to(&proxy).with_client_identity(identity.cert_pem, identity.key_pem));
    assert_eq!(greeting_over(mtls, "mTLS").await, "Hello, mTLS!");

    let error = refused(
        ConnectionSettings::default()
            .with_address(proxy.address())
            .with_tls(tls_to(&proxy)),
    )
    .await;
    assert!(matches!(error, ClientError::Tls { .. }), "{error}");
    assert!(error.to_string().contains("client certificate"), "{error}");

    // A certificate of another CA is no better.
    let stranger = TestCa::new("Stranger CA").client_identity();
    let error = refused(
        ConnectionSettings::default()
            .with_address(proxy.address())
            .with_tls(tls_to(&proxy).with_client_identity(stranger.cert_pem, stranger.key_pem)),
    )
    .await;
    assert!(matches!(error, ClientError::Tls { .. }), "{error}");
}

/// A directory of the test's own with `files` written into it.
fn files(contents: &[(&str, &str)]) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("sandglass-secure-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).expect("create the directory");
    for (name, text) in contents {
        std::fs::write(dir.join(name), text).expect("write a file");
    }
    dir
}

#[tokio::test(flavor = "multi_thread")]
async fn a_temporal_toml_profile_selects_mtls_and_an_api_key_for_sandglass_and_python() {
    let env = TestEnv::start().await;
    let proxy = TlsProxy::start(
        &env.address(),
        ProxyOptions {
            require_client_cert: true,
            api_key: Some(API_KEY.into()),
        },
    )
    .await;
    let identity = proxy.ca.client_identity();
    let dir = files(&[
        ("ca.pem", &proxy.ca.cert_pem),
        ("client.pem", &identity.cert_pem),
        ("client.key", &identity.key_pem),
    ]);
    let toml = format!(
        r#"
[profile.default]
address = "localhost:1"

[profile.secure]
address = "{address}"
namespace = "default"
api_key = "{API_KEY}"
[profile.secure.tls]
server_ca_cert_path = "{dir}/ca.pem"
client_cert_path = "{dir}/client.pem"
client_key_path = "{dir}/client.key"
"#,
        address = proxy.address(),
        dir = dir.display(),
    );
    let config = dir.join("temporal.toml");
    std::fs::write(&config, toml).expect("write temporal.toml");

    let settings = ConnectionSettings::load(
        &ProfileOptions::default()
            .with_config_file(&config)
            .with_profile("secure"),
    )
    .expect("the profile loads");
    assert_eq!(greeting_over(settings, "Profile").await, "Hello, Profile!");

    // The Python SDK's client, configured by the same file, drives a Sandglass workflow
    // through the same proxy.
    let client = Client::connect(
        ConnectionSettings::load(
            &ProfileOptions::default()
                .with_config_file(&config)
                .with_profile("secure"),
        )
        .expect("the profile loads"),
    )
    .await
    .expect("connect");
    let task_queue = unique_task_queue("secure-py");
    let worker = RunningWorker::start(
        Worker::builder(client, &task_queue)
            .workflow_module(greeting_component())
            .sync_activity(greeting_activities::GREET, |_ctx, name: String| {
                Ok(greeting_activities::greet(name))
            }),
    )
    .await;
    // `env` as the address: the script connects through the Python SDK's envconfig.
    let result: String = python_client(
        "start_workflow.py",
        &[
            "env",
            &task_queue,
            "GreetingWorkflow",
            "\"Python over mTLS\"",
        ],
        &[
            ("TEMPORAL_CONFIG_FILE", config.as_os_str()),
            ("TEMPORAL_PROFILE", "secure".as_ref()),
        ],
    )
    .await;
    assert_eq!(result, "Hello, Python over mTLS!");
    worker.stop().await.expect("worker stops cleanly");
}
