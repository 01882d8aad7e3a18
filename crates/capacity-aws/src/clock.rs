//! Time, passed in so that tests pin it: one clock type for both functions.
//!
//! The trait is object-safe (`Arc<dyn Clock>`): [`Clock::sleep`] returns a boxed future. A
//! test clock (`moto_harness::clock::ManualClock`) moves only when the code under test sleeps
//! or the test advances it, so timing tests run in milliseconds.

use std::future::Future;
use std::pin::Pin;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// A future returned by [`Clock::sleep`].
pub type Sleep<'a> = Pin<Box<dyn Future<Output = ()> + Send + 'a>>;

/// The wall clock and a timer.
pub trait Clock: Send + Sync {
    /// Now, as wall-clock time.
    fn now(&self) -> SystemTime;

    /// Now, in Unix epoch milliseconds (0 for a clock set before 1970).
    fn now_ms(&self) -> u64 {
        epoch_ms(self.now())
    }

    /// Waits `duration`.
    fn sleep(&self, duration: Duration) -> Sleep<'_>;
}

/// Milliseconds since the Unix epoch (0 before it, saturating far after it).
pub fn epoch_ms(time: SystemTime) -> u64 {
    time.duration_since(UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}

/// The real clock: system time and tokio's timer.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> SystemTime {
        SystemTime::now()
    }

    fn sleep(&self, duration: Duration) -> Sleep<'_> {
        Box::pin(tokio::time::sleep(duration))
    }
}

impl<C: Clock + ?Sized> Clock for std::sync::Arc<C> {
    fn now(&self) -> SystemTime {
        (**self).now()
    }

    fn now_ms(&self) -> u64 {
        (**self).now_ms()
    }

    fn sleep(&self, duration: Duration) -> Sleep<'_> {
        (**self).sleep(duration)
    }
}
