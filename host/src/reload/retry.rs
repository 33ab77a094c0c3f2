//! When the reload task tries again: the kinds of pass it runs, and the backoff after a
//! failure that may pass.

use std::time::{Duration, Instant};

use super::{ReloadOutcome, ReloadProblem};

/// Longest wait before retrying an activation that failed for a passing reason.
const MAX_RETRY_BACKOFF: Duration = Duration::from_secs(30);

/// What kind of reload runs; all but `Scan` read every file again.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Pass {
    /// The first, when the worker starts: it does not roll the deployment back.
    Startup,
    /// Files whose stamp changed, on the scan interval.
    Scan,
    /// After a failure that may pass.
    Retry,
    /// A [`ReloadHandle`] or SIGHUP asked.
    Asked,
}

/// When to try again after a reload failed for a reason that may pass (the server was
/// unreachable, another worker changed the deployment), with backoff.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Retry {
    at: Option<(Instant, Duration)>,
    /// A startup that failed is retried as a startup, which does not roll back.
    pass: Pass,
}

impl Retry {
    pub fn after(pass: Pass, outcome: &ReloadOutcome) -> Self {
        Self { at: None, pass }.next(pass, outcome)
    }

    pub fn next(self, pass: Pass, outcome: &ReloadOutcome) -> Self {
        if !outcome.problems.iter().any(ReloadProblem::is_transient) {
            return Self { at: None, pass };
        }
        let backoff = match self.at {
            Some((_, backoff)) => (backoff * 2).min(MAX_RETRY_BACKOFF),
            None => Duration::from_secs(1),
        };
        Self {
            at: Some((Instant::now() + backoff, backoff)),
            pass,
        }
    }

    /// The pass to run now, if a retry is due.
    pub fn due(&self) -> Option<Pass> {
        let due = self.at.is_some_and(|(at, _)| Instant::now() >= at);
        due.then_some(match self.pass {
            Pass::Startup => Pass::Startup,
            _ => Pass::Retry,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn failed(problem: ReloadProblem) -> ReloadOutcome {
        ReloadOutcome {
            problems: vec![problem],
            ..Default::default()
        }
    }

    #[test]
    fn passing_failures_are_retried_with_backoff_and_others_are_not() {
        let transient = || ReloadProblem::Activation {
            build_id: "sg-1".into(),
            message: "server unreachable".into(),
        };
        let first = Retry::after(Pass::Startup, &failed(transient()));
        let (_, backoff) = first.at.expect("a retry is scheduled");
        assert_eq!(backoff, Duration::from_secs(1));
        assert_eq!(first.due(), None, "not before its backoff");
        let second = first.next(Pass::Startup, &failed(transient()));
        assert_eq!(second.at.map(|(_, b)| b), Some(Duration::from_secs(2)));
        let due = Retry {
            at: Some((Instant::now(), backoff)),
            ..second
        };
        assert_eq!(due.due(), Some(Pass::Startup), "a startup retries as one");

        let broken = ReloadProblem::Superseded {
            build_id: "sg-1".into(),
            current: "sg-2".into(),
        };
        assert!(Retry::after(Pass::Asked, &failed(broken)).at.is_none());
        assert!(
            second
                .next(Pass::Retry, &ReloadOutcome::default())
                .at
                .is_none()
        );
    }
}
