//! `ecs-capacity`: report on an ECS cluster's capacity in worst-case tasks, and simulate
//! its scaling loop before deploying it.
//!
//! All capacity figures come from `capacity-core`; this crate reads the inputs (AWS CLI
//! JSON dumps, a live cluster, scenario files), runs the simulation and renders the output.

pub mod chart;
pub mod cli;
pub mod dump;
pub mod duration;
pub mod live;
pub mod report;
pub mod scenario;
pub mod sim;
pub mod summary;
