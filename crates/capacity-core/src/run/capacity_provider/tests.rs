//! Capacity-provider mode's changes, through the one decision.
