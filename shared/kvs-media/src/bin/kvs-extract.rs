//! `kvs-extract`: look into a saved Kinesis Video Streams GetMedia stream.

use std::{
    fs,
    io::{self, Write},
    path::PathBuf,
    process::ExitCode,
};

use clap::Parser;
use kvs_media::{
    CollectOptions, Selection,
    extract::{extract, wav_file_name},
    tags::is_fragment_number,
};

/// Reads a saved Kinesis Video Streams GetMedia body (Matroska, one EBML document per fragment, as
/// Amazon Connect streams call audio), writes one `<TrackName>.wav` (16-bit PCM) per audio track and
/// prints a JSON summary on stdout: fragments with their numbers, timestamps and tags, the tracks, and
/// per track the samples and duration.
///
/// Audio tracks are Connect's AUDIO_FROM_CUSTOMER, AUDIO_TO_CUSTOMER and the legacy Track_audio/L16 (8 kHz
/// s16le whatever CodecID says), plus any track declared A_PCM/INT/LIT. Other tracks (video, real AAC)
/// are listed but not extracted.
///
/// Exit status: 0 on success; 1 when the stream is corrupt or truncated (the summary's "error" gives the
/// byte offset, and the audio read before it is still written); 2 for bad arguments or I/O errors.
#[derive(Debug, Parser)]
#[command(name = "kvs-extract", version)]
struct Args {
    /// The saved GetMedia body; `-` reads standard input.
    input: PathBuf,
    /// Directory for the WAV files (created if missing). Without it, only the summary is printed.
    #[arg(long, short, value_name = "DIR")]
    out: Option<PathBuf>,
    /// Keep audio from this fragment number on (inclusive).
    #[arg(long, value_name = "NUMBER")]
    first_fragment: Option<String>,
    /// Keep audio up to this fragment number (inclusive) and stop reading after it.
    #[arg(long, value_name = "NUMBER")]
    last_fragment: Option<String>,
    /// Keep only this contact's fragments; stop at the first fragment of another contact.
    #[arg(long, value_name = "ID")]
    contact_id: Option<String>,
    /// Read on past a fragment tagged STOP_STREAMING=true (by default it is dropped and reading stops).
    #[arg(long)]
    ignore_stop_streaming: bool,
}

fn main() -> ExitCode {
    let args = Args::parse();
    match run(&args) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(1),
        Err(message) => {
            eprintln!("kvs-extract: {message}");
            ExitCode::from(2)
        }
    }
}

fn run(args: &Args) -> Result<bool, String> {
    for number in [&args.first_fragment, &args.last_fragment].into_iter().flatten() {
        if !is_fragment_number(number) {
            return Err(format!("{number:?} is not a fragment number (decimal digits)"));
        }
    }
    let options = CollectOptions {
        selection: Selection::AllPcm,
        first_fragment: args.first_fragment.clone(),
        last_fragment: args.last_fragment.clone(),
        contact_id: args.contact_id.clone(),
        stop_streaming: !args.ignore_stop_streaming,
    };
    const CHUNK: usize = 64 * 1024;
    let extraction = if args.input.as_os_str() == "-" {
        extract(io::stdin().lock(), options, CHUNK)
    } else {
        let file = fs::File::open(&args.input).map_err(|e| format!("{}: {e}", args.input.display()))?;
        extract(file, options, CHUNK)
    }
    .map_err(|e| format!("{}: {e}", args.input.display()))?;
    let mut summary = extraction.summary;
    if let Some(dir) = &args.out {
        fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        for (track, entry) in extraction.audio.iter().zip(&mut summary.audio) {
            let path = dir.join(wav_file_name(&track.name));
            track
                .write_wav(&path)
                .map_err(|e| format!("{}: {e}", path.display()))?;
            entry.file = Some(path.display().to_string());
        }
    }
    let json = serde_json::to_string_pretty(&summary).map_err(|e| e.to_string())?;
    let mut stdout = io::stdout().lock();
    writeln!(stdout, "{json}").map_err(|e| format!("stdout: {e}"))?;
    if let Some(error) = &summary.error {
        eprintln!("kvs-extract: {} (the audio before it was kept)", error.message);
    }
    Ok(summary.error.is_none())
}
