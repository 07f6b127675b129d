//! AWS clients with the settings every function shares.

/// An S3 client; with an endpoint override (`AWS_ENDPOINT_URL`, `AWS_ENDPOINT_URL_S3`, a local emulator)
/// it addresses buckets path-style, which local endpoints need.
pub fn s3_client(config: &aws_config::SdkConfig) -> aws_sdk_s3::Client {
    let path_style = ["AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL"]
        .iter()
        .any(|v| std::env::var_os(v).is_some());
    let conf = aws_sdk_s3::config::Builder::from(config)
        .force_path_style(path_style)
        .build();
    aws_sdk_s3::Client::from_conf(conf)
}
