//! The functions' JSON log lines, as Lambda writes them (`AWS_LAMBDA_LOG_FORMAT=JSON`:
//! lambda_runtime's subscriber, no target, no time), captured for one test.
//!
//! The subscriber is the process's global one, installed once, and writes to the buffer of
//! the thread that captures (or nowhere): a subscriber set for one thread only
//! (`tracing::subscriber::set_default`) loses spans and events whose interest tracing cached
//! while other tests' threads ran them with none. A `#[tokio::test]` body, and the handler it
//! awaits, run on the test's thread.

use serde_json::Value;
use std::cell::RefCell;
use std::sync::{Arc, Mutex, Once};

/// The log lines captured on one thread.
#[derive(Clone, Default)]
pub struct LogLines(Arc<Mutex<Vec<u8>>>);

thread_local! {
    static CAPTURED: RefCell<Option<LogLines>> = const { RefCell::new(None) };
}

/// Where the global subscriber writes: the capturing thread's buffer, or nowhere.
struct ThisThread;

impl std::io::Write for ThisThread {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        CAPTURED.with(|c| {
            if let Some(lines) = c.borrow().as_ref() {
                lines
                    .0
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .extend_from_slice(buf);
            }
        });
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl LogLines {
    /// From now on, this thread's log lines go to the returned buffer.
    pub fn capture() -> LogLines {
        static INSTALL: Once = Once::new();
        INSTALL.call_once(|| {
            let subscriber = lambda_runtime::tracing::subscriber::fmt()
                .json()
                .with_target(false)
                .without_time()
                .with_writer(|| ThisThread)
                .finish();
            tracing::subscriber::set_global_default(subscriber)
                .expect("no other global subscriber in this test binary");
        });
        let lines = LogLines::default();
        CAPTURED.with(|c| *c.borrow_mut() = Some(lines.clone()));
        lines
    }

    /// Every line captured so far that is JSON.
    pub fn json(&self) -> Vec<Value> {
        let bytes = self.0.lock().unwrap_or_else(|p| p.into_inner()).clone();
        String::from_utf8_lossy(&bytes)
            .lines()
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect()
    }
}
