//! A tiny `--flag value` parser: the bench binaries take a handful of flags, and the
//! peers' command lines (Python, the Rust SDK) use the same shape.

use std::str::FromStr;

use anyhow::{Context, bail};

/// The remaining command-line flags; each accessor takes what it reads.
pub struct Args {
    pairs: Vec<(String, String)>,
}

impl Args {
    pub fn from_env() -> Self {
        Self::parse(std::env::args().skip(1))
    }

    pub fn parse(args: impl IntoIterator<Item = String>) -> Self {
        let mut pairs = Vec::new();
        let mut args = args.into_iter();
        while let Some(flag) = args.next() {
            let value = args.next().unwrap_or_default();
            pairs.push((flag, value));
        }
        Self { pairs }
    }

    /// Every value given for `flag`, in order.
    pub fn all(&mut self, flag: &str) -> Vec<String> {
        let (matching, rest): (Vec<_>, Vec<_>) = std::mem::take(&mut self.pairs)
            .into_iter()
            .partition(|(f, _)| f == flag);
        self.pairs = rest;
        matching.into_iter().map(|(_, value)| value).collect()
    }

    pub fn optional(&mut self, flag: &str) -> Option<String> {
        self.all(flag).pop()
    }

    pub fn required(&mut self, flag: &str) -> anyhow::Result<String> {
        self.optional(flag)
            .with_context(|| format!("missing {flag} VALUE"))
    }

    pub fn parsed<T: FromStr>(&mut self, flag: &str, default: T) -> anyhow::Result<T> {
        match self.optional(flag) {
            None => Ok(default),
            Some(value) => value
                .parse()
                .map_err(|_| anyhow::anyhow!("{flag} {value:?} is not a valid value")),
        }
    }

    /// Fails on flags nobody read, so a typo does not silently use a default.
    pub fn finish(self) -> anyhow::Result<()> {
        if let Some((flag, _)) = self.pairs.first() {
            bail!("unknown flag {flag}");
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_are_taken_once_and_leftovers_are_errors() {
        let mut args =
            Args::parse(["--a", "1", "--c", "x", "--c", "y", "--oops", "2"].map(String::from));
        assert_eq!(args.parsed("--a", 0u32).unwrap(), 1);
        assert_eq!(args.parsed("--b", 7u32).unwrap(), 7);
        assert_eq!(args.all("--c"), ["x", "y"]);
        assert!(args.finish().unwrap_err().to_string().contains("--oops"));
    }
}
