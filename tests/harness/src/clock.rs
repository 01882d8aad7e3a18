//! A test clock for both functions: time moves only when the code under test sleeps (each
//! sleep is recorded) or when the test sets or advances it.
//!
//! A sleep returns at once; a [`ManualClock::yielding`] clock also yields to the executor
//! once, so that drains running concurrently on one clock take turns at every wait.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use capacity_aws::clock::{Clock, Sleep};

/// A pinned clock, shared by cloning (every clone reads and moves the same time).
#[derive(Debug, Clone, Default)]
pub struct ManualClock {
    now_ms: Arc<AtomicU64>,
    sleeps: Arc<Mutex<Vec<Duration>>>,
    yield_on_sleep: bool,
}

impl ManualClock {
    /// A clock at `now_ms` Unix epoch milliseconds.
    pub fn at_ms(now_ms: u64) -> ManualClock {
        let clock = ManualClock::default();
        clock.set_ms(now_ms);
        clock
    }

    /// A clock at `time`.
    pub fn at(time: SystemTime) -> ManualClock {
        ManualClock::at_ms(capacity_aws::clock::epoch_ms(time))
    }

    /// The same clock (clones share its time), whose sleeps also yield to the executor
    /// once: concurrent tasks sleeping on it interleave at every wait.
    pub fn yielding(&self) -> ManualClock {
        ManualClock {
            yield_on_sleep: true,
            ..self.clone()
        }
    }

    /// Sets the time.
    pub fn set_ms(&self, now_ms: u64) {
        self.now_ms.store(now_ms, Ordering::SeqCst);
    }

    /// Sets the time.
    pub fn set(&self, time: SystemTime) {
        self.set_ms(capacity_aws::clock::epoch_ms(time));
    }

    /// Moves the time forward.
    pub fn advance(&self, by: Duration) {
        let ms = u64::try_from(by.as_millis()).unwrap_or(u64::MAX);
        self.now_ms.fetch_add(ms, Ordering::SeqCst);
    }

    /// Every sleep the code under test asked for, in order.
    pub fn slept(&self) -> Vec<Duration> {
        self.sleeps.lock().map(|s| s.clone()).unwrap_or_default()
    }
}

impl Clock for ManualClock {
    fn now(&self) -> SystemTime {
        UNIX_EPOCH + Duration::from_millis(self.now_ms.load(Ordering::SeqCst))
    }

    fn now_ms(&self) -> u64 {
        self.now_ms.load(Ordering::SeqCst)
    }

    fn sleep(&self, duration: Duration) -> Sleep<'_> {
        if let Ok(mut sleeps) = self.sleeps.lock() {
            sleeps.push(duration);
        }
        self.advance(duration);
        if self.yield_on_sleep {
            Box::pin(YieldOnce(false))
        } else {
            Box::pin(std::future::ready(()))
        }
    }
}

/// Pending once (after asking to be polled again), then ready: lets other tasks run.
struct YieldOnce(bool);

impl Future for YieldOnce {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.0 {
            return Poll::Ready(());
        }
        self.0 = true;
        cx.waker().wake_by_ref();
        Poll::Pending
    }
}
