//! The massho live system: what the boot stick's `massho/live.toml` asks for, and how the
//! drives the live system may wipe are chosen.
//!
//! The stick itself is found and refused by the device layer
//! ([`crate::device::live_medium`], [`crate::device::safety`]); this module owns the
//! configuration and the selection of targets, and `cli/live.rs` composes them with the wipe
//! pipeline. See docs/live.md.

pub mod config;
pub mod targets;

pub use config::{ConfigError, KeyConfig, LiveConfig, Mode, Verify};

/// Where the live system mounts the stick's MASSHO partition.
pub const MEDIUM_MOUNT: &str = "/run/massho/medium";
/// The folder on the MASSHO partition that holds the configuration and every record.
pub const FOLDER: &str = "massho";
/// The configuration file, in [`FOLDER`].
pub const CONFIG_FILE: &str = "live.toml";
