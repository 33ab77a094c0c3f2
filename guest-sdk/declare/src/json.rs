//! The default payload encoding: JSON, tagged `encoding: json/plain`.
//!
//! Every Temporal SDK writes and reads this form, so a Python or Go client can start a
//! Sandglass workflow and read its result without any converter configuration.

use serde::Serialize;
use serde::de::DeserializeOwned;

/// The metadata key that names a payload's encoding.
pub const ENCODING_KEY: &str = "encoding";
/// The encoding of JSON payloads.
pub const JSON_PLAIN: &[u8] = b"json/plain";
/// The encoding of an absent value (Python's `None`, a Rust `()`).
pub const BINARY_NULL: &[u8] = b"binary/null";

/// Why a payload could not be turned into a value.
#[derive(Debug)]
pub enum DecodeError {
    /// The payload is in an encoding this converter does not read.
    UnsupportedEncoding(String),
    /// The payload is JSON, but not of the expected shape.
    Json(serde_json::Error),
}

impl std::fmt::Display for DecodeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DecodeError::UnsupportedEncoding(encoding) => write!(
                f,
                "payload has encoding {encoding:?}; Sandglass reads json/plain and binary/null \
                 (configure the sender to use the default JSON converter)"
            ),
            DecodeError::Json(e) => write!(f, "payload JSON does not match the expected type: {e}"),
        }
    }
}

impl std::error::Error for DecodeError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            DecodeError::Json(e) => Some(e),
            DecodeError::UnsupportedEncoding(_) => None,
        }
    }
}

/// Encodes a value as JSON bytes; the caller tags them with [`JSON_PLAIN`].
pub fn encode<T: Serialize + ?Sized>(value: &T) -> Result<Vec<u8>, serde_json::Error> {
    serde_json::to_vec(value)
}

/// Decodes a payload given its `encoding` metadata (if any) and data.
///
/// A missing encoding is read as JSON; `binary/null` decodes as JSON `null`, so it fits
/// `()` and `Option<T>`.
pub fn decode<T: DeserializeOwned>(encoding: Option<&[u8]>, data: &[u8]) -> Result<T, DecodeError> {
    match encoding {
        None | Some(JSON_PLAIN) => serde_json::from_slice(data).map_err(DecodeError::Json),
        Some(BINARY_NULL) => {
            serde_json::from_value(serde_json::Value::Null).map_err(DecodeError::Json)
        }
        Some(other) => Err(DecodeError::UnsupportedEncoding(
            String::from_utf8_lossy(other).into_owned(),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_json() {
        let bytes = encode("my name").unwrap();
        assert_eq!(bytes, b"\"my name\"");
        let back: String = decode(Some(JSON_PLAIN), &bytes).unwrap();
        assert_eq!(back, "my name");
    }

    #[test]
    fn binary_null_is_unit_and_none() {
        decode::<()>(Some(BINARY_NULL), b"").unwrap();
        assert_eq!(decode::<Option<u8>>(Some(BINARY_NULL), b"").unwrap(), None);
    }

    #[test]
    fn rejects_other_encodings_by_name() {
        let err = decode::<String>(Some(b"binary/protobuf"), b"x").unwrap_err();
        assert!(err.to_string().contains("binary/protobuf"), "{err}");
    }

    #[test]
    fn wrong_shape_is_a_json_error() {
        let err = decode::<u32>(Some(JSON_PLAIN), b"\"text\"").unwrap_err();
        assert!(matches!(err, DecodeError::Json(_)));
    }
}
