//! Payloads, durations and timestamps between core's protos and the WIT records.

use temporalio_common::protos::temporal::api::common::v1::Payload;

use crate::wit::types as wit;

pub fn payload_to_wit(payload: &Payload) -> wit::Payload {
    let mut metadata: Vec<(String, Vec<u8>)> = payload
        .metadata
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    // The proto map has no order; sort so the guest sees the same bytes on every replay.
    metadata.sort_unstable_by(|a, b| a.0.cmp(&b.0));
    wit::Payload {
        metadata,
        data: payload.data.clone(),
    }
}

pub fn payload_from_wit(payload: wit::Payload) -> Payload {
    Payload {
        metadata: payload.metadata.into_iter().collect(),
        data: payload.data,
        ..Default::default()
    }
}

/// The longest duration protobuf's `Duration` holds (10,000 years); the server rejects
/// longer ones, so a guest's longer duration is clamped to it.
const MAX_DURATION_SECONDS: u64 = 315_576_000_000;
/// The latest time protobuf's `Timestamp` holds, 9999-12-31T23:59:59Z.
const MAX_TIMESTAMP_SECONDS: u64 = 253_402_300_799;

pub fn duration_from_wit(duration: wit::Duration) -> prost_wkt_types::Duration {
    prost_wkt_types::Duration {
        seconds: duration.seconds.min(MAX_DURATION_SECONDS) as i64,
        nanos: duration.nanos.min(999_999_999) as i32,
    }
}

/// Converts a proto duration; negative or missing durations become zero.
pub fn duration_to_wit(duration: Option<&prost_wkt_types::Duration>) -> wit::Duration {
    let Some(d) = duration else {
        return wit::Duration {
            seconds: 0,
            nanos: 0,
        };
    };
    wit::Duration {
        seconds: u64::try_from(d.seconds).unwrap_or(0),
        nanos: u32::try_from(d.nanos).unwrap_or(0),
    }
}

pub fn timestamp_from_wit(timestamp: wit::Timestamp) -> prost_wkt_types::Timestamp {
    prost_wkt_types::Timestamp {
        seconds: timestamp.seconds.min(MAX_TIMESTAMP_SECONDS) as i64,
        nanos: timestamp.nanos.min(999_999_999) as i32,
    }
}

/// Converts a proto timestamp; times before the epoch (never produced by Temporal) clamp
/// to the epoch.
pub fn timestamp_to_wit(timestamp: Option<&prost_wkt_types::Timestamp>) -> wit::Timestamp {
    let Some(ts) = timestamp else {
        return wit::Timestamp {
            seconds: 0,
            nanos: 0,
        };
    };
    wit::Timestamp {
        seconds: u64::try_from(ts.seconds).unwrap_or(0),
        nanos: u32::try_from(ts.nanos).unwrap_or(0),
    }
}

/// A map of payloads (memo, search attributes) as WIT pairs, sorted by name so the guest
/// sees the same order on every replay.
pub fn payload_map_to_wit(map: &std::collections::HashMap<String, Payload>) -> wit::PayloadMap {
    let mut pairs: Vec<_> = map
        .iter()
        .map(|(name, payload)| (name.clone(), payload_to_wit(payload)))
        .collect();
    pairs.sort_by(|a, b| a.0.cmp(&b.0));
    pairs
}

pub fn payload_map_from_wit(pairs: wit::PayloadMap) -> std::collections::HashMap<String, Payload> {
    pairs
        .into_iter()
        .map(|(name, payload)| (name, payload_from_wit(payload)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metadata_is_sorted_for_replay_stability() {
        let payload = Payload {
            metadata: [("b".to_string(), vec![2]), ("a".to_string(), vec![1])]
                .into_iter()
                .collect(),
            data: b"1".to_vec(),
            ..Default::default()
        };
        let wit = payload_to_wit(&payload);
        assert_eq!(wit.metadata[0].0, "a");
        assert_eq!(payload_from_wit(wit), payload);
    }

    #[test]
    fn out_of_range_values_from_the_guest_clamp_to_what_protobuf_holds() {
        let duration = duration_from_wit(wit::Duration {
            seconds: u64::MAX,
            nanos: u32::MAX,
        });
        assert_eq!(
            (duration.seconds, duration.nanos),
            (315_576_000_000, 999_999_999)
        );
        let timestamp = timestamp_from_wit(wit::Timestamp {
            seconds: u64::MAX,
            nanos: 0,
        });
        assert_eq!(timestamp.seconds, 253_402_300_799);
    }

    #[test]
    fn negative_timestamps_clamp_to_epoch() {
        let ts = prost_wkt_types::Timestamp {
            seconds: -5,
            nanos: 0,
        };
        assert_eq!(timestamp_to_wit(Some(&ts)).seconds, 0);
    }
}
