//! Captures what a subscriber writes, to check log lines in-process.

use std::{
    io::Write,
    sync::{Arc, Mutex, PoisonError},
};

/// A shared buffer that log lines are written to.
#[derive(Debug, Clone, Default)]
pub struct CapturedLogs(Arc<Mutex<Vec<u8>>>);

impl CapturedLogs {
    /// A writer factory for `scv_core::telemetry::subscriber`.
    pub fn writer(&self) -> impl Fn() -> CapturedWriter + Send + Sync + 'static {
        let buffer = self.0.clone();
        move || CapturedWriter(buffer.clone())
    }

    /// Everything written so far.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap_or_else(PoisonError::into_inner)).into_owned()
    }
}

/// One writer handed out by [`CapturedLogs::writer`].
#[derive(Debug)]
pub struct CapturedWriter(Arc<Mutex<Vec<u8>>>);

impl Write for CapturedWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}
