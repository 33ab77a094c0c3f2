//! `sandglass-bench`: one dev server, the same loads on each worker (the Python SDK's,
//! the official Rust SDK's and Sandglass's), and a table of figures with ratios.
//! `cargo xtask bench` builds everything and runs it; `BENCHMARKS.md` has a recorded run.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::Context;
use prost::Message;
use sandglass_bench::args::Args;
use sandglass_bench::load;
use sandglass_bench::peer::{self, WorkerProcess};
use sandglass_bench::report::{ColdStart, PeerResult, Profile, Report};
use sandglass_host::sandbox::{CodeCache, RunIdentity, WorkflowInstance};
use sandglass_host::sandbox::{Sandbox, SandboxLimits, WorkflowModule};
use sandglass_host::testing::DevServer;
use sandglass_host::wit::{guest, types};
use sandglass_host::{Client, ConnectionSettings};

/// A worker to measure, and how to run its replayer.
struct Peer {
    name: &'static str,
    worker: Vec<String>,
    replay: Vec<String>,
}

struct Settings {
    workflows: usize,
    concurrency: usize,
    parked: usize,
    chain: u32,
    repeat: u32,
    greeting_component: PathBuf,
    bench_component: PathBuf,
    out: PathBuf,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    sandglass_bench::init_logging();
    let mut args = Args::from_env();
    let settings = Settings {
        workflows: args.parsed("--workflows", 1_000)?,
        concurrency: args.parsed("--concurrency", 100)?,
        parked: args.parsed("--parked", 2_000)?,
        chain: args.parsed("--chain", 1_000)?,
        repeat: args.parsed("--repeat", 3)?,
        greeting_component: PathBuf::from(args.required("--greeting-component")?),
        bench_component: PathBuf::from(args.required("--bench-component")?),
        out: PathBuf::from(args.parsed("--out", "target/bench/results.json".to_owned())?),
    };
    let python = args.optional("--python-dir").map(PathBuf::from);
    let rust_sdk = args.optional("--rust-sdk-dir").map(PathBuf::from);
    args.finish()?;

    let here = std::env::current_exe()?
        .parent()
        .context("the bench binary has no directory")?
        .to_path_buf();
    let components = |program: PathBuf| {
        let mut command = vec![program.display().to_string()];
        for component in [&settings.greeting_component, &settings.bench_component] {
            command.extend(["--component".to_owned(), component.display().to_string()]);
        }
        command
    };
    let mut peers = Vec::new();
    if let Some(dir) = &python {
        let script = |name: &str| vec!["python3".to_owned(), dir.join(name).display().to_string()];
        peers.push(Peer {
            name: "python",
            worker: script("worker.py"),
            replay: script("replay.py"),
        });
    }
    if let Some(dir) = &rust_sdk {
        let binary = |name: &str| vec![dir.join(name).display().to_string()];
        peers.push(Peer {
            name: "rust-sdk",
            worker: binary("rust-sdk-worker"),
            replay: binary("rust-sdk-replay"),
        });
    }
    peers.push(Peer {
        name: "sandglass",
        worker: components(here.join("sandglass-bench-worker")),
        replay: components(here.join("sandglass-bench-replay")),
    });

    eprintln!("starting a dev server");
    let server = tokio::task::spawn_blocking(DevServer::start).await??;
    let client =
        Client::connect(ConnectionSettings::default().with_address(server.address())).await?;
    let run_id = uuid::Uuid::new_v4().simple().to_string();
    let history_path = settings.out.with_file_name("chain-history.pb");
    let chain_id = format!("chain-{run_id}");

    let mut report = Report {
        workflows: settings.workflows,
        concurrency: settings.concurrency,
        parked: settings.parked,
        ..Report::default()
    };
    // Sandglass first: its run also makes the chain history every replayer reads.
    for peer in peers.iter().rev() {
        let (result, profile) = measure(
            peer,
            &settings,
            &server.address(),
            &client,
            &run_id,
            &history_path,
            &chain_id,
        )
        .await
        .with_context(|| format!("measuring {}", peer.name))?;
        report.peers.insert(0, result);
        if profile.is_some() {
            report.profile = profile;
        }
    }
    let history = History::decode(std::fs::read(&history_path)?.as_slice())?;
    report.chain_events = history.events.len();
    for (peer, result) in peers.iter().zip(report.peers.iter_mut()) {
        eprintln!(
            "{}: replaying {} events ×{}",
            peer.name, report.chain_events, settings.repeat
        );
        let replay = peer::replay(
            peer.name,
            &peer.replay,
            &history_path,
            &chain_id,
            settings.repeat,
        )
        .await?;
        result.replay_events_per_second = replay["events_per_second"].as_f64();
    }
    report.cold_start = cold_start(&settings)?;

