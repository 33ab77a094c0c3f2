//! The results of one run: a table of figures per worker, each with its ratio to
//! Sandglass, and the same as JSON.

use serde::Serialize;

/// What one worker did under the same loads.
#[derive(Clone, Debug, Default, Serialize)]
pub struct PeerResult {
    pub name: String,
    /// Greeting workflows per second, end to end (server-bound on a small machine).
    pub throughput_per_second: f64,
    /// Worker CPU (user + system) per greeting workflow.
    pub cpu_ms_per_workflow: f64,
    /// Resident memory after the greeting load.
    pub rss_after_greetings_mib: f64,
    /// Resident memory added per cached run parked on a timer.
    pub rss_per_parked_workflow_kib: f64,
    /// In-process replay of the chain history.
    pub replay_events_per_second: Option<f64>,
}

/// Sandglass-only figures: how fast a module and a run come up.
#[derive(Clone, Debug, Default, Serialize)]
pub struct ColdStart {
    /// Compiling the greeting component with an empty code cache.
    pub compile_ms: f64,
    /// Loading it again with the code cache warm.
    pub cached_load_ms: f64,
    /// Creating one run's instance, mean over many.
    pub instantiate_us: f64,
    /// Instantiating plus the first activation (decode input, run to the first
    /// command), mean over many.
    pub first_activation_us: f64,
    /// The same two with the pooling allocator (`SandboxLimits::instance_pool`).
    pub pooled_instantiate_us: f64,
    pub pooled_first_activation_us: f64,
}

/// Where the Sandglass worker's CPU went during the greeting load.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Profile {
    pub total_cpu_ms_per_workflow: f64,
    pub guest_ms_per_workflow: f64,
    pub instantiate_ms_per_workflow: f64,
    pub conversion_ms_per_workflow: f64,
    pub activity_ms_per_workflow: f64,
    /// The rest: core, gRPC, tokio and the kernel.
    pub core_and_transport_ms_per_workflow: f64,
}

#[derive(Clone, Debug, Default, Serialize)]
pub struct Report {
    pub workflows: usize,
    pub concurrency: usize,
    pub parked: usize,
    pub chain_events: usize,
    pub peers: Vec<PeerResult>,
    pub cold_start: ColdStart,
    pub profile: Option<Profile>,
}

impl Report {
    /// The table, with each peer's figure and, for the others, Sandglass's ratio to it
    /// (`×` > 1 means Sandglass is better on that figure).
    pub fn render(&self) -> String {
        let mut out = String::new();
        let sandglass = self.peers.iter().find(|peer| peer.name == "sandglass");
        let header: Vec<String> = self.peers.iter().map(|peer| peer.name.clone()).collect();
        out.push_str(&format!("| figure | {} |\n", header.join(" | ")));
        out.push_str(&format!("|---|{}\n", "---|".repeat(header.len())));
        type Getter = fn(&PeerResult) -> Option<f64>;
        let rows: [(&str, Getter, bool); 5] = [
            (
                "greeting throughput (wf/s)",
                |p| Some(p.throughput_per_second),
                true,
            ),
            (
                "worker CPU per greeting (ms)",
                |p| Some(p.cpu_ms_per_workflow),
                false,
            ),
            (
                "worker RSS after greetings (MiB)",
                |p| Some(p.rss_after_greetings_mib),
                false,
            ),
            (
                "RSS per cached idle workflow (KiB)",
                |p| Some(p.rss_per_parked_workflow_kib),
                false,
            ),
            ("replay (events/s)", |p| p.replay_events_per_second, true),
        ];
        for (label, get, higher_is_better) in rows {
            let ours = sandglass.and_then(get);
            let cells: Vec<String> = self
                .peers
                .iter()
                .map(|peer| match get(peer) {
                    None => "—".to_owned(),
                    Some(value) if peer.name == "sandglass" => format!("{value:.2}"),
                    Some(value) => match ours {
                        Some(ours) if value > 0.0 && ours > 0.0 => {
                            let ratio = if higher_is_better {
                                ours / value
                            } else {
                                value / ours
                            };
                            format!("{value:.2} (Sandglass ×{ratio:.2})")
                        }
                        _ => format!("{value:.2}"),
                    },
                })
                .collect();
            out.push_str(&format!("| {label} | {} |\n", cells.join(" | ")));
        }
        let cold = &self.cold_start;
        out.push_str(&format!(
            "\nSandglass cold start: compile {:.1} ms, load from code cache {:.1} ms; \
             instantiate {:.1} µs (pooled {:.1} µs), instantiate + first activation \
             {:.1} µs (pooled {:.1} µs)\n",
            cold.compile_ms,
            cold.cached_load_ms,
            cold.instantiate_us,
            cold.pooled_instantiate_us,
            cold.first_activation_us,
            cold.pooled_first_activation_us,
        ));
        if let Some(profile) = &self.profile {
            out.push_str(&format!(
                "Sandglass CPU per greeting: {:.3} ms = guest {:.3} + instantiate {:.3} + \
                 conversion {:.3} + activity {:.3} + core/gRPC/runtime {:.3}\n",
                profile.total_cpu_ms_per_workflow,
                profile.guest_ms_per_workflow,
                profile.instantiate_ms_per_workflow,
                profile.conversion_ms_per_workflow,
                profile.activity_ms_per_workflow,
                profile.core_and_transport_ms_per_workflow,
            ));
        }
        out
    }
}
