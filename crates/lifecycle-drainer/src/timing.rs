//! The drain's timing policy, as pure functions of the settings, the hook's timeouts and
//! the clock readings the handler passes in:
//!
//! * the hook's timeouts: configured (`HEARTBEAT_TIMEOUT_SECONDS`, with Auto Scaling's rule
//!   global = min(48 h, 100 × heartbeat)), else as read, else the shortest any hook can have;
//! * heartbeats every half heartbeat timeout;
//! * the drain's total deadline: `MAX_DRAIN_SECONDS` from its start, capped by the hook's
//!   global timeout minus the margin;
//! * the republish point: the invocation's deadline minus the margin (none when the deadline
//!   is unknown);
//! * when the drain started: carried over from an earlier invocation, else the
//!   notification's time, never in the future.

use std::time::Duration;

use capacity_aws::drain::{HookTimeouts, LifecycleActionResult};

use crate::config::Config;

/// Used when the hook's heartbeat timeout is neither configured nor readable: Auto Scaling's
/// minimum, so heartbeats are never too rare.
pub const FALLBACK_HEARTBEAT_TIMEOUT: Duration = Duration::from_secs(30);
/// Auto Scaling's ceiling on a hook's global timeout.
pub const MAX_GLOBAL_TIMEOUT: Duration = Duration::from_secs(48 * 3600);
/// Auto Scaling's global timeout is this many heartbeat timeouts (up to the ceiling).
pub const GLOBAL_TIMEOUT_HEARTBEATS: u32 = 100;

/// The settings the timing rules read (from [`Config`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimingPolicy {
    pub poll_interval: Duration,
    /// The most a drain may take in total, across invocations.
    pub max_drain: Duration,
    /// Kept before the invocation's deadline and the hook's global timeout.
    pub deadline_margin: Duration,
    /// The result of a completion at the total deadline.
    pub deadline_result: LifecycleActionResult,
    /// The hook's heartbeat timeout as configured; `None`: read it from the hook.
    pub heartbeat_timeout: Option<Duration>,
}

impl From<&Config> for TimingPolicy {
    fn from(config: &Config) -> TimingPolicy {
        TimingPolicy {
            poll_interval: config.poll_interval,
            max_drain: config.max_drain,
            deadline_margin: config.deadline_margin,
            deadline_result: config.deadline_result,
            heartbeat_timeout: config.heartbeat_timeout,
        }
    }
}

impl TimingPolicy {
    /// The hook's timeouts when its heartbeat timeout is configured (then the hook is not
    /// read): the global timeout follows Auto Scaling's rule.
    pub fn configured_hook(&self) -> Option<HookTimeouts> {
        self.heartbeat_timeout
            .map(|heartbeat_timeout| HookTimeouts {
                heartbeat_timeout,
                global_timeout: global_timeout_of(heartbeat_timeout),
            })
    }
}

/// What reading the lifecycle hook found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HookRead {
    Read(HookTimeouts),
    /// The group has no such hook.
    NotFound,
    /// The call failed.
    Unreadable,
}

impl HookRead {
    /// The timeouts to plan with: as read, else [`fallback_hook`].
    pub fn timeouts(self) -> HookTimeouts {
        match self {
            HookRead::Read(timeouts) => timeouts,
            HookRead::NotFound | HookRead::Unreadable => fallback_hook(),
        }
    }
}

/// Auto Scaling's global timeout of a hook: min(48 h, 100 × heartbeat timeout).
pub fn global_timeout_of(heartbeat_timeout: Duration) -> Duration {
    MAX_GLOBAL_TIMEOUT.min(heartbeat_timeout.saturating_mul(GLOBAL_TIMEOUT_HEARTBEATS))
}

