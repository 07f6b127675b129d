//! `cargo xtask <command>`: the project's developer commands.
//!
//! * `test`: installs what a fresh machine lacks into the project's own folders (`.venv` with moto), and
//!   the media tools the kvs-media tests compare against (`mkvinfo` from Debian's mkvtoolnix, `ffmpeg`
//!   and `ffprobe`) with apt-get when they are missing, then `cargo fmt --check`, `cargo clippy -D warnings`, builds the function binaries and runs the whole
//!   test suite with nextest (or `cargo test` where nextest is missing) against one shared moto server;
//!   fails if any step fails.
//! * `demo`: the same installation, then plays a synthetic call through the real function binaries behind
//!   a local Lambda Runtime API, with moto and a fake Salesforce, and shows what reached Salesforce.

use std::{
    env,
    net::TcpListener,
    path::{Path, PathBuf},
    process::{Child, Command, ExitCode, Stdio},
    thread,
    time::{Duration, Instant},
};

type Result<T = ()> = std::result::Result<T, String>;

fn main() -> ExitCode {
    let args: Vec<String> = env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("test") => test(&args[1..]),
        Some("demo") => demo(&args[1..]),
        Some("bench") => bench(&args[1..]),
        Some("help" | "--help" | "-h") | None => {
            eprintln!("{HELP}");
            Ok(())
        }
        Some(other) => Err(format!("unknown command {other:?}\n\n{HELP}")),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("xtask: {message}");
            ExitCode::FAILURE
        }
    }
}

const HELP: &str = "usage: cargo xtask <command>

commands:
  test [ARGS…]  install tools into .venv (and mkvtoolnix, ffmpeg with apt-get when missing), then fmt
                check, clippy -D warnings, build, and the whole test suite (nextest); ARGS go to the
                test runner (e.g. a test name filter)
  bench [ARGS…] build the release binaries and run the benchmarks (criterion); each prints a RESULT
                line with our figure beside the physical limit and the reference functions' figure
  demo          play one synthetic call through the real function binaries and show what reached
                Salesforce (moto, fake Salesforce and a Lambda Runtime API on 127.0.0.1)";

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_default()
}

fn cargo() -> String {
    env::var("CARGO").unwrap_or_else(|_| "cargo".into())
}

/// Runs a command in the workspace root, failing with its name when it fails.
fn run(program: &str, args: &[&str], envs: &[(&str, &str)]) -> Result {
    let started = Instant::now();
    eprintln!("xtask: $ {program} {}", args.join(" "));
    let status = Command::new(program)
        .args(args)
        .envs(envs.iter().copied())
        .current_dir(root())
        .status()
        .map_err(|e| format!("cannot run {program}: {e}"))?;
    eprintln!("xtask:   ({:.1} s)", started.elapsed().as_secs_f64());
    if status.success() {
        Ok(())
    } else {
        Err(format!("`{program} {}` failed ({status})", args.join(" ")))
    }
}

/// `.venv` with the pinned Python tools; reinstalled only when `xtask/requirements.txt` changes.
fn ensure_venv() -> Result<PathBuf> {
    let root = root();
    let venv = root.join(".venv");
    let requirements = root.join("xtask/requirements.txt");
    let wanted =
        std::fs::read_to_string(&requirements).map_err(|e| format!("{}: {e}", requirements.display()))?;
    let stamp = venv.join(".xtask-requirements");
    if std::fs::read_to_string(&stamp).is_ok_and(|done| done == wanted)
        && venv.join("bin/moto_server").exists()
    {
        return Ok(venv);
    }
    if !venv.join("bin/python").exists() {
        let python = ["python3", "python"]
            .into_iter()
            .find(|p| {
                Command::new(p)
                    .arg("--version")
                    .stdout(Stdio::null())
                    .status()
                    .is_ok_and(|s| s.success())
            })
            .ok_or("Python 3 is needed (for moto); install python3 with pip and venv")?;
        run(python, &["-m", "venv", ".venv"], &[])?;
    }
    let pip = venv.join("bin/pip");
    let pip = pip.to_str().ok_or("non-UTF-8 path")?;
    run(
        pip,
        &[
            "install",
            "--quiet",
            "--disable-pip-version-check",
            "-r",
            "xtask/requirements.txt",
        ],
        &[],
    )?;
    std::fs::write(&stamp, wanted).map_err(|e| e.to_string())?;
    Ok(venv)
}

fn on_path(program: &str) -> bool {
    env::var_os("PATH").is_some_and(|paths| env::split_paths(&paths).any(|dir| dir.join(program).is_file()))
}

