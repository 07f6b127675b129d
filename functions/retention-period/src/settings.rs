//! What the clean-up does, from the environment.

use scv_core::{ConfigError, Env};

/// The retention values CloudWatch Logs accepts (`PutRetentionPolicy`).
pub const VALID_RETENTION_DAYS: [i32; 22] = [
    1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653,
];

/// The clean-up's settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    /// `RETENTION_DAYS`, default 120: logs older than this go.
    pub retention_days: i32,
    /// `LOG_GROUP_PREFIXES`, comma-separated: only groups whose names start with one of these are touched.
    /// Default: `/aws/lambda/<stack>-`, the stack's own function log groups, where `<stack>` is this
    /// function's name without its last two `-` parts (SAM names functions `<stack>-<LogicalId>-<suffix>`).
    pub prefixes: Vec<String>,
    /// `DRY_RUN=true`: only report what would change.
    pub dry_run: bool,
}

impl Settings {
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        let retention_days = env.parse::<i32>("RETENTION_DAYS")?.unwrap_or(120);
        if !VALID_RETENTION_DAYS.contains(&retention_days) {
            return Err(ConfigError::Invalid {
                name: "RETENTION_DAYS".into(),
                reason: format!(
                    "{retention_days} is not a CloudWatch Logs retention value ({VALID_RETENTION_DAYS:?})"
                ),
            });
        }
        let prefixes: Vec<String> = match env.get("LOG_GROUP_PREFIXES") {
            Some(list) => list
                .split(',')
                .map(str::trim)
                .filter(|p| !p.is_empty())
                .map(str::to_owned)
                .collect(),
            None => default_prefix(env.get("AWS_LAMBDA_FUNCTION_NAME"))
                .into_iter()
                .collect(),
        };
        if prefixes.is_empty() {
            return Err(ConfigError::Missing {
                name: "LOG_GROUP_PREFIXES".into(),
                meaning: "comma-separated log group name prefixes to clean up; the default needs a SAM function name",
            });
        }
        if let Some(bad) = prefixes.iter().find(|p| p.len() < 2 || !p.starts_with('/')) {
            return Err(ConfigError::Invalid {
                name: "LOG_GROUP_PREFIXES".into(),
                reason: format!("{bad:?} is too broad: prefixes start with '/' and name a group family"),
            });
        }
        let dry_run = match env.get("DRY_RUN").map(str::to_ascii_lowercase).as_deref() {
            None | Some("false" | "0" | "no") => false,
            Some("true" | "1" | "yes") => true,
            Some(other) => {
                return Err(ConfigError::Invalid {
                    name: "DRY_RUN".into(),
                    reason: format!("{other:?} is not true or false"),
                });
            }
        };
        Ok(Self {
            retention_days,
            prefixes,
            dry_run,
        })
    }
}

/// `/aws/lambda/<stack>-` from a SAM function name `<stack>-<LogicalId>-<suffix>`.
fn default_prefix(function_name: Option<&str>) -> Option<String> {
    let mut parts = function_name?.rsplitn(3, '-');
    let (_suffix, _logical_id, stack) = (parts.next()?, parts.next()?, parts.next()?);
    (!stack.is_empty()).then(|| format!("/aws/lambda/{stack}-"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_to_120_days_and_the_stacks_own_log_groups() {
        let env = Env::from_pairs([(
            "AWS_LAMBDA_FUNCTION_NAME",
            "scv-prod-RetentionPeriodFunction-AbC123",
        )]);
        let settings = Settings::from_env(&env).unwrap();
        assert_eq!(
            settings,
            Settings {
                retention_days: 120,
                prefixes: vec!["/aws/lambda/scv-prod-".into()],
                dry_run: false
            }
        );
    }

    #[test]
    fn explicit_prefixes_days_and_dry_run() {
        let env = Env::from_pairs([
            ("LOG_GROUP_PREFIXES", " /aws/lambda/a- , /scv/ ,"),
            ("RETENTION_DAYS", "30"),
            ("DRY_RUN", "TRUE"),
        ]);
        let settings = Settings::from_env(&env).unwrap();
        assert_eq!(settings.prefixes, ["/aws/lambda/a-", "/scv/"]);
        assert_eq!(settings.retention_days, 30);
        assert!(settings.dry_run);
    }

    #[test]
    fn bad_values_are_named() {
        for (pairs, name) in [
            (
                vec![("RETENTION_DAYS", "100"), ("LOG_GROUP_PREFIXES", "/x")],
                "RETENTION_DAYS",
            ),
            (
                vec![("RETENTION_DAYS", "ten"), ("LOG_GROUP_PREFIXES", "/x")],
                "RETENTION_DAYS",
            ),
            (
                vec![("LOG_GROUP_PREFIXES", "/x"), ("DRY_RUN", "maybe")],
                "DRY_RUN",
            ),
            (vec![("LOG_GROUP_PREFIXES", "/")], "LOG_GROUP_PREFIXES"),
            (vec![("LOG_GROUP_PREFIXES", "aws/lambda")], "LOG_GROUP_PREFIXES"),
            (
                vec![("AWS_LAMBDA_FUNCTION_NAME", "standalone")],
                "LOG_GROUP_PREFIXES",
            ),
        ] {
            let err = Settings::from_env(&Env::from_pairs(pairs))
                .unwrap_err()
                .to_string();
            assert!(err.contains(name), "{name}: {err}");
        }
    }
}
