//! Logs and metrics.
//!
//! * Logs go through `tracing` to standard output: JSON when Lambda's `AWS_LAMBDA_LOG_FORMAT=JSON`
//!   (SAM `LoggingConfig`), plain text otherwise; level from `AWS_LAMBDA_LOG_LEVEL`, then `LOG_LEVEL`,
//!   default `info`. Each record's work runs inside [`record_span`], so every line carries its contact id.
//! * Metrics go through the `metrics` facade to CloudWatch embedded metric format (EMF) lines, flushed on
//!   standard output at the end of every invocation by [`invocation`]. Namespace `ServiceCloudVoice`
//!   (override: `METRICS_NAMESPACE`), dimension `Function`.

use std::{future::Future, sync::OnceLock, time::Instant};

use lambda_runtime::tracing::subscriber::{self, EnvFilter, fmt::MakeWriter};

use crate::{Env, config::log_level};

/// Metric names shared by all functions.
pub mod metric {
    /// Requests sent to Salesforce (each retry counts).
    pub const SALESFORCE_REQUESTS: &str = "SalesforceRequests";
    /// Salesforce requests sent again after a failure or a refused credential.
    pub const SALESFORCE_RETRIES: &str = "SalesforceRetries";
    /// Salesforce calls that finally failed.
    pub const SALESFORCE_FAILURES: &str = "SalesforceFailures";
    /// Time of one Salesforce call, retries included (milliseconds).
    pub const SALESFORCE_LATENCY: &str = "SalesforceLatency";
    /// Records (or events) taken in.
    pub const RECORDS_PROCESSED: &str = "RecordsProcessed";
    /// Records whose work succeeded.
    pub const RECORDS_SUCCEEDED: &str = "RecordsSucceeded";
    /// Records skipped on purpose (label `reason`).
    pub const RECORDS_SKIPPED: &str = "RecordsSkipped";
    /// Records that failed (reported for retry, or malformed).
    pub const RECORDS_FAILED: &str = "RecordsFailed";
    /// Time of one invocation (milliseconds).
    pub const INVOCATION_LATENCY: &str = "InvocationLatency";
}

static COLLECTOR: OnceLock<&'static metrics_cloudwatch_embedded::Collector> = OnceLock::new();

/// Sets up logs and metrics for a function; call once, first thing in `main`.
pub fn init(function: &'static str) {
    let env = Env::from_process();
    // A second call (tests) keeps the first subscriber.
    let _ = subscriber::util::SubscriberInitExt::try_init(subscriber(&env, std::io::stdout));
    init_metrics(&env, function);
}

/// The log subscriber for `env`, writing to `writer`.
pub fn subscriber<W>(env: &Env, writer: W) -> Box<dyn lambda_runtime::tracing::Subscriber + Send + Sync>
where
    W: for<'w> MakeWriter<'w> + Send + Sync + 'static,
{
    let filter = EnvFilter::builder()
        .with_default_directive(
            log_level(env)
                .parse::<lambda_runtime::tracing::level_filters::LevelFilter>()
                .unwrap_or(lambda_runtime::tracing::level_filters::LevelFilter::INFO)
                .into(),
        )
        .parse_lossy("");
    let builder = subscriber::fmt()
        .with_target(false)
        .with_env_filter(filter)
        .with_writer(writer);
    if env
        .get("AWS_LAMBDA_LOG_FORMAT")
        .is_some_and(|f| f.eq_ignore_ascii_case("json"))
    {
        Box::new(builder.json().flatten_event(true).finish())
    } else {
        Box::new(builder.without_time().with_ansi(false).finish())
    }
}

fn init_metrics(env: &Env, function: &'static str) {
    use metrics::Unit;
    let namespace = env
        .get("METRICS_NAMESPACE")
        .unwrap_or("ServiceCloudVoice")
        .to_owned();
    let name = env.get("AWS_LAMBDA_FUNCTION_NAME").unwrap_or(function).to_owned();
    match metrics_cloudwatch_embedded::Builder::new()
        .cloudwatch_namespace(namespace)
        .with_dimension("Function", name)
        .init()
    {
        Ok(collector) => {
            let _ = COLLECTOR.set(collector);
        }
        Err(error) => tracing::warn!(%error, "metrics recorder already installed"),
    }
    metrics::describe_histogram!(
        metric::SALESFORCE_LATENCY,
        Unit::Milliseconds,
        "Salesforce call time"
    );
    metrics::describe_histogram!(metric::INVOCATION_LATENCY, Unit::Milliseconds, "invocation time");
    for name in [
        metric::SALESFORCE_REQUESTS,
        metric::SALESFORCE_RETRIES,
        metric::SALESFORCE_FAILURES,
        metric::RECORDS_PROCESSED,
        metric::RECORDS_SUCCEEDED,
        metric::RECORDS_SKIPPED,
        metric::RECORDS_FAILED,
    ] {
        metrics::describe_counter!(name, Unit::Count, "");
    }
}

/// Writes the metrics gathered since the last flush as EMF lines on standard output.
pub fn flush_metrics() {
    if let Some(collector) = COLLECTOR.get()
        && let Err(error) = collector.flush(std::io::stdout().lock())
    {
        tracing::warn!(%error, "could not write metrics");
    }
}

/// Runs one invocation's work: times it, logs how it ended and why, and flushes the metrics.
pub async fn invocation<T, E: std::fmt::Display>(work: impl Future<Output = Result<T, E>>) -> Result<T, E> {
    let started = Instant::now();
    let result = work.await;
    let elapsed_ms = started.elapsed().as_secs_f64() * 1000.0;
    metrics::histogram!(metric::INVOCATION_LATENCY).record(elapsed_ms);
    match &result {
        Ok(_) => tracing::info!(elapsed_ms, "invocation finished"),
        Err(error) => tracing::error!(elapsed_ms, %error, "invocation failed"),
    }
    flush_metrics();
    result
}

/// The span for one record's work: every line logged inside carries `contact_id`.
pub fn record_span(contact_id: &str) -> tracing::Span {
    tracing::info_span!("record", contact_id = %contact_id)
}
