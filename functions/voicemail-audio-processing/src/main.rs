use lambda_runtime::{Error, service_fn};
use scv_core::telemetry;
use voicemail_audio_processing::{Deps, handle};

#[tokio::main]
async fn main() -> Result<(), Error> {
    telemetry::init(env!("CARGO_PKG_NAME"));
    let deps = match Deps::from_env().await {
        Ok(deps) => deps,
        Err(error) => return Err(scv_core::lambda::init_failed(error, "Runtime.InitError").await),
    };
    lambda_runtime::run(service_fn(|event| telemetry::invocation(handle(&deps, event)))).await
}
