//! AWS I/O for the ECS capacity functions.
//!
//! One small trait per capability, implemented on the SDK clients, with in-memory fakes for
//! tests. SDK types become `capacity-core` types here, with typed errors for missing fields.

pub mod drain;
