//! Draining a container instance and completing its lifecycle action (lifecycle-drainer).
