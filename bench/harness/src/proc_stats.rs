//! A worker process's CPU time and resident memory, read from `/proc`, so the server's
//! and the load generator's shares are excluded.

use anyhow::Context;

/// CPU seconds (user + system) and resident bytes of one process at one moment.
#[derive(Clone, Copy, Debug, Default)]
pub struct ProcSample {
    pub cpu_seconds: f64,
    pub rss_bytes: u64,
}

/// Reads `/proc/<pid>/stat` (utime, stime) and `/proc/<pid>/status` (VmRSS).
pub fn sample(pid: u32) -> anyhow::Result<ProcSample> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .with_context(|| format!("read /proc/{pid}/stat (has the worker exited?)"))?;
    // The command name may hold spaces; the fields after its closing paren do not.
    let after_name = stat
        .rsplit_once(')')
        .map(|(_, rest)| rest)
        .context("malformed /proc stat")?;
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    // After the name: state is field 3, so utime (14) and stime (15) are at 11 and 12.
    let ticks = |index: usize| -> anyhow::Result<u64> {
        fields
            .get(index)
            .context("short /proc stat")?
            .parse()
            .context("malformed /proc stat field")
    };
    let cpu_ticks = ticks(11)? + ticks(12)?;
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .with_context(|| format!("read /proc/{pid}/status"))?;
    let rss_kib: u64 = status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|value| value.split_whitespace().next())
        .and_then(|kib| kib.parse().ok())
        .context("no VmRSS in /proc status")?;
    Ok(ProcSample {
        cpu_seconds: cpu_ticks as f64 / clock_ticks_per_second(),
        rss_bytes: rss_kib * 1024,
    })
}

/// `sysconf(_SC_CLK_TCK)`: 100 on every Linux this runs on.
fn clock_ticks_per_second() -> f64 {
    100.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_this_process() {
        let sample = sample(std::process::id()).unwrap();
        assert!(sample.rss_bytes > 0);
        assert!(sample.cpu_seconds >= 0.0);
    }
}