/// `mkvinfo` (mkvtoolnix), `ffmpeg` and `ffprobe`: the independent readers the kvs-media tests check
/// against (they fail without them).
const MEDIA_TOOLS: [(&str, &str); 3] = [
    ("mkvinfo", "mkvtoolnix"),
    ("ffmpeg", "ffmpeg"),
    ("ffprobe", "ffmpeg"),
];

/// The demo's voicemail is spoken by `espeak-ng`.
const DEMO_TOOLS: [(&str, &str); 1] = [("espeak-ng", "espeak-ng")];

/// Installs, from Debian's packages, the packages of the `(program, package)` pairs whose program is
/// missing (the machines run as root).
fn ensure_packages(needed: &[(&str, &str)]) -> Result {
    let mut packages: Vec<&str> = needed
        .iter()
        .filter(|(program, _)| !on_path(program))
        .map(|(_, package)| *package)
        .collect();
    packages.dedup();
    if packages.is_empty() {
        return Ok(());
    }
    eprintln!("xtask: installing {} with apt-get", packages.join(", "));
    run("apt-get", &["update"], &[])?;
    let mut args = vec!["install", "-y", "--no-install-recommends"];
    args.extend(&packages);
    run("apt-get", &args, &[("DEBIAN_FRONTEND", "noninteractive")])
}

/// A moto server for the whole run, killed when dropped.
struct MotoServer {
    child: Child,
    endpoint: String,
}

impl MotoServer {
    fn start(venv: &Path) -> Result<Self> {
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map_err(|e| e.to_string())?
            .port();
        let log = std::fs::File::create(root().join("target/moto.log")).map_err(|e| e.to_string())?;
        let child = Command::new(venv.join("bin/moto_server"))
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdin(Stdio::null())
            .stdout(log.try_clone().map_err(|e| e.to_string())?)
            .stderr(log)
            .spawn()
            .map_err(|e| format!("cannot start moto_server: {e}"))?;
        let server = Self {
            child,
            endpoint: format!("http://127.0.0.1:{port}"),
        };
        let started = Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            if started.elapsed() > Duration::from_secs(60) {
                return Err("moto_server did not start within 60 s (see target/moto.log)".into());
            }
            thread::sleep(Duration::from_millis(50));
        }
        eprintln!(
            "xtask: moto server {} (pid {})",
            server.endpoint,
            server.child.id()
        );
        Ok(server)
    }
}

impl Drop for MotoServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn has_nextest() -> bool {
    Command::new(cargo())
        .args(["nextest", "--version"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

fn test(extra: &[String]) -> Result {
    let started = Instant::now();
    let venv = ensure_venv()?;
    ensure_packages(&MEDIA_TOOLS)?;
    let cargo = cargo();
    run(&cargo, &["fmt", "--all", "--", "--check"], &[])?;
    run(
        &cargo,
        &[
            "clippy",
            "--workspace",
            "--all-targets",
            "--locked",
            "--",
            "-D",
            "warnings",
        ],
        &[],
    )?;
    run(&cargo, &["build", "--workspace", "--bins", "--locked"], &[])?;
    std::fs::create_dir_all(root().join("target")).map_err(|e| e.to_string())?;
    let moto = MotoServer::start(&venv)?;
    let envs = [("SCV_MOTO_ENDPOINT", moto.endpoint.as_str())];
    let extra: Vec<&str> = extra.iter().map(String::as_str).collect();
    if has_nextest() {
        let mut args = vec!["nextest", "run", "--workspace", "--locked", "--no-fail-fast"];
        args.extend(&extra);
        run(&cargo, &args, &envs)?;
    } else {
        let mut args = vec!["test", "--workspace", "--locked", "--no-fail-fast"];
        args.extend(&extra);
        run(&cargo, &args, &envs)?;
    }
    drop(moto);
    eprintln!(
        "xtask: all checks passed in {:.0} s",
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

fn demo(_args: &[String]) -> Result {
    ensure_venv()?;
    ensure_packages(&DEMO_TOOLS)?;
    let cargo = cargo();
    run(&cargo, &["build", "--workspace", "--bins", "--locked"], &[])?;
    run(
        &cargo,
        &[
            "run",
            "--quiet",
            "--locked",
            "--package",
            "scv-tests",
            "--bin",
            "scv-demo",
        ],
        &[],
    )
}

fn bench(extra: &[String]) -> Result {
    ensure_venv()?;
    let cargo = cargo();
    run(
        &cargo,
        &["build", "--release", "--workspace", "--bins", "--locked"],
        &[],
    )?;
    let mut args = vec![
        "bench",
        "--locked",
        "--package",
        "scv-tests",
        "--package",
        "kvs-media",
    ];
    args.push("--");
    args.extend(extra.iter().map(String::as_str));
    run(&cargo, &args, &[("SCV_BINARY_PROFILE", "release")])
}
