//! What a guest writes to the worker's log: its `host.log` calls and its stdout and
//! stderr, bounded and made unable to pass for the worker's own lines.
//!
//! Every guest line goes to the `sandglass_host::workflow` target, tagged with the run,
//! so it is visibly the guest's; control characters in it (a newline followed by a
//! forged `ERROR sandglass_host::worker` line, terminal escapes, bidirectional overrides)
//! are escaped, so one guest call is one log line. Each activation may log
//! [`SandboxLimits::max_output_bytes`](super::SandboxLimits::max_output_bytes) in all,
//! through `host.log` and its stdout and stderr lines together, each line costing
//! [`LINE_COST`] bytes on top of its text (so a flood of empty or one-byte lines is cut
//! as early as a flood of long ones); past that, lines are dropped and one line says how
//! many.

use std::borrow::Cow;
use std::fmt::Write;

use crate::wit::host::LogLevel;

/// The target every guest line is logged under.
pub const TARGET: &str = "sandglass_host::workflow";

/// What a line costs beyond its text: about what the log adds to it (time, level,
/// target, the run's fields).
pub const LINE_COST: usize = 64;

/// One run's log allowance, renewed for each activation.
#[derive(Debug)]
pub struct GuestLog {
    limit: usize,
    room: usize,
    dropped_lines: usize,
    dropped_bytes: usize,
}

impl GuestLog {
    pub fn new(limit: usize) -> Self {
        Self {
            limit,
            room: limit,
            dropped_lines: 0,
            dropped_bytes: 0,
        }
    }

    /// Starts an activation's allowance afresh.
    pub fn renew(&mut self) {
        self.room = self.limit;
        self.dropped_lines = 0;
        self.dropped_bytes = 0;
    }

    /// Logs one `host.log` message if the allowance has room for it (shortened to the
    /// room left).
    pub fn log(&mut self, level: LogLevel, workflow_type: &str, run_id: &str, message: &str) {
        self.line(level, workflow_type, run_id, None, message);
    }

    /// Logs what the guest wrote to stdout or stderr, one line at a time.
    pub fn stream(
        &mut self,
        stream: &'static str,
        workflow_type: &str,
        run_id: &str,
        bytes: &[u8],
    ) {
        if bytes.is_empty() {
            return;
        }
        let text = String::from_utf8_lossy(bytes);
        for line in text.lines() {
            self.line(LogLevel::Info, workflow_type, run_id, Some(stream), line);
        }
    }

    /// Says how much of the activation's log was dropped, if any was.
    pub fn report_dropped(&self, workflow_type: &str, run_id: &str) {
        if self.dropped_lines == 0 {
            return;
        }
        tracing::warn!(
            target: TARGET,
            workflow_type,
            run_id,
            "the workflow logged more than the {} bytes an activation may; {} lines ({} \
             bytes) were cut or dropped (`SandboxLimits::max_output_bytes`)",
            self.limit,
            self.dropped_lines,
            self.dropped_bytes
        );
    }

    fn line(
        &mut self,
        level: LogLevel,
        workflow_type: &str,
        run_id: &str,
        stream: Option<&str>,
        text: &str,
    ) {
        if text.is_empty() {
            // An empty line shows nothing, but still costs its line.
            if self.room < LINE_COST {
                self.dropped_lines += 1;
            }
            self.room = self.room.saturating_sub(LINE_COST);
            return;
        }
        if self.room <= LINE_COST {
            self.dropped_lines += 1;
            self.dropped_bytes += text.len();
            self.room = 0;
            return;
        }
        // The first line past the allowance is shown as far as it fits.
        let fits = self.room - LINE_COST;
        let kept = &text[..text.floor_char_boundary(fits.min(text.len()))];
        if kept.len() < text.len() {
            self.dropped_lines += 1;
            self.dropped_bytes += text.len() - kept.len();
        }
        self.room -= LINE_COST + kept.len();
        emit(level, workflow_type, run_id, stream, &escape_controls(kept));
    }
}

fn emit(level: LogLevel, workflow_type: &str, run_id: &str, stream: Option<&str>, text: &str) {
    macro_rules! event {
        ($level:expr) => {
            tracing::event!(target: TARGET, $level, workflow_type, run_id, stream, "{text}")
        };
    }
    match level {
        LogLevel::Trace => event!(tracing::Level::TRACE),
        LogLevel::Debug => event!(tracing::Level::DEBUG),
        LogLevel::Info => event!(tracing::Level::INFO),
        LogLevel::Warn => event!(tracing::Level::WARN),
        LogLevel::Error => event!(tracing::Level::ERROR),
    }
}

/// `text` with every control character (and every bidirectional override, which can
/// make a line read differently from what it holds) written as an escape: `\n`, `\r`,
/// `\t`, `\u{1b}`.
pub fn escape_controls(text: &str) -> Cow<'_, str> {
    if !text.chars().any(needs_escape) {
        return Cow::Borrowed(text);
    }
    let mut escaped = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if needs_escape(c) {
            let _ = write!(escaped, "{}", c.escape_debug());
        } else {
            escaped.push(c);
        }
    }
    Cow::Owned(escaped)
}

fn needs_escape(c: char) -> bool {
    c.is_control() || matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_forged_line_stays_on_the_guest_line() {
        let forged = "done\n2026-12-06T11:00:00Z ERROR sandglass_host::worker: evil\r\u{1b}[2K";
        assert_eq!(
            escape_controls(forged),
            "done\\n2026-12-06T11:00:00Z ERROR sandglass_host::worker: evil\\r\\u{1b}[2K"
        );
        assert!(matches!(escape_controls("plain text"), Cow::Borrowed(_)));
        assert_eq!(escape_controls("a\u{202e}b"), "a\\u{202e}b");
    }

    #[test]
    fn the_log_allowance_cuts_then_drops_and_renews() {
        let mut log = GuestLog::new(2 * LINE_COST + 10);
        log.log(LogLevel::Info, "W", "r", "12345");
        assert_eq!(log.room, LINE_COST + 5);
        log.log(LogLevel::Info, "W", "r", "1234567");
        assert_eq!(
            log.room, 0,
            "the line that overflows is cut to the room left"
        );
        log.log(LogLevel::Info, "W", "r", "more");
        assert_eq!((log.dropped_lines, log.dropped_bytes), (2, 6));
        log.renew();
        assert_eq!((log.room, log.dropped_lines), (2 * LINE_COST + 10, 0));
    }

    #[test]
    fn empty_and_tiny_lines_pay_for_their_line() {
        let mut log = GuestLog::new(10 * LINE_COST);
        for _ in 0..1000 {
            log.log(LogLevel::Info, "W", "r", "");
        }
        assert_eq!(
            log.room, 0,
            "empty messages are dropped, and still cost a line"
        );
        log.renew();
        log.stream("stdout", "W", "r", &b"a\n".repeat(1000));
        assert_eq!(log.dropped_lines, 991, "nine one-byte lines fit");
    }

    #[test]
    fn cuts_fall_on_character_boundaries() {
        let mut log = GuestLog::new(LINE_COST + 3);
        log.log(LogLevel::Info, "W", "r", "éé");
        assert_eq!(log.room, 1);
    }
}