/// The hook could not be read: assume the shortest timeouts any hook can have. Its global
/// timeout is min(48 h, 100 × heartbeat timeout), so at least 100 × 30 s; waiting longer than
/// that (MAX_DRAIN_SECONDS defaults to 2 h) would let the hook expire with its default result
/// while tasks still run, instead of completing at the deadline.
pub fn fallback_hook() -> HookTimeouts {
    HookTimeouts {
        heartbeat_timeout: FALLBACK_HEARTBEAT_TIMEOUT,
        global_timeout: global_timeout_of(FALLBACK_HEARTBEAT_TIMEOUT),
    }
}

/// The time limits of one drain, in epoch milliseconds where they are instants.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timing {
    pub poll_interval: Duration,
    /// How often to record a heartbeat (well under the hook's heartbeat timeout).
    pub heartbeat_interval: Duration,
    /// When this invocation must stop waiting and republish; `None`: the invocation's
    /// deadline is unknown.
    pub republish_at_ms: Option<u64>,
    /// When the drain as a whole must end.
    pub give_up_at_ms: u64,
    /// The result of a completion at `give_up_at_ms`.
    pub deadline_result: LifecycleActionResult,
}

impl Timing {
    /// The limits of a drain that started at `started_at_ms`, in an invocation whose deadline
    /// is `deadline_ms` (`None`: unknown), under a hook with timeouts `hook`.
    pub fn plan(
        policy: &TimingPolicy,
        hook: HookTimeouts,
        started_at_ms: u64,
        deadline_ms: Option<u64>,
    ) -> Timing {
        let margin = policy.deadline_margin;
        let limit = policy
            .max_drain
            .min(hook.global_timeout.saturating_sub(margin));
        Timing {
            poll_interval: policy.poll_interval,
            heartbeat_interval: hook.heartbeat_timeout / 2,
            republish_at_ms: deadline_ms.map(|d| d.saturating_sub(millis(margin))),
            give_up_at_ms: started_at_ms.saturating_add(millis(limit)),
            deadline_result: policy.deadline_result,
        }
    }
}

/// The invocation's deadline (Lambda's `Context.deadline`, epoch ms) when it is still ahead;
/// one not in the future counts as unknown (`cargo lambda watch` sends 600000).
pub fn known_deadline(invocation_deadline_ms: u64, now_ms: u64) -> Option<u64> {
    (invocation_deadline_ms > now_ms).then_some(invocation_deadline_ms)
}

/// When the drain started: the notification's time (when the hook's global timeout started),
/// or a later start carried over from an earlier invocation (it survives republishing) —
/// never earlier than the notification itself: a replayed message or a bad attribute must
/// not put the total deadline in the past and complete the drain with tasks running. Now,
/// when neither is known. Never in the future (clock skew).
pub fn drain_started_at(carried_ms: Option<u64>, notified_ms: Option<u64>, now_ms: u64) -> u64 {
    let started = match (carried_ms, notified_ms) {
        (Some(carried), Some(notified)) => carried.max(notified),
        (one, other) => one.or(other).unwrap_or(now_ms),
    };
    started.min(now_ms)
}

/// The last heartbeat known when an invocation starts. The first delivery comes as the
/// action starts, with its heartbeat timeout fresh; a later one cannot know when the last
/// heartbeat was, so one is due at once (`None`).
pub fn heartbeat_known_at_start(attempt: u32, started_at_ms: u64) -> Option<u64> {
    (attempt == 1).then_some(started_at_ms)
}

