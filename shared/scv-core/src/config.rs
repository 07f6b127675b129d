//! Typed configuration from the environment (contract.md §4).
//!
//! Functions read the process environment once at start-up into an [`Env`], then parse the settings they
//! need. A missing or malformed required variable is a [`ConfigError`] that names it; the function fails
//! its init through the Runtime API with that message.

use std::{collections::BTreeMap, str::FromStr, time::Duration};

use url::Url;

/// A missing or malformed environment variable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    #[error("environment variable {name} is required ({meaning}) but is not set")]
    Missing { name: String, meaning: &'static str },
    #[error("environment variable {name} is invalid: {reason}")]
    Invalid { name: String, reason: String },
    #[error("set one of the environment variables {first} or {second} ({meaning})")]
    MissingOneOf {
        first: &'static str,
        second: &'static str,
        meaning: &'static str,
    },
}

/// A snapshot of the environment. Empty values count as unset.
///
/// `Debug` lists the variable names only.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Env {
    vars: BTreeMap<String, String>,
}

impl std::fmt::Debug for Env {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_set().entries(self.vars.keys()).finish()
    }
}

impl Env {
    /// The process environment.
    pub fn from_process() -> Self {
        Self::from_pairs(std::env::vars())
    }

    /// An environment made of the given pairs (for tests and for values taken from a secret).
    pub fn from_pairs<K: Into<String>, V: Into<String>>(pairs: impl IntoIterator<Item = (K, V)>) -> Self {
        let vars = pairs
            .into_iter()
            .map(|(k, v)| (k.into(), v.into().trim().to_owned()))
            .filter(|(_, v)| !v.is_empty())
            .collect();
        Self { vars }
    }

    /// The value of `name`, if set and not empty.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.vars.get(name).map(String::as_str)
    }

    /// The value of `name`, or an error that names it and says what it is for.
    pub fn require(&self, name: &str, meaning: &'static str) -> Result<&str, ConfigError> {
        self.get(name).ok_or_else(|| ConfigError::Missing {
            name: name.to_owned(),
            meaning,
        })
    }

    /// Sets `name` to `value` unless it is already set: values from a Secrets Manager secret fill in
    /// variables the deployment left out, they never override the deployment.
    pub fn fill_in(&mut self, name: &str, value: &str) {
        let value = value.trim();
        if !value.is_empty() && self.get(name).is_none() {
            self.vars.insert(name.to_owned(), value.to_owned());
        }
    }

    /// An optional value parsed with [`FromStr`]; a value that does not parse is an error naming it.
    pub fn parse<T>(&self, name: &str) -> Result<Option<T>, ConfigError>
    where
        T: FromStr,
        T::Err: std::fmt::Display,
    {
        self.get(name)
            .map(|raw| {
                raw.parse::<T>().map_err(|e| ConfigError::Invalid {
                    name: name.to_owned(),
                    reason: format!("{raw:?}: {e}"),
                })
            })
            .transpose()
    }

    /// An optional duration given in whole milliseconds.
    pub fn millis(&self, name: &str) -> Result<Option<Duration>, ConfigError> {
        Ok(self.parse::<u64>(name)?.map(Duration::from_millis))
    }

    /// A required absolute `http(s)` URL.
    pub fn url(&self, name: &str, meaning: &'static str) -> Result<Url, ConfigError> {
        parse_url(name, self.require(name, meaning)?)
    }

    /// An optional absolute `http(s)` URL.
    pub fn optional_url(&self, name: &str) -> Result<Option<Url>, ConfigError> {
        self.get(name).map(|raw| parse_url(name, raw)).transpose()
    }
}

/// Parses an absolute `http`/`https` URL and makes its path end with `/` so that relative paths join
/// below it (`…/telephony/v1` + `voiceCalls/x` = `…/telephony/v1/voiceCalls/x`).
pub fn parse_url(name: &str, raw: &str) -> Result<Url, ConfigError> {
    let invalid = |reason: String| ConfigError::Invalid {
        name: name.to_owned(),
        reason,
    };
    let mut url = Url::parse(raw).map_err(|e| invalid(format!("{raw:?} is not a URL: {e}")))?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
        return Err(invalid(format!("{raw:?} is not an http(s) URL")));
    }
    if !url.path().ends_with('/') {
        let path = format!("{}/", url.path());
        url.set_path(&path);
    }
    Ok(url)
}

/// The log level: `AWS_LAMBDA_LOG_LEVEL` wins over `LOG_LEVEL`; default `info`.
pub fn log_level(env: &Env) -> &str {
    env.get("AWS_LAMBDA_LOG_LEVEL")
        .or_else(|| env.get("LOG_LEVEL"))
        .unwrap_or("info")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_values_count_as_unset() {
        let env = Env::from_pairs([("A", "  "), ("B", " x ")]);
        assert_eq!(env.get("A"), None);
        assert_eq!(env.get("B"), Some("x"));
        let err = env.require("A", "the thing").unwrap_err();
        assert_eq!(
            err.to_string(),
            "environment variable A is required (the thing) but is not set"
        );
    }

    #[test]
    fn fill_in_never_overrides() {
        let mut env = Env::from_pairs([("A", "deployment")]);
        env.fill_in("A", "secret");
        env.fill_in("B", "secret");
        env.fill_in("C", "   ");
        assert_eq!(env.get("A"), Some("deployment"));
        assert_eq!(env.get("B"), Some("secret"));
        assert_eq!(env.get("C"), None);
    }

    #[test]
    fn urls_are_checked_and_end_with_a_slash() {
        let env = Env::from_pairs([
            ("GOOD", "https://x.my.salesforce-scrt.com/telephony/v1"),
            ("SLASH", "https://x.my.salesforce-scrt.com/telephony/v1/"),
            ("BAD", "x.my.salesforce-scrt.com"),
            ("FTP", "ftp://x/"),
        ]);
        let good = env.url("GOOD", "base").unwrap();
        assert_eq!(
            good.join("voiceCalls/1").unwrap().as_str(),
            "https://x.my.salesforce-scrt.com/telephony/v1/voiceCalls/1"
        );
        assert_eq!(env.url("SLASH", "base").unwrap(), good);
        for name in ["BAD", "FTP"] {
            let err = env.url(name, "base").unwrap_err().to_string();
            assert!(err.contains(name), "{err}");
        }
    }

    #[test]
    fn parse_names_the_variable() {
        let env = Env::from_pairs([("N", "ten")]);
        let err = env.parse::<u32>("N").unwrap_err().to_string();
        assert!(err.starts_with("environment variable N is invalid"), "{err}");
        assert_eq!(env.parse::<u32>("M").unwrap(), None);
    }

    #[test]
    fn lambda_log_level_wins() {
        assert_eq!(log_level(&Env::default()), "info");
        assert_eq!(log_level(&Env::from_pairs([("LOG_LEVEL", "debug")])), "debug");
        assert_eq!(
            log_level(&Env::from_pairs([
                ("LOG_LEVEL", "debug"),
                ("AWS_LAMBDA_LOG_LEVEL", "WARN")
            ])),
            "WARN"
        );
    }

    #[test]
    fn debug_shows_names_only() {
        let env = Env::from_pairs([("PRIVATE", "-----BEGIN RSA PRIVATE KEY-----")]);
        assert_eq!(format!("{env:?}"), "{\"PRIVATE\"}");
    }
}