    println!("{}", report.render());
    if let Some(dir) = settings.out.parent() {
        std::fs::create_dir_all(dir)?;
    }
    std::fs::write(&settings.out, serde_json::to_string_pretty(&report)?)?;
    eprintln!("results written to {}", settings.out.display());
    server.stop()?;
    Ok(())
}

use sandglass_host::History;

/// Runs the loads on one worker.
async fn measure(
    peer: &Peer,
    settings: &Settings,
    address: &str,
    client: &Client,
    run_id: &str,
    history_path: &Path,
    chain_id: &str,
) -> anyhow::Result<(PeerResult, Option<Profile>)> {
    let task_queue = format!("bench-{}-{run_id}", peer.name);
    let prefix = format!("{}-{run_id}", peer.name);
    let max_cached = settings.parked + settings.concurrency + 100;
    eprintln!("{}: starting its worker", peer.name);
    let mut worker =
        WorkerProcess::start(peer.name, &peer.worker, address, &task_queue, max_cached).await?;
    let is_sandglass = peer.name == "sandglass";

    load::greetings(client, &task_queue, &format!("{prefix}-warmup"), 50, 10).await?;
    let stats_before = if is_sandglass {
        Some(worker.stats().await?)
    } else {
        None
    };
    let before = worker.sample()?;
    eprintln!(
        "{}: {} greetings, {} at a time",
        peer.name, settings.workflows, settings.concurrency
    );
    let wall = load::greetings(
        client,
        &task_queue,
        &prefix,
        settings.workflows,
        settings.concurrency,
    )
    .await?;
    let after = worker.sample()?;
    let stats_after = if is_sandglass {
        Some(worker.stats().await?)
    } else {
        None
    };
    let count = settings.workflows as f64;
    let cpu_ms = (after.cpu_seconds - before.cpu_seconds) * 1_000.0 / count;
    let mut result = PeerResult {
        name: peer.name.to_owned(),
        throughput_per_second: count / wall.as_secs_f64(),
        cpu_ms_per_workflow: cpu_ms,
        rss_after_greetings_mib: after.rss_bytes as f64 / (1024.0 * 1024.0),
        ..PeerResult::default()
    };
    let profile = stats_before.zip(stats_after).map(|(before, after)| {
        let per = |key: &str| {
            (after[key].as_f64().unwrap_or(0.0) - before[key].as_f64().unwrap_or(0.0)) * 1_000.0
                / count
        };
        let (guest, instantiate, conversion, activity) = (
            per("guest_seconds"),
            per("instantiate_seconds"),
            per("conversion_seconds"),
            per("activity_seconds"),
        );
        Profile {
            total_cpu_ms_per_workflow: cpu_ms,
            guest_ms_per_workflow: guest,
            instantiate_ms_per_workflow: instantiate,
            conversion_ms_per_workflow: conversion,
            activity_ms_per_workflow: activity,
            core_and_transport_ms_per_workflow: cpu_ms
                - guest
                - instantiate
                - conversion
                - activity,
        }
    });

    if is_sandglass {
        eprintln!(
            "{}: a chain of {} activities for the replay history",
            peer.name, settings.chain
        );
        let history = load::chain(client, &task_queue, chain_id, settings.chain).await?;
        if let Some(dir) = history_path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        std::fs::write(history_path, history.encode_to_vec())?;
    }

    eprintln!("{}: parking {} runs on a timer", peer.name, settings.parked);
    let idle = worker.sample()?;
    load::park(
        client,
        &task_queue,
        &prefix,
        settings.parked,
        settings.concurrency,
    )
    .await?;
    tokio::time::sleep(Duration::from_secs(3)).await;
    let parked = worker.sample()?;
    result.rss_per_parked_workflow_kib =
        (parked.rss_bytes as f64 - idle.rss_bytes as f64) / settings.parked as f64 / 1024.0;
    worker.stop().await?;
    Ok((result, profile))
}

