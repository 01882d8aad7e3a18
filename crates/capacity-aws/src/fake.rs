//! The in-memory fakes of every capability, in one place for the programs' tests (built only
//! under `cfg(test)` or the `fake` feature). Each is defined beside its trait and its SDK
//! implementation; this module only gathers them.

pub use crate::attributes::FakeAttributes;
pub use crate::capacity_provider::FakeCapacityProviders;
pub use crate::cluster::FakeCluster;
pub use crate::drain::fake::FakeDrainWorld;
pub use crate::group::FakeGroup;
pub use crate::instance_types::FakeInstanceTypes;
pub use crate::metrics::FakeMetrics;
pub use crate::scale_in::FakeInstanceTasks;
