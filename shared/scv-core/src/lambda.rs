//! What every function's `main` shares with the Lambda Runtime API besides `lambda_runtime::run`.

use std::fmt::Display;

/// Reports a failed start-up (bad configuration, unreadable key) to the Runtime API's
/// `/runtime/init/error`, so Lambda shows the message naming the variable, and returns the error for
/// `main` to exit with. Outside Lambda (no `AWS_LAMBDA_RUNTIME_API`) it only logs.
pub async fn init_failed(error: impl Display, error_type: &str) -> lambda_runtime::Error {
    let message = error.to_string();
    tracing::error!(error = %message, error_type, "start-up failed");
    if let Ok(api) = std::env::var("AWS_LAMBDA_RUNTIME_API") {
        let body = serde_json::json!({ "errorMessage": message, "errorType": error_type, "stackTrace": [] });
        let sent = reqwest::Client::new()
            .post(format!("http://{api}/2018-06-01/runtime/init/error"))
            .header("Lambda-Runtime-Function-Error-Type", error_type)
            .json(&body)
            .send()
            .await;
        if let Err(error) = sent {
            tracing::error!(%error, "could not report the start-up failure to the Runtime API");
        }
    }
    message.into()
}
