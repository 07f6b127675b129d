//! # RetentionPeriod
//!
//! Keeps the contact center's CloudWatch logs from growing forever: logs older than 120 days go, as the
//! Salesforce-documented `SCVRetentionPeriodFunctionRole` describes ("clean up CloudWatch logs that are older
//! than 120 days"). The reference code is not public (`anchor-spec.md` §17.5); this is the behaviour an
//! administrator expects.
//!
//! * **Trigger**: an EventBridge schedule (the event's content is ignored).
//! * **Work**, for every log group whose name starts with one of `LOG_GROUP_PREFIXES` (never any other):
//!   sets a retention policy of `RETENTION_DAYS` where the group keeps logs longer or forever (a shorter
//!   policy is left alone), then deletes the log streams whose last event (or creation, for an empty
//!   stream) is older than `RETENTION_DAYS`. Every list is paginated; the SDK backs off on throttling (up to
//!   10 attempts); an error on one group is reported and the run goes on; the run stops before the
//!   invocation deadline and says so. Running it twice changes nothing the second time.
//! * **Output**: a JSON [`Report`] (groups seen, groups changed with their old and new policy, streams
//!   deleted, errors, whether the run was complete and why it ended), also logged, and CloudWatch embedded
//!   metrics `LogGroupsSeen`, `LogGroupsChanged`, `LogStreamsDeleted`, `RetentionErrors`.
//! * **Environment**: `RETENTION_DAYS` (default 120; a CloudWatch retention value), `LOG_GROUP_PREFIXES`
//!   (default `/aws/lambda/<stack>-`), `DRY_RUN` (`true`: report only), `LOG_LEVEL`.
//! * **Permissions**: `logs:DescribeLogGroups`, `logs:DescribeLogStreams`, `logs:PutRetentionPolicy`,
//!   `logs:DeleteLogStream` on the managed groups.

mod handler;
pub mod settings;

pub use handler::{Deps, Report, RetentionChange, clean_up, handle, metric};
pub use settings::Settings;
