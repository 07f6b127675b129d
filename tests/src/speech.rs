//! Spoken audio for the demo and tests: `espeak-ng` (Debian package, installed by `cargo xtask demo`)
//! resampled to Connect's 8 kHz, 16-bit mono.

use std::process::Command;

use crate::HarnessError;

/// `text` spoken by espeak-ng, as 8 kHz s16le PCM.
pub fn speak(text: &str) -> Result<Vec<u8>, HarnessError> {
    let dir = tempfile_dir()?;
    let path = dir.join("speech.wav");
    let status = Command::new("espeak-ng")
        .args(["-v", "en-us", "-s", "150", "-w"])
        .arg(&path)
        .arg(text)
        .status()
        .map_err(|e| {
            HarnessError::Setup(format!(
                "cannot run espeak-ng ({e}); `cargo xtask demo` installs it"
            ))
        })?;
    if !status.success() {
        return Err(HarnessError::Setup(format!("espeak-ng failed: {status}")));
    }
    let mut reader =
        hound::WavReader::open(&path).map_err(|e| HarnessError::Setup(format!("espeak-ng output: {e}")))?;
    let rate = reader.spec().sample_rate;
    let samples: Vec<i16> = reader.samples::<i16>().filter_map(Result::ok).collect();
    let _ = std::fs::remove_dir_all(&dir);
    Ok(resample_to_8k(&samples, rate)
        .into_iter()
        .flat_map(i16::to_le_bytes)
        .collect())
}

/// Linear-interpolation resampling to 8 kHz (speech for a demo, not hi-fi).
pub fn resample_to_8k(samples: &[i16], rate: u32) -> Vec<i16> {
    if samples.is_empty() || rate == 0 {
        return Vec::new();
    }
    let step = f64::from(rate) / 8000.0;
    let count = (samples.len() as f64 / step) as usize;
    (0..count)
        .map(|n| {
            let position = n as f64 * step;
            let i = position as usize;
            let frac = position - i as f64;
            let a = f64::from(samples[i.min(samples.len() - 1)]);
            let b = f64::from(samples[(i + 1).min(samples.len() - 1)]);
            (a + (b - a) * frac).round() as i16
        })
        .collect()
}

fn tempfile_dir() -> Result<std::path::PathBuf, HarnessError> {
    let dir = std::env::temp_dir().join(format!("scv-speech-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir)?;
    Ok(dir)
}
