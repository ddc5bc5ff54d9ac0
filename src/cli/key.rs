//! `massho key`: create the key pair that signs certificates, or show a public key.
//!
//! Key files are read once as regular files (a FIFO named as a key is refused, not waited on),
//! and file names are escaped before they reach the terminal.

use std::path::{Path, PathBuf};

use zeroize::Zeroizing;

use super::args::{KeyArgs, KeyCommand, KeyGenerateArgs, KeyShowArgs};
use super::{Exit, ExitError};
use crate::sign::{self, PublicKey, SecretKey, SignError};
use crate::text::path_safe;

pub fn run(args: &KeyArgs) -> anyhow::Result<Exit> {
    match &args.command {
        KeyCommand::Generate(a) => generate(a),
        KeyCommand::Show(a) => show(a),
    }
    .map_err(super::cert::terminal_safe_error)
}

/// Overwriting is a refusal, operator mistakes are usage errors, the rest is the environment.
fn exit_error(e: SignError) -> anyhow::Error {
    match e {
        SignError::KeyExists { .. } => ExitError::refused(e.to_string()),
        SignError::BadKeyName { .. }
        | SignError::EmptyPassphrase
        | SignError::NoTerminal { .. } => ExitError::usage(e.to_string()),
        SignError::Read { ref source, .. } if source.kind() == std::io::ErrorKind::NotFound => {
            ExitError::usage(e.to_string())
        }
        SignError::Input(ref i) if i.is_usage() => ExitError::usage(e.to_string()),
        other => other.into(),
    }
}

fn key_dir(out: Option<&Path>) -> anyhow::Result<PathBuf> {
    match out {
        Some(dir) => Ok(dir.to_path_buf()),
        None => sign::default_key_dir().ok_or_else(|| {
            ExitError::usage(
                "no home directory to find the default key directory in; pass --out DIR",
            )
        }),
    }
}

fn generate(args: &KeyGenerateArgs) -> anyhow::Result<Exit> {
    let dir = key_dir(args.out.as_deref())?;
    // Refuse before asking for a passphrase the operator would type for nothing.
    sign::check_can_generate(&dir, &args.name).map_err(exit_error)?;
    let passphrase = if args.no_passphrase {
        eprintln!(
            "massho: warning: the secret key will be stored UNENCRYPTED. Anyone who can read \
             the file can sign certificates in your name: keep it only on an unattended, \
             locked-down station."
        );
        None
    } else {
        let first = Zeroizing::new(
            sign::passphrase_from_env_or_tty("Passphrase for the new key: ").map_err(exit_error)?,
        );
        if first.is_empty() {
            return Err(exit_error(SignError::EmptyPassphrase));
        }
        let second = Zeroizing::new(
            sign::passphrase_from_env_or_tty("Same passphrase again: ").map_err(exit_error)?,
        );
        if first != second {
            return Err(ExitError::usage(
                "the two passphrases differ; nothing was written, run the command again",
            ));
        }
        eprintln!("Protecting the secret key with scrypt (1 GiB of memory, a few seconds)...");
        Some(first)
    };
    let (public, pub_path, key_path) =
        sign::generate(&dir, &args.name, passphrase.as_ref().map(|p| p.as_str()))
            .map_err(exit_error)?;
    outln!(
        "Public key:   {}  (give this file to auditors)",
        pub_path.display()
    );
    outln!("Secret key:   {}  (keep it secret)", key_path.display());
    outln!("Key id:       {}", public.key_id_grouped());
    outln!("Fingerprint:  {}", public.fingerprint());
    outln!(
        "Read the fingerprint to the auditor over a separate channel (phone, in person) so \
         they know the .pub file they received is yours."
    );
    Ok(Exit::Passed)
}

fn show(args: &KeyShowArgs) -> anyhow::Result<Exit> {
    let path = match &args.key {
        Some(p) => p.clone(),
        None => key_dir(None)?.join("massho.pub"),
    };
    if args.key.is_none() && !path.exists() {
        return Err(ExitError::usage(format!(
            "no public key at {}; create one with `massho key generate`, or pass --key PATH",
            path_safe(&path)
        )));
    }
    let (public, note) = if path.extension().is_some_and(|e| e == "key") {
        let beside = path.with_extension("pub");
        if beside.exists() {
            let public = PublicKey::from_file(&beside).map_err(exit_error)?;
            (
                public,
                Some(format!(
                    "(from {}, beside the secret key)",
                    path_safe(&beside)
                )),
            )
        } else {
            // minisign keeps the public key inside the encrypted part of the secret key, so an
            // encrypted key needs its passphrase here.
            let prompt = format!("Passphrase for {}: ", path_safe(&path));
            let secret = SecretKey::from_file(&path, &|| sign::passphrase_from_env_or_tty(&prompt))
                .map_err(exit_error)?;
            (
                secret.public_key(),
                Some(format!("(derived from {})", path_safe(&path))),
            )
        }
    } else {
        (PublicKey::from_file(&path).map_err(exit_error)?, None)
    };
    outln!("{}", public.to_file_text().trim_end());
    outln!();
    if let Some(note) = note {
        outln!("{note}");
    }
    outln!("Key id:       {}", public.key_id_grouped());
    outln!("Fingerprint:  {}", public.fingerprint());
    Ok(Exit::Passed)
}
