//! Time, passed in so that tests pin it: one clock type for every function.
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

/// Parses an RFC 3339 timestamp in UTC (`2026-12-02T02:48:31Z`, fractions allowed), the form
/// AWS writes in events and lifecycle notifications: the one parser for those times (the
/// SDK's own, so no date crate is needed). `None` when it is not one; an offset other than
/// `Z` is not read (the callers then fall back to their safe path).
pub fn parse_rfc3339(text: &str) -> Option<SystemTime> {
    let parsed =
        aws_smithy_types::DateTime::from_str(text, aws_smithy_types::date_time::Format::DateTime)
            .ok()?;
    SystemTime::try_from(parsed).ok()
}

/// Formats `time` as RFC 3339 in UTC (`2026-12-02T02:48:31Z`, milliseconds when not whole).
pub fn format_rfc3339(time: SystemTime) -> String {
    aws_smithy_types::DateTime::from(time)
        .fmt(aws_smithy_types::date_time::Format::DateTime)
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_reads_utc_and_fractions_and_refuses_the_rest() {
        let at = |s| parse_rfc3339(s).map(epoch_ms);
        assert_eq!(at("1970-01-01T00:00:01Z"), Some(1_000));
        assert_eq!(at("1970-01-01T00:00:01.250Z"), Some(1_250));
        assert_eq!(at("1970-01-01T01:00:01+01:00"), None);
        assert_eq!(at("yesterday"), None);
        assert_eq!(at(""), None);
        let t = UNIX_EPOCH + Duration::from_millis(1_764_643_711_500);
        assert_eq!(parse_rfc3339(&format_rfc3339(t)), Some(t));
    }
}
