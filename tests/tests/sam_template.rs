//! The SAM application: `template.yaml` passes cfn-lint (installed into `.venv` by `cargo xtask test`) and
//! names every function package as a cargo-lambda binary.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers outside #[test] fns

use std::process::Command;

use scv_tests::workspace_root;

fn template() -> String {
    std::fs::read_to_string(workspace_root().join("template.yaml")).unwrap()
}

#[test]
fn the_template_passes_cfn_lint() {
    let root = workspace_root();
    let cfn_lint = root.join(".venv/bin/cfn-lint");
    assert!(
        cfn_lint.exists(),
        "{} is missing: run `cargo xtask test`, which installs it",
        cfn_lint.display()
    );
    let output = Command::new(cfn_lint)
        .arg("template.yaml")
        .current_dir(&root)
        .env("AWS_DEFAULT_REGION", "us-east-1")
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "cfn-lint found problems:\n{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

#[test]
fn every_function_package_is_built_by_cargo_lambda_from_the_shared_workspace() {
    let template = template();
    let mut packages: Vec<String> = std::fs::read_dir(workspace_root().join("functions"))
        .unwrap()
        .filter_map(Result::ok)
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    packages.sort();
    assert!(!packages.is_empty());
    for package in &packages {
        assert!(
            template.contains(&format!("Binary: {package}\n")),
            "template.yaml does not build {package}"
        );
    }
    assert_eq!(
        template.matches("BuildMethod: rust-cargolambda").count(),
        packages.len()
    );
    assert!(
        template.contains("CodeUri: ./"),
        "one workspace, one target/ for every function"
    );
    assert_eq!(
        template.matches("Type: Kinesis").count(),
        template
            .matches("FunctionResponseTypes: [ReportBatchItemFailures]")
            .count(),
        "every Kinesis trigger reports batch item failures"
    );
    assert!(
        template.contains("eventType: [DISCONNECTED, CONTACT_DATA_UPDATED]"),
        "both contact events (AD-11)"
    );
    assert!(template.contains("MemorySize: 128"));
}
