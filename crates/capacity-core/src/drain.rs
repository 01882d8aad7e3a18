//! The drain's domain types: what the lifecycle drainer observes and how a lifecycle action
//! ends. Pure values; the I/O that produces them lives in `capacity-aws::drain`.
