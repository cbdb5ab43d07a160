//! What only the binary needs, beside its commands: the allocator it runs
//! on and the `realm serve` log on stderr. The library never logs to a
//! writer of its own (it emits `tracing` events) and never picks an
//! allocator; these are the program's choices.

pub mod allocator;
pub mod log_format;
pub mod logging;
