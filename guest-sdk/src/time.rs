//! Conversions between `std::time` and the WIT `duration` and `timestamp` records.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::bindings::sandglass::workflow::types as wit;

/// A `std` duration as the WIT record (both represent every value of the other).
pub(crate) fn to_wit_duration(duration: Duration) -> wit::Duration {
    wit::Duration {
        seconds: duration.as_secs(),
        nanos: duration.subsec_nanos(),
    }
}

/// A WIT timestamp as a `SystemTime`.
///
/// Nanoseconds past a second carry into the seconds. A timestamp that `SystemTime`
/// cannot hold (hundreds of billions of years away) reads as the epoch instead of
/// panicking: the host never sends one, and a guest must not crash on bad input.
pub(crate) fn from_wit_duration(duration: wit::Duration) -> Duration {
    Duration::new(duration.seconds, duration.nanos.min(999_999_999))
}

pub(crate) fn to_system_time(timestamp: wit::Timestamp) -> SystemTime {
    let since_epoch = Duration::from_secs(timestamp.seconds)
        .saturating_add(Duration::from_nanos(u64::from(timestamp.nanos)));
    UNIX_EPOCH.checked_add(since_epoch).unwrap_or(UNIX_EPOCH)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_keep_subsecond_precision() {
        let d = to_wit_duration(Duration::new(30, 5));
        assert_eq!((d.seconds, d.nanos), (30, 5));
    }

    #[test]
    fn timestamps_carry_nanos_and_never_panic() {
        let t = to_system_time(wit::Timestamp {
            seconds: 10,
            nanos: 1_500_000_000,
        });
        assert_eq!(t, UNIX_EPOCH + Duration::from_millis(11_500));
        let absurd = to_system_time(wit::Timestamp {
            seconds: u64::MAX,
            nanos: u32::MAX,
        });
        assert_eq!(absurd, UNIX_EPOCH);
    }
}
