//! LOCAL STUB (not committed): replaced by branch `sign`.
#![allow(unused_variables, dead_code)]
use std::path::{Path, PathBuf};
pub struct PublicKey;
pub struct SecretKey;
pub struct Verified {
    pub key_id: String,
    pub trusted_comment: String,
}
#[derive(Debug, thiserror::Error)]
#[error("stub")]
pub struct SignError;
impl PublicKey {
    pub fn from_file(path: &Path) -> Result<PublicKey, SignError> {
        todo!()
    }
    pub fn parse(text: &str, origin: &str) -> Result<PublicKey, SignError> {
        todo!()
    }
    pub fn key_id(&self) -> String {
        todo!()
    }
    pub fn to_file_text(&self) -> String {
        todo!()
    }
}
impl SecretKey {
    pub fn from_file(
        path: &Path,
        passphrase: &dyn Fn() -> Result<String, SignError>,
    ) -> Result<SecretKey, SignError> {
        todo!()
    }
    pub fn public_key(&self) -> PublicKey {
        todo!()
    }
    pub fn sign(
        &self,
        data: &[u8],
        untrusted_comment: &str,
        trusted_comment: &str,
    ) -> Result<String, SignError> {
        todo!()
    }
}
pub fn verify(key: &PublicKey, data: &[u8], minisig: &str) -> Result<Verified, SignError> {
    todo!()
}
pub fn load_trusted_dir(dir: &Path) -> Result<Vec<PublicKey>, SignError> {
    todo!()
}
pub fn generate(
    dir: &Path,
    name: &str,
    passphrase: Option<&str>,
) -> Result<(PublicKey, PathBuf, PathBuf), SignError> {
    todo!()
}
pub fn default_key_dir() -> Option<PathBuf> {
    todo!()
}
pub fn passphrase_from_env_or_tty(prompt: &str) -> Result<String, SignError> {
    todo!()
}
pub fn signature_key_id(minisig: &str) -> Result<String, SignError> {
    todo!()
}
