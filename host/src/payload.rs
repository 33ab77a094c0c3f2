//! Rust values to and from Temporal payloads, with the JSON converter every SDK shares.

use serde::Serialize;
use serde::de::DeserializeOwned;
use temporalio_common::protos::temporal::api::common::v1::{Payload, Payloads};

pub use sandglass_declare::json::DecodeError;
use sandglass_declare::json::{self, ENCODING_KEY, JSON_PLAIN};

/// Encodes `value` as a `json/plain` payload.
pub fn to_payload<T: Serialize + ?Sized>(value: &T) -> Result<Payload, serde_json::Error> {
    Ok(Payload {
        metadata: [(ENCODING_KEY.to_owned(), JSON_PLAIN.to_vec())]
            .into_iter()
            .collect(),
        data: json::encode(value)?,
        ..Default::default()
    })
}

/// Decodes a payload written by any Temporal SDK's default converter.
pub fn from_payload<T: DeserializeOwned>(payload: &Payload) -> Result<T, DecodeError> {
    json::decode(
        payload.metadata.get(ENCODING_KEY).map(Vec::as_slice),
        &payload.data,
    )
}

/// Decodes a single-argument input: the first payload, or JSON `null` when there are
/// none (so `()` and `Option<T>` inputs accept an empty argument list).
pub fn from_arguments<T: DeserializeOwned>(payloads: &[Payload]) -> Result<T, DecodeError> {
    match payloads.first() {
        Some(payload) => from_payload(payload),
        None => json::decode(Some(json::BINARY_NULL), &[]),
    }
}

/// Encodes a value as an argument list, as the guest SDK does: none for a zero-sized
/// value that is `null` (`()`, a unit struct), so an argument-less handler or workflow
/// in another SDK accepts it, and one payload otherwise.
pub fn to_arguments<T: Serialize>(value: &T) -> Result<Payloads, serde_json::Error> {
    if size_of::<T>() == 0 && serde_json::to_value(value)?.is_null() {
        return Ok(Payloads::default());
    }
    Ok(Payloads {
        payloads: vec![to_payload(value)?],
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_encode_as_json_plain() {
        let payload = to_payload("my name").unwrap();
        assert_eq!(payload.data, b"\"my name\"");
        assert_eq!(payload.metadata[ENCODING_KEY], b"json/plain");
        assert_eq!(from_payload::<String>(&payload).unwrap(), "my name");
    }

    #[test]
    fn no_arguments_decode_as_unit() {
        from_arguments::<()>(&[]).unwrap();
        assert!(from_arguments::<String>(&[]).is_err());
    }

    #[test]
    fn unit_is_no_argument_and_a_value_one() {
        assert!(to_arguments(&()).expect("encode").payloads.is_empty());
        let one = to_arguments(&"x").expect("encode").payloads;
        assert_eq!(one.len(), 1);
        assert_eq!(one[0].data, b"\"x\"");
        // `None` is a value of a non-zero-sized type: one `null` argument.
        assert_eq!(
            to_arguments(&None::<u32>).expect("encode").payloads.len(),
            1
        );
    }
}
