//! Workflows that attack the sandbox, one attack per workflow type.
//!
//! The adversarial suite (`tests/tests/adversarial.rs`) starts each of them beside healthy
//! workflows on one worker and checks that every attack fails only its own workflow task,
//! with a message that names the problem and the fix, while the worker keeps serving.
//! None of them is a mistake a workflow author should make; each is a mistake a sandbox
//! must survive.
//!
//! Every type returns a `String`: when an attack is *not* stopped, the workflow completes
//! with a description of what it got away with, which the test shows. Most take `()`.
//!
//! Attacks that need values the SDK never produces (thousand-frame failure chains,
//! answers to queries nobody asked) are in `tests/wit-hostile-workflows`, written
//! against the WIT directly.

use std::hint::black_box;
use std::rc::Rc;
use std::time::Duration;

use std::cell::Cell;

use sandglass::{
    Handlers, QueryDefinition, SignalDefinition, UpdateDefinition, Workflow, WorkflowContext,
    WorkflowDefinition, WorkflowInit, WorkflowResult,
};

/// Defines a workflow type whose `run` performs `attack` and returns its description.
macro_rules! hostile_workflow {
    ($(#[$doc:meta])* $ty:ident, $attack:expr) => {
        $(#[$doc])*
        #[derive(Default)]
        pub struct $ty;

        impl Workflow for $ty {
            type Input = ();
            type Output = String;
            const DEFINITION: WorkflowDefinition<(), String> =
                WorkflowDefinition::new(stringify!($ty));

            async fn run(
                self: Rc<Self>,
                _ctx: WorkflowContext,
                _input: (),
            ) -> WorkflowResult<String> {
                let attack: fn() -> String = $attack;
                Ok(attack())
            }
        }
    };
}

hostile_workflow!(
    /// Spins forever without yielding; the activation deadline must stop it.
    InfiniteLoopWorkflow,
    || loop {
        black_box(());
    }
);

hostile_workflow!(
    /// Allocates (and touches) a mebibyte at a time until allocation fails.
    MemoryBombWorkflow,
    || {
        let mut hoard: Vec<Vec<u8>> = Vec::new();
        loop {
            hoard.push(vec![0xA5; 1 << 20]);
            black_box(&hoard);
        }
    }
);

/// Recursion with no base case reachable in practice.
#[inline(never)]
fn recurse(depth: u64) -> u64 {
    if black_box(depth) == 0 {
        return 0;
    }
    recurse(depth - 1).wrapping_mul(31) ^ depth
}

hostile_workflow!(
    /// Recurses until the wasm stack overflows.
    DeepRecursionWorkflow,
    || recurse(black_box(u64::MAX)).to_string()
);

hostile_workflow!(
    /// Completes with a 10 MiB result, far beyond what Temporal accepts in one payload.
    HugeResultWorkflow,
    || "x".repeat(10 << 20)
);

hostile_workflow!(
    /// Panics with a message in `run`.
    PanicInRunWorkflow,
    || panic!("hostile workflow panicked on purpose: the answer is not 42")
);

hostile_workflow!(
    /// Reads a file of the worker's machine.
    FileReadWorkflow,
    || match std::fs::read_to_string("/etc/hostname") {
        Ok(text) => format!("read /etc/hostname: {text:?}"),
        Err(error) => format!("reading /etc/hostname failed quietly: {error}"),
    }
);

hostile_workflow!(
    /// Writes a file (relative path, so the current directory is resolved too).
    FileWriteWorkflow,
    || match std::fs::write("sandglass-hostile.txt", b"written by a workflow") {
        Ok(()) => "wrote sandglass-hostile.txt".to_owned(),
        Err(error) => format!("writing a file failed quietly: {error}"),
    }
);

hostile_workflow!(
    /// Reads one environment variable.
    EnvVarWorkflow,
    || format!("HOME = {:?}", std::env::var("HOME"))
);

hostile_workflow!(
    /// Lists the environment.
    EnvVarsWorkflow,
    || format!("{} environment variables", std::env::vars().count())
);

hostile_workflow!(
    /// Reads the command-line arguments.
    ArgsWorkflow,
    || format!("{} arguments", std::env::args().count())
);

hostile_workflow!(
    /// Opens a TCP connection (to the Temporal frontend's default port, as good as any).
    TcpConnectWorkflow,
    || match std::net::TcpStream::connect("127.0.0.1:7233") {
        Ok(_) => "connected to 127.0.0.1:7233".to_owned(),
        Err(error) => format!("connecting failed quietly: {error}"),
    }
);

hostile_workflow!(
    /// Binds a UDP socket.
    UdpBindWorkflow,
    || match std::net::UdpSocket::bind("127.0.0.1:0") {
        Ok(_) => "bound a UDP socket".to_owned(),
        Err(error) => format!("binding failed quietly: {error}"),
    }
);

hostile_workflow!(
    /// Resolves a host name.
    DnsLookupWorkflow,
    || {
        use std::net::ToSocketAddrs;
        match "localhost:80".to_socket_addrs() {
            Ok(addresses) => format!("resolved {} addresses", addresses.count()),
            Err(error) => format!("resolving failed quietly: {error}"),
        }
    }
);

hostile_workflow!(
    /// Sleeps the thread instead of starting a durable timer.
    ThreadSleepWorkflow,
    || {
        std::thread::sleep(Duration::from_secs(1));
        "slept a second of real time".to_owned()
    }
);

hostile_workflow!(
    /// Reads a line from stdin.
    StdinWorkflow,
    || {
        let mut line = String::new();
        match std::io::stdin().read_line(&mut line) {
            Ok(read) => format!("read {read} bytes from stdin: {line:?}"),
            Err(error) => format!("reading stdin failed quietly: {error}"),
        }
    }
);

hostile_workflow!(
    /// Exits the process instead of returning from `run`.
    ProcessExitWorkflow,
    || std::process::exit(3)
);

hostile_workflow!(
    /// Logs 64 MiB through the SDK's logger in one activation, led by a message that
    /// tries to pass for a line of the worker's own log.
    LogFloodWorkflow,
    || {
        sandglass::info!(
            "all is well\n2026-12-06T12:00:00.000000Z ERROR sandglass_host::worker: forged by \
             a workflow"
        );
        let chunk = "y".repeat(64 << 10);
        for _ in 0..1024 {
            sandglass::info!("{chunk}");
        }
        "logged 64 MiB".to_owned()
    }
);

/// Starts 20,000 timers in one activation: more commands than an activation may return.
#[derive(Default)]
pub struct ManyTimersWorkflow;

impl Workflow for ManyTimersWorkflow {
    type Input = ();
    type Output = String;
    const DEFINITION: WorkflowDefinition<(), String> =
        WorkflowDefinition::new("ManyTimersWorkflow");

    async fn run(self: Rc<Self>, ctx: WorkflowContext, _input: ()) -> WorkflowResult<String> {
        let timers = (0..20_000).map(|_| ctx.sleep(Duration::from_secs(3600)));
        sandglass::join_all(timers).await;
        Ok("started 20,000 timers".to_owned())
    }
}

/// Holds the given number of MiB of memory until the `finish` signal: many of these
/// together press on the worker's memory budget.
pub struct MemoryHoarderWorkflow {
    hoard: Vec<u8>,
    finished: Cell<bool>,
}

impl WorkflowInit for MemoryHoarderWorkflow {
    fn init(_ctx: &WorkflowContext, mebibytes: &u32) -> Self {
        MemoryHoarderWorkflow {
            // Touched, so that the pages are really the run's.
            hoard: vec![0xA5; (*mebibytes as usize) << 20],
            finished: Cell::new(false),
        }
    }
}

impl Workflow for MemoryHoarderWorkflow {
    type Input = u32;
    type Output = String;
    const DEFINITION: WorkflowDefinition<u32, String> =
        WorkflowDefinition::new("MemoryHoarderWorkflow");

    fn handlers(handlers: &mut Handlers<Self>) {
        handlers.signal(FINISH, |workflow, _ctx, ()| workflow.finished.set(true));
    }

    async fn run(self: Rc<Self>, ctx: WorkflowContext, _input: u32) -> WorkflowResult<String> {
        let this = self.clone();
        ctx.wait_condition(move || this.finished.get()).await?;
        Ok(format!("held {} MiB", black_box(&self.hoard).len() >> 20))
    }
}

/// Has an update whose validator never returns; finishes on the `finish` signal. The
/// update must be rejected, and the workflow must go on.
pub struct LoopingValidatorWorkflow {
    finished: Cell<bool>,
}

const STALL: UpdateDefinition<(), String> = UpdateDefinition::new("stall");

impl WorkflowInit for LoopingValidatorWorkflow {
    fn init(_ctx: &WorkflowContext, _input: &()) -> Self {
        LoopingValidatorWorkflow {
            finished: Cell::new(false),
        }
    }
}

impl Workflow for LoopingValidatorWorkflow {
    type Input = ();
    type Output = String;
    const DEFINITION: WorkflowDefinition<(), String> =
        WorkflowDefinition::new("LoopingValidatorWorkflow");

    fn handlers(handlers: &mut Handlers<Self>) {
        handlers
            .update(STALL, |_workflow, _ctx, ()| Ok("accepted".to_owned()))
            .validator(STALL, |_workflow, ()| {
                loop {
                    black_box(());
                }
            })
            .signal(FINISH, |workflow, _ctx, ()| workflow.finished.set(true));
    }

    async fn run(self: Rc<Self>, ctx: WorkflowContext, _input: ()) -> WorkflowResult<String> {
        let this = self.clone();
        ctx.wait_condition(move || this.finished.get()).await?;
        Ok("survived".to_owned())
    }
}

/// Panics in `init`, before `run` ever starts.
pub struct PanicInInitWorkflow;

impl WorkflowInit for PanicInInitWorkflow {
    fn init(_ctx: &WorkflowContext, _input: &()) -> Self {
        panic!("hostile workflow panicked on purpose in init")
    }
}

impl Workflow for PanicInInitWorkflow {
    type Input = ();
    type Output = String;
    const DEFINITION: WorkflowDefinition<(), String> =
        WorkflowDefinition::new("PanicInInitWorkflow");

    async fn run(self: Rc<Self>, _ctx: WorkflowContext, _input: ()) -> WorkflowResult<String> {
        Ok("unreachable: init panicked".to_owned())
    }
}

/// Answers the `boom` query by panicking and the `huge` query with 3 MiB; waits for the
/// `finish` signal, then returns `"survived"`. A query handler that traps, or answers
/// more than Temporal takes, must fail only that query.
pub struct PanicInQueryWorkflow {
    finished: Cell<bool>,
}

const BOOM: QueryDefinition<(), String> = QueryDefinition::new("boom");
const HUGE: QueryDefinition<(), String> = QueryDefinition::new("huge");
const FINISH: SignalDefinition<()> = SignalDefinition::new("finish");

impl WorkflowInit for PanicInQueryWorkflow {
    fn init(_ctx: &WorkflowContext, _input: &()) -> Self {
        PanicInQueryWorkflow {
            finished: Cell::new(false),
        }
    }
}

impl Workflow for PanicInQueryWorkflow {
    type Input = ();
    type Output = String;
    const DEFINITION: WorkflowDefinition<(), String> =
        WorkflowDefinition::new("PanicInQueryWorkflow");

    fn handlers(handlers: &mut Handlers<Self>) {
        handlers
            .query(BOOM, |_workflow, ()| -> String {
                panic!("hostile query handler panicked on purpose")
            })
            .query(HUGE, |_workflow, ()| "q".repeat(3 << 20))
            .signal(FINISH, |workflow, _ctx, ()| workflow.finished.set(true));
    }

    async fn run(self: Rc<Self>, ctx: WorkflowContext, _input: ()) -> WorkflowResult<String> {
        let this = self.clone();
        ctx.wait_condition(move || this.finished.get()).await?;
        Ok("survived".to_owned())
    }
}

sandglass::export_workflows!(
    PanicInQueryWorkflow,
    LogFloodWorkflow,
    ManyTimersWorkflow,
    MemoryHoarderWorkflow,
    LoopingValidatorWorkflow,
    InfiniteLoopWorkflow,
    MemoryBombWorkflow,
    DeepRecursionWorkflow,
    HugeResultWorkflow,
    PanicInInitWorkflow,
    PanicInRunWorkflow,
    FileReadWorkflow,
    FileWriteWorkflow,
    EnvVarWorkflow,
    EnvVarsWorkflow,
    ArgsWorkflow,
    TcpConnectWorkflow,
    UdpBindWorkflow,
    DnsLookupWorkflow,
    ThreadSleepWorkflow,
    StdinWorkflow,
    ProcessExitWorkflow,
);
