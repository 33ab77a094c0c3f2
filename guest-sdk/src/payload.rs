//! Values to and from WIT payloads, with the default converter of every Temporal SDK.
//!
//! A value that serializes to JSON `null` (`()`, `None`) travels as `binary/null` with no
//! data, as the Python and Go SDKs write it; everything else as `json/plain`.

use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::bindings::sandglass::workflow::types::Payload;
use sandglass_declare::json::{self, BINARY_NULL, DecodeError, ENCODING_KEY, JSON_PLAIN};

/// Encodes one value as one payload.
pub(crate) fn encode<T: Serialize + ?Sized>(value: &T) -> Result<Payload, serde_json::Error> {
    let data = json::encode(value)?;
    let (encoding, data) = if data == b"null" {
        (BINARY_NULL, Vec::new())
    } else {
        (JSON_PLAIN, data)
    };
    Ok(Payload {
        metadata: vec![(ENCODING_KEY.to_owned(), encoding.to_vec())],
        data,
    })
}

/// Decodes one payload, reading its `encoding` metadata.
pub(crate) fn decode<T: DeserializeOwned>(payload: &Payload) -> Result<T, DecodeError> {
    let encoding = payload
        .metadata
        .iter()
        .find(|(key, _)| key == ENCODING_KEY)
        .map(|(_, value)| value.as_slice());
    json::decode(encoding, &payload.data)
}

/// Decodes an absent payload (an activity that returned nothing) as JSON `null`.
pub(crate) fn decode_optional<T: DeserializeOwned>(
    payload: Option<&Payload>,
) -> Result<T, DecodeError> {
    match payload {
        Some(payload) => decode(payload),
        None => json::decode(Some(BINARY_NULL), &[]),
    }
}

/// Encodes a value as an argument list: none for a zero-sized value that is `null`
/// (`()`, a unit struct), so an argument-less activity in another SDK accepts it, and
/// one payload otherwise.
pub(crate) fn encode_arguments<T: Serialize>(value: &T) -> Result<Vec<Payload>, serde_json::Error> {
    if size_of::<T>() == 0 && serde_json::to_value(value)?.is_null() {
        return Ok(Vec::new());
    }
    Ok(vec![encode(value)?])
}

/// Decodes an argument list as one value: no argument reads as `null`, one argument as
/// itself, several as a JSON array (so a tuple input takes a multi-argument call from
/// another SDK).
pub(crate) fn decode_arguments<T: DeserializeOwned>(
    arguments: &[Payload],
) -> Result<T, DecodeError> {
    match arguments {
        [] => decode_optional(None),
        [single] => decode(single),
        several => {
            let values = several
                .iter()
                .map(decode::<Value>)
                .collect::<Result<Vec<_>, _>>()?;
            serde_json::from_value(Value::Array(values)).map_err(DecodeError::Json)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn encoding(payload: &Payload) -> &[u8] {
        &payload.metadata[0].1
    }

    #[test]
    fn values_are_json_and_null_is_binary_null() {
        let text = encode("hi").unwrap();
        assert_eq!(
            (encoding(&text), text.data.as_slice()),
            (JSON_PLAIN, &b"\"hi\""[..])
        );
        let none = encode(&None::<u8>).unwrap();
        assert_eq!((encoding(&none), none.data.len()), (BINARY_NULL, 0));
        assert_eq!(decode::<Option<u8>>(&none).unwrap(), None);
        assert_eq!(decode::<String>(&text).unwrap(), "hi");
    }

    #[test]
    fn unit_input_sends_no_argument_but_none_sends_one() {
        assert!(encode_arguments(&()).unwrap().is_empty());
        assert_eq!(encode_arguments(&None::<u8>).unwrap().len(), 1);
        assert_eq!(encode_arguments(&"x").unwrap().len(), 1);
    }

    #[test]
    fn argument_lists_decode_by_count() {
        decode_arguments::<()>(&[]).unwrap();
        let args = [encode("a").unwrap(), encode(&2).unwrap()];
        assert_eq!(
            decode_arguments::<(String, u8)>(&args).unwrap(),
            ("a".to_owned(), 2)
        );
        assert_eq!(decode_arguments::<String>(&args[..1]).unwrap(), "a");
        assert!(decode_arguments::<String>(&[]).is_err());
    }

    #[test]
    fn missing_encoding_reads_as_json() {
        let bare = Payload {
            metadata: Vec::new(),
            data: b"7".to_vec(),
        };
        assert_eq!(decode::<u8>(&bare).unwrap(), 7);
    }
}
