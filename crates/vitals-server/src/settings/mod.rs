//! Server settings, written once: each field of [`Settings`] is a flag and an environment
//! variable (clap reads it) and a key of the optional `--config` TOML file (serde reads it),
//! with its help, type and default in one place (fields.rs). [`Settings::resolve`] merges
//! them as flag > environment > file > default ([`Args`] knows where each value came from;
//! sources.rs), then checks the result once ([`SettingsError`] names the flag; check.rs).

mod check;
mod fields;
mod sources;
#[cfg(test)]
mod tests;

pub use crate::telemetry::LogFormat;
pub use check::SettingsError;
pub use fields::Settings;
pub use sources::Args;