/// Whole milliseconds of `d`, saturating (durations here are at most days).
pub fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: u64 = 1_700_000_000_000;

    fn secs(s: u64) -> Duration {
        Duration::from_secs(s)
    }

    fn policy() -> TimingPolicy {
        TimingPolicy {
            poll_interval: secs(5),
            max_drain: secs(7200),
            deadline_margin: secs(20),
            deadline_result: LifecycleActionResult::Continue,
            heartbeat_timeout: None,
        }
    }

    fn hook(heartbeat_s: u64, global_s: u64) -> HookTimeouts {
        HookTimeouts {
            heartbeat_timeout: secs(heartbeat_s),
            global_timeout: secs(global_s),
        }
    }

    #[test]
    fn a_configured_heartbeat_timeout_implies_the_global_timeout_by_the_100_rule() {
        let cases = [
            (30, 3000, "the shortest heartbeat"),
            (300, 30_000, "100 heartbeats"),
            (7200, 172_800, "capped at 48 h"),
        ];
        for (heartbeat_s, global_s, why) in cases {
            let policy = TimingPolicy {
                heartbeat_timeout: Some(secs(heartbeat_s)),
                ..policy()
            };
            assert_eq!(
                policy.configured_hook(),
                Some(hook(heartbeat_s, global_s)),
                "{why}"
            );
        }
        assert_eq!(policy().configured_hook(), None, "not configured: read it");
    }

    #[test]
    fn an_unreadable_or_missing_hook_plans_with_the_shortest_timeouts_a_hook_can_have() {
        assert_eq!(HookRead::Unreadable.timeouts(), hook(30, 3000));
        assert_eq!(HookRead::NotFound.timeouts(), hook(30, 3000));
        assert_eq!(HookRead::Read(hook(60, 6000)).timeouts(), hook(60, 6000));
    }

    #[test]
    fn heartbeats_come_every_half_heartbeat_timeout() {
        let timing = Timing::plan(&policy(), hook(300, 30_000), NOW, None);
        assert_eq!(timing.heartbeat_interval, secs(150));
        assert_eq!(timing.poll_interval, secs(5));
    }

    #[test]
    fn the_total_deadline_is_max_drain_capped_by_the_global_timeout_less_the_margin() {
        let cases = [
            (
                hook(300, 30_000),
                NOW + 7_200_000,
                "MAX_DRAIN_SECONDS binds",
            ),
            (hook(30, 3000), NOW + 2_980_000, "the global timeout binds"),
            (
                hook(30, 10),
                NOW,
                "a global timeout inside the margin: at once",
            ),
        ];
        for (hook, give_up_at_ms, why) in cases {
            let timing = Timing::plan(&policy(), hook, NOW, None);
            assert_eq!(timing.give_up_at_ms, give_up_at_ms, "{why}");
        }
    }

    #[test]
    fn the_republish_point_is_the_margin_before_a_known_deadline() {
        let timing = Timing::plan(&policy(), hook(300, 30_000), NOW, Some(NOW + 900_000));
        assert_eq!(timing.republish_at_ms, Some(NOW + 880_000));
        let timing = Timing::plan(&policy(), hook(300, 30_000), NOW, None);
        assert_eq!(timing.republish_at_ms, None);
    }

    #[test]
    fn a_deadline_not_in_the_future_is_unknown() {
        assert_eq!(known_deadline(NOW + 1, NOW), Some(NOW + 1));
        assert_eq!(known_deadline(NOW, NOW), None);
        assert_eq!(known_deadline(600_000, NOW), None, "cargo lambda watch");
    }

    #[test]
    fn the_start_is_carried_else_notified_else_now_and_never_in_the_future() {
        let cases = [
            (
                Some(NOW - 1_000),
                Some(NOW - 5_000),
                NOW - 1_000,
                "carried first",
            ),
            (
                None,
                Some(NOW - 1_000),
                NOW - 1_000,
                "the notification's time",
            ),
            (None, None, NOW, "now"),
            (None, Some(NOW + 60_000), NOW, "clock skew"),
            (
                Some(NOW - 5_000),
                Some(NOW - 9_000),
                NOW - 5_000,
                "a later carried start",
            ),
            (
                Some(0),
                Some(NOW - 1_000),
                NOW - 1_000,
                "never before the notification (a replayed or bad attribute)",
            ),
            (Some(NOW - 5_000), None, NOW - 5_000, "carried, no time"),
        ];
        for (carried, notified, started, why) in cases {
            assert_eq!(drain_started_at(carried, notified, NOW), started, "{why}");
        }
    }

    #[test]
    fn only_the_first_delivery_knows_its_last_heartbeat() {
        assert_eq!(heartbeat_known_at_start(1, NOW), Some(NOW));
        assert_eq!(heartbeat_known_at_start(2, NOW), None);
    }
}