/// Module load and instance start-up of the greeting component, in process.
fn cold_start(settings: &Settings) -> anyhow::Result<ColdStart> {
    let bytes = std::fs::read(&settings.greeting_component)?;
    let sandbox = Sandbox::new(Default::default())?;
    let started = Instant::now();
    let module = WorkflowModule::from_bytes(&sandbox, "greeting", &bytes)?;
    let compile_ms = started.elapsed().as_secs_f64() * 1_000.0;

    let cache_dir =
        std::env::temp_dir().join(format!("sandglass-bench-cache-{}", std::process::id()));
    let cached = Sandbox::with_code_cache(Default::default(), Some(CodeCache::new(&cache_dir)))?;
    WorkflowModule::from_bytes(&cached, "greeting", &bytes)?;
    let started = Instant::now();
    WorkflowModule::from_bytes(&cached, "greeting", &bytes)?;
    let cached_load_ms = started.elapsed().as_secs_f64() * 1_000.0;
    let _ = std::fs::remove_dir_all(&cache_dir);

    let (instantiate_us, first_activation_us) = instance_start(&sandbox, &module)?;
    let pooled_limits = SandboxLimits::default().with_instance_pool(INSTANCE_RUNS + 16);
    let pooled = Sandbox::new(pooled_limits)?;
    let pooled_module = WorkflowModule::from_bytes(&pooled, "greeting", &bytes)?;
    let (pooled_instantiate_us, pooled_first_activation_us) =
        instance_start(&pooled, &pooled_module)?;
    Ok(ColdStart {
        compile_ms,
        cached_load_ms,
        instantiate_us,
        first_activation_us,
        pooled_instantiate_us,
        pooled_first_activation_us,
    })
}

/// Instances created for the start-up figures.
const INSTANCE_RUNS: u32 = 2_000;

/// Mean microseconds to create an instance, and to create one and run its first
/// activation; the instances of the second loop stay alive, as cached runs do.
fn instance_start(sandbox: &Sandbox, module: &WorkflowModule) -> anyhow::Result<(f64, f64)> {
    let identity = |i: u32| RunIdentity {
        workflow_type: "GreetingWorkflow".to_owned(),
        run_id: format!("cold-{i}"),
        randomness_seed: u64::from(i),
        task_timeout: None,
    };
    let started = Instant::now();
    for i in 0..INSTANCE_RUNS {
        drop(WorkflowInstance::new(sandbox, module, identity(i))?);
    }
    let instantiate_us = started.elapsed().as_secs_f64() * 1e6 / f64::from(INSTANCE_RUNS);

    let mut live = Vec::with_capacity(INSTANCE_RUNS as usize);
    let started = Instant::now();
    for i in 0..INSTANCE_RUNS {
        let mut instance = WorkflowInstance::new(sandbox, module, identity(i))?;
        let commands = instance.activate(first_activation(i))?;
        anyhow::ensure!(
            commands.len() == 1,
            "expected one command, got {commands:?}"
        );
        live.push(instance);
    }
    let first_activation_us = started.elapsed().as_secs_f64() * 1e6 / f64::from(INSTANCE_RUNS);
    Ok((instantiate_us, first_activation_us))
}

fn first_activation(i: u32) -> guest::Activation {
    guest::Activation {
        timestamp: types::Timestamp {
            seconds: 1_700_000_000,
            nanos: 0,
        },
        is_replaying: false,
        history_length: 3,
        history_size_bytes: 0,
        continue_as_new_suggested: false,
        jobs: vec![guest::Job::Initialize(guest::Initialize {
            workflow_type: "GreetingWorkflow".to_owned(),
            workflow_id: format!("cold-{i}"),
            run_id: format!("cold-{i}"),
            namespace: "default".to_owned(),
            task_queue: "bench".to_owned(),
            arguments: vec![types::Payload {
                metadata: vec![("encoding".to_owned(), b"json/plain".to_vec())],
                data: b"\"bench\"".to_vec(),
            }],
            randomness_seed: u64::from(i),
            attempt: 1,
            start_time: None,
            parent: None,
            continued_from_run_id: None,
            first_execution_run_id: format!("cold-{i}"),
            execution_timeout: None,
            run_timeout: None,
            cron_schedule: None,
            memo: Vec::new(),
            search_attributes: Vec::new(),
        })],
    }
}
