//! placeholder crate root during bootstrap
