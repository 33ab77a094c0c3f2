//! A minimal `--flag value` parser for the two binaries (a CLI crate would double the work of
//! a bench-only build for four flags).

use std::{collections::HashMap, fmt, str::FromStr};

/// Parsed `--flag value` pairs; every flag may appear once.
#[derive(Debug)]
pub struct Args {
    values: HashMap<&'static str, String>,
}

/// A command line the binary cannot run with. Always the caller's fault; the message says
/// what to change, and the binary prints its usage after it.
#[derive(Debug)]
pub enum ArgsError {
    /// `--help` or `-h`: not a mistake, but the binary stops after printing usage.
    HelpRequested,
    /// A flag the binary does not know.
    Unknown(String),
    /// A flag given as the last argument, without its value.
    MissingValue(&'static str),
    /// A flag given twice.
    Repeated(&'static str),
    /// A flag the binary needs but did not get.
    Required(&'static str),
    /// A value that does not parse as what the flag expects.
    Invalid {
        flag: &'static str,
        value: String,
        expected: &'static str,
    },
}

impl fmt::Display for ArgsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::HelpRequested => write!(f, "help requested"),
            Self::Unknown(arg) => write!(f, "unknown argument `{arg}`"),
            Self::MissingValue(flag) => write!(f, "`--{flag}` needs a value after it"),
            Self::Repeated(flag) => write!(f, "`--{flag}` is given more than once; keep one"),
            Self::Required(flag) => write!(f, "`--{flag}` is required"),
            Self::Invalid {
                flag,
                value,
                expected,
            } => write!(f, "`--{flag} {value}`: expected {expected}"),
        }
    }
}

impl std::error::Error for ArgsError {}

impl Args {
    /// Parses `args` (without the program name) against the `known` flag names (without `--`).
    /// Accepts `--flag value` and `--flag=value`.
    pub fn parse(
        args: impl IntoIterator<Item = String>,
        known: &[&'static str],
    ) -> Result<Self, ArgsError> {
        let mut values = HashMap::new();
        let mut args = args.into_iter();
        while let Some(arg) = args.next() {
            if arg == "--help" || arg == "-h" {
                return Err(ArgsError::HelpRequested);
            }
            let Some(body) = arg.strip_prefix("--") else {
                return Err(ArgsError::Unknown(arg));
            };
            let (name, inline) = match body.split_once('=') {
                Some((name, value)) => (name, Some(value.to_owned())),
                None => (body, None),
            };
            let Some(&flag) = known.iter().find(|k| **k == name) else {
                return Err(ArgsError::Unknown(arg));
            };
            let value = match inline {
                Some(value) => value,
                None => args.next().ok_or(ArgsError::MissingValue(flag))?,
            };
            if values.insert(flag, value).is_some() {
                return Err(ArgsError::Repeated(flag));
            }
        }
        Ok(Self { values })
    }

    /// The value of a flag that must be present.
    pub fn required(&self, flag: &'static str) -> Result<&str, ArgsError> {
        self.values
            .get(flag)
            .map(String::as_str)
            .ok_or(ArgsError::Required(flag))
    }

    /// The value of `flag` parsed as `T`, or `default` when the flag is absent.
    /// `expected` describes valid values for the error message ("a positive integer").
    pub fn parsed_or<T: FromStr>(
        &self,
        flag: &'static str,
        default: T,
        expected: &'static str,
    ) -> Result<T, ArgsError> {
        match self.values.get(flag) {
            None => Ok(default),
            Some(value) => value.parse().map_err(|_| ArgsError::Invalid {
                flag,
                value: value.clone(),
                expected,
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<Args, ArgsError> {
        Args::parse(
            args.iter().map(|a| a.to_string()),
            &["address", "max-cached"],
        )
    }

    #[test]
    fn accepts_both_spellings() {
        let args = parse(&["--address", "127.0.0.1:1", "--max-cached=5"]).unwrap();
        assert_eq!(args.required("address").unwrap(), "127.0.0.1:1");
        assert_eq!(args.parsed_or("max-cached", 0usize, "n").unwrap(), 5);
    }

    #[test]
    fn rejects_what_it_cannot_use() {
        assert!(matches!(
            parse(&["--port", "1"]),
            Err(ArgsError::Unknown(_))
        ));
        assert!(matches!(
            parse(&["--address"]),
            Err(ArgsError::MissingValue("address"))
        ));
        assert!(matches!(
            parse(&["--address", "a", "--address", "b"]),
            Err(ArgsError::Repeated("address"))
        ));
        let args = parse(&["--max-cached", "many"]).unwrap();
        assert!(matches!(
            args.parsed_or("max-cached", 0usize, "n"),
            Err(ArgsError::Invalid { .. })
        ));
        assert!(matches!(
            args.required("address"),
            Err(ArgsError::Required("address"))
        ));
    }
}
