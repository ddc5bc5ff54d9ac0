//! massho (抹消, "erasure"): sanitize storage media, prove it, keep the records.
//!
//! The flow is one-way (see `docs/architecture.md`):
//! `device` finds and inspects media and owns every raw I/O call; `method` turns a method name or
//! file into a [`method::WipePlan`]; `engine` runs a plan against a [`device::io::BlockTarget`],
//! pushing [`engine::WipeEvent`]s to an observer and returning a [`engine::WipeReport`]; `cli`
//! renders events and composes the per-device result.

pub mod atomic;
pub mod cert;
pub mod cli;
pub mod device;
pub mod engine;
pub mod expected;
pub mod input;
pub mod job;
pub mod ledger;
pub mod live;
pub mod method;
pub mod pattern;
pub mod pdf;
pub mod purge;
pub mod result;
pub mod sign;
pub mod station;
pub mod text;
pub mod timestamp;
pub mod x509;
