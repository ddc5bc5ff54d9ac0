//! The built-in methods, as published and as peers (nwipe, Blancco) implement them.

use rand_chacha::rand_core::{RngCore, SeedableRng};

use super::{Method, MethodPass, PassTemplate, Requested, VerifyMode};
use crate::pattern::Seed;

/// Name, description, passes (as a compact string: `00`, `ff`, `R` random, `C` complement,
/// `G` Gutmann's shuffled fixed patterns, `92.49.24` multi-byte, `P` firmware purge with the
/// drive's strongest technique, `@name` one firmware technique), default verification, and the
/// indexes of passes the method itself requires to be verified.
type Entry = (
    &'static str,
    &'static str,
    &'static str,
    VerifyMode,
    &'static [usize],
);

pub const BUILTIN: &[Entry] = &[
    (
        "nist-clear",
        "NIST SP 800-88 Clear: one pass of zeros, fully verified (Rev.2: one pass suffices; zeros let an auditor re-verify with any tool)",
        "00",
        VerifyMode::Last,
        &[],
    ),
    ("zero", "One pass of 0x00", "00", VerifyMode::Last, &[]),
    ("one", "One pass of 0xFF", "ff", VerifyMode::Last, &[]),
    ("random", "One pass of a cryptographic pseudorandom stream", "R", VerifyMode::Last, &[]),
    (
        "dod-3",
        "DoD 5220.22-M short: 0x00, its complement, random",
        "00 C R",
        VerifyMode::Last,
        &[],
    ),
    (
        "dod-7",
        "DoD 5220.22-M ECE: 0x00, complement, random, 0x96, 0x00, complement, random",
        "00 C R 96 00 C R",
        VerifyMode::Last,
        &[],
    ),
    (
        "gutmann",
        "Gutmann (35 passes): 4 random, Gutmann's 27 fixed patterns in shuffled order, 4 random",
        "R R R R G R R R R",
        VerifyMode::Last,
        &[],
    ),
    (
        "ops2",
        "RCMP TSSIT OPS-II: alternating 0x00 and 0xFF six times, then random left on the medium",
        "00 ff 00 ff 00 ff R",
        VerifyMode::Last,
        &[],
    ),
    (
        "hmg-is5-enhanced",
        "HMG IS5 Enhanced: 0x00, 0xFF, random; the random pass is always verified",
        "00 ff R",
        VerifyMode::Last,
        &[2],
    ),
    (
        "schneier",
        "Bruce Schneier's algorithm: 0xFF, 0x00, five random passes",
        "ff 00 R R R R R",
        VerifyMode::Last,
        &[],
    ),
    (
        "bsi-vsitr",
        "BSI VSITR (German): alternating 0x00 and 0xFF six times, then 0xAA",
        "00 ff 00 ff 00 ff aa",
        VerifyMode::Last,
        &[],
    ),
    (
        "purge",
        "NIST SP 800-88 Purge by the drive's own firmware: the strongest technique it reports (crypto erase, block erase, format, overwrite sanitize, security erase), then read back; refused on drives with none",
        "P",
        VerifyMode::Last,
        &[],
    ),
    (
        "purge-zero",
        "Purge, then one verified pass of zeros, so any tool can re-verify the medium (`cmp /dev/zero`)",
        "P 00",
        VerifyMode::Last,
        &[],
    ),
    (
        "purge-overwrite-purge",
        "IEEE 2883 style: purge, a random overwrite, purge again",
        "P R P",
        VerifyMode::Last,
        &[],
    ),
    ("nvme-sanitize-crypto", "NVMe Sanitize, crypto erase", "@nvme-sanitize-crypto", VerifyMode::Last, &[]),
    ("nvme-sanitize-block", "NVMe Sanitize, block erase", "@nvme-sanitize-block", VerifyMode::Last, &[]),
    ("nvme-sanitize-overwrite", "NVMe Sanitize, overwrite with zeros (one pass)", "@nvme-sanitize-overwrite", VerifyMode::Last, &[]),
    ("nvme-format-crypto", "NVMe Format NVM, SES=2 (cryptographic erase)", "@nvme-format-crypto", VerifyMode::Last, &[]),
    ("nvme-format-user-data", "NVMe Format NVM, SES=1 (user data erase)", "@nvme-format-user-data", VerifyMode::Last, &[]),
    ("ata-sanitize-crypto", "ATA SANITIZE, CRYPTO SCRAMBLE", "@ata-sanitize-crypto", VerifyMode::Last, &[]),
    ("ata-sanitize-block", "ATA SANITIZE, BLOCK ERASE", "@ata-sanitize-block", VerifyMode::Last, &[]),
    ("ata-sanitize-overwrite", "ATA SANITIZE, OVERWRITE with zeros (one pass)", "@ata-sanitize-overwrite", VerifyMode::Last, &[]),
    ("ata-secure-erase", "ATA SECURITY ERASE UNIT, normal (a temporary password is set and removed)", "@ata-secure-erase", VerifyMode::Last, &[]),
    ("ata-secure-erase-enhanced", "ATA SECURITY ERASE UNIT, enhanced (a temporary password is set and removed)", "@ata-secure-erase-enhanced", VerifyMode::Last, &[]),
    ("scsi-sanitize-crypto", "SCSI SANITIZE, CRYPTOGRAPHIC ERASE", "@scsi-sanitize-crypto", VerifyMode::Last, &[]),
    ("scsi-sanitize-block", "SCSI SANITIZE, BLOCK ERASE", "@scsi-sanitize-block", VerifyMode::Last, &[]),
    ("scsi-sanitize-overwrite", "SCSI SANITIZE, OVERWRITE with zeros (one pass)", "@scsi-sanitize-overwrite", VerifyMode::Last, &[]),
];

