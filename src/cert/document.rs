//! The certificate document: what was done to which medium, by whom, with which tool, with what
//! result. It is the wipe's [`WipeResult`] wrapped with who, why and where the medium goes next.
//!
//! The JSON Schema in `certs/certificate.schema.json` is generated from these types (a test keeps
//! it current), and parsing is strict: an unknown field is an error, not ignored.

use std::sync::OnceLock;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::device::Signature;
use crate::engine::Status;
use crate::result::WipeResult;

/// Identifies the certificate format; bumped on incompatible changes.
pub const CERT_SCHEMA: &str = "massho.certificate.v1";

/// A certificate of sanitization for one medium.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Certificate {
    /// Always `massho.certificate.v1`.
    pub schema: String,
    /// A random UUID (v4); also the file name.
    pub certificate_id: String,
    /// When the certificate was issued, UTC, RFC 3339.
    pub issued_at: String,
    /// The same instant in the issuing host's local time.
    pub issued_at_local: String,
    /// The wipe's outcome, repeated here for readers: `passed` only when every pass completed,
    /// was flushed, and verified without a single differing byte.
    pub status: Status,
    /// Organization on whose behalf the medium was sanitized.
    pub organization: Option<String>,
    /// Person who performed the sanitization.
    pub operator: String,
    /// Person who witnessed or validated it (NIST SP 800-88 "validation").
    pub witness: Option<String>,
    /// The organization's asset tag / property number of the medium.
    pub asset_tag: Option<String>,
    /// What happens to the medium next.
    pub disposition: Disposition,
    /// Partition tables and filesystems libblkid finds on the medium after the wipe (the ones
    /// found before are in `wipe.media.signatures`). `None` when the medium could not be probed.
    pub signatures_after: Option<Vec<Signature>>,
    /// Everything the wipe did and found, as `massho wipe --json` reports it.
    pub wipe: WipeResult,
    /// The program that did it.
    pub tool: ToolBuild,
}

/// Where the medium goes after sanitization.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "purpose", rename_all = "kebab-case", deny_unknown_fields)]
pub enum Disposition {
    /// Disposed of (scrapped, recycled, destroyed by a contractor).
    Disposal,
    /// Returned to the lessor at the end of a lease.
    LeaseReturn { lessor: String, contract: String },
    /// Reused inside the organization.
    Reuse,
}

impl Disposition {
    pub fn name(&self) -> &'static str {
        match self {
            Disposition::Disposal => "disposal",
            Disposition::LeaseReturn { .. } => "lease-return",
            Disposition::Reuse => "reuse",
        }
    }
}

/// Name, version, source commit and the SHA-256 of the very binary that ran.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ToolBuild {
    pub name: String,
    pub version: String,
    /// `git rev-parse HEAD` at build time (`-dirty` when the tree had changes), or `unknown`.
    pub git_commit: String,
    /// SHA-256 of the running executable (`/proc/self/exe`), hex.
    pub binary_sha256: String,
}

impl ToolBuild {
    /// This program.
    pub fn current() -> ToolBuild {
        ToolBuild {
            name: env!("CARGO_PKG_NAME").into(),
            version: env!("CARGO_PKG_VERSION").into(),
            git_commit: env!("MASSHO_GIT_COMMIT").into(),
            binary_sha256: binary_sha256().to_owned(),
        }
    }
}

/// SHA-256 of the running executable, computed once per process.
fn binary_sha256() -> &'static str {
    static HASH: OnceLock<String> = OnceLock::new();
    HASH.get_or_init(|| match std::fs::read("/proc/self/exe") {
        Ok(bytes) => hex::encode(Sha256::digest(&bytes)),
        Err(e) => format!("unavailable: {e}"),
    })
}

/// Who issues a certificate and why: the operator's part of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IssueContext {
    pub organization: Option<String>,
    pub operator: String,
    pub witness: Option<String>,
    pub asset_tag: Option<String>,
    pub disposition: Disposition,
}

impl Certificate {
    /// A new certificate (fresh id, issued now) for `wipe`.
    pub fn new(
        wipe: WipeResult,
        ctx: &IssueContext,
        signatures_after: Option<Vec<Signature>>,
        local_offset: time::UtcOffset,
    ) -> Certificate {
        let now = time::OffsetDateTime::now_utc();
        let fmt = |t: time::OffsetDateTime| {
            t.format(&time::format_description::well_known::Rfc3339)
                .unwrap_or_default()
        };
        Certificate {
            schema: CERT_SCHEMA.into(),
            certificate_id: uuid::Uuid::new_v4().to_string(),
            issued_at: fmt(now),
            issued_at_local: fmt(now.to_offset(local_offset)),
            status: wipe.status,
            organization: ctx.organization.clone(),
            operator: ctx.operator.clone(),
            witness: ctx.witness.clone(),
            asset_tag: ctx.asset_tag.clone(),
            disposition: ctx.disposition.clone(),
            signatures_after,
            wipe,
            tool: ToolBuild::current(),
        }
    }

    /// The signed text that `minisign -V` prints: id, serial, status and time, so that its
    /// output alone tells an auditor what was verified.
    pub fn trusted_comment(&self) -> String {
        let serial: String = self
            .wipe
            .serial
            .as_deref()
            .unwrap_or("none")
            .chars()
            .map(|c| {
                if c.is_whitespace() || c.is_control() {
                    '_'
                } else {
                    c
                }
            })
            .collect();
        format!(
            "massho certificate {} serial={} status={} issued={}",
            self.certificate_id,
            serial,
            self.status.name(),
            self.issued_at
        )
    }

    /// The JSON Schema of this document.
    pub fn json_schema() -> serde_json::Value {
        serde_json::to_value(schemars::schema_for!(Certificate)).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// certs/certificate.schema.json is what the types say; regenerate it on purpose with
    /// `MASSHO_UPDATE_SNAPSHOTS=1 cargo test --lib cert`.
    #[test]
    fn published_schema_matches_the_types() {
        let path =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("certs/certificate.schema.json");
        let mut generated = serde_json::to_string_pretty(&Certificate::json_schema()).unwrap();
        generated.push('\n');
        // Never under CI: a stale schema must fail there, not be rewritten.
        if std::env::var_os("MASSHO_UPDATE_SNAPSHOTS").is_some() && std::env::var_os("CI").is_none()
        {
            std::fs::write(&path, &generated).unwrap();
        }
        let published = std::fs::read_to_string(&path).unwrap();
        assert_eq!(
            published, generated,
            "certs/certificate.schema.json is stale"
        );
    }

    #[test]
    fn schema_describes_the_certificate() {
        let schema = Certificate::json_schema();
        assert_eq!(schema["title"], "Certificate");
        assert!(schema["required"].as_array().unwrap().len() > 5);
    }
}