/// Gutmann's fixed patterns, passes 5 to 31 of his table.
const GUTMANN_FIXED: [&[u8]; 27] = [
    &[0x55],
    &[0xAA],
    &[0x92, 0x49, 0x24],
    &[0x49, 0x24, 0x92],
    &[0x24, 0x92, 0x49],
    &[0x00],
    &[0x11],
    &[0x22],
    &[0x33],
    &[0x44],
    &[0x55],
    &[0x66],
    &[0x77],
    &[0x88],
    &[0x99],
    &[0xAA],
    &[0xBB],
    &[0xCC],
    &[0xDD],
    &[0xEE],
    &[0xFF],
    &[0x92, 0x49, 0x24],
    &[0x49, 0x24, 0x92],
    &[0x24, 0x92, 0x49],
    &[0x6D, 0xB6, 0xDB],
    &[0xB6, 0xDB, 0x6D],
    &[0xDB, 0x6D, 0xB6],
];

/// Gutmann's 27 fixed patterns in an order drawn from the run's seed (Gutmann asks for a random
/// order so that an attacker cannot know which pattern lies where).
pub(super) fn gutmann_shuffled(seed: &Seed, round: u32) -> Vec<Vec<u8>> {
    let mut order: Vec<Vec<u8>> = GUTMANN_FIXED.iter().map(|p| p.to_vec()).collect();
    let mut rng = rand_chacha::ChaCha20Rng::from_seed(seed.derive("gutmann-order", round));
    for i in (1..order.len()).rev() {
        let j = (rng.next_u64() % (i as u64 + 1)) as usize;
        order.swap(i, j);
    }
    order
}

/// The built-in method called `name`.
pub fn builtin(name: &str) -> Option<Method> {
    let (name, description, passes, default_verify, required) =
        BUILTIN.iter().find(|e| e.0 == name)?;
    let passes = passes
        .split_whitespace()
        .enumerate()
        .map(|(i, token)| MethodPass {
            template: parse_token(token),
            verify: required.contains(&i),
        })
        .collect();
    Some(Method {
        name: (*name).to_owned(),
        description: (*description).to_owned(),
        passes,
        default_verify: *default_verify,
    })
}

fn parse_token(token: &str) -> PassTemplate {
    match token {
        "R" => PassTemplate::Random,
        "C" => PassTemplate::Complement,
        "G" => PassTemplate::GutmannShuffled,
        "P" => PassTemplate::Firmware(Requested::Purge),
        named if named.starts_with('@') => PassTemplate::Firmware(
            crate::purge::select::technique_named(&named[1..])
                .map_or(Requested::Purge, Requested::Technique),
        ),
        // The table above is static and covered by tests; a typo there fails them.
        hex => PassTemplate::Fixed(
            hex.split('.')
                .map(|h| u8::from_str_radix(h, 16).unwrap_or(0))
                .collect(),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_builtin_parses_to_known_bytes() {
        for entry in BUILTIN {
            let m = builtin(entry.0).unwrap();
            for token in entry.2.split_whitespace() {
                if let Some(name) = token.strip_prefix('@') {
                    assert!(
                        crate::purge::select::technique_named(name).is_some(),
                        "{}: {token}",
                        entry.0
                    );
                } else if !matches!(token, "R" | "C" | "G" | "P") {
                    for h in token.split('.') {
                        assert!(u8::from_str_radix(h, 16).is_ok(), "{}: {token}", entry.0);
                    }
                }
            }
            assert!(!m.passes.is_empty());
        }
    }

    #[test]
    fn gutmann_table_has_27_patterns() {
        let s = gutmann_shuffled(&Seed([0; 32]), 0);
        assert_eq!(s.len(), 27);
        let mut sorted = s.clone();
        sorted.sort();
        let mut table: Vec<Vec<u8>> = GUTMANN_FIXED.iter().map(|p| p.to_vec()).collect();
        table.sort();
        assert_eq!(sorted, table);
    }
}
