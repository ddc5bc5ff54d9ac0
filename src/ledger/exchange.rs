//! CSV import and CSV / JSON-lines export (being written on branch `exchange`).

/// A capacity: bytes, or a number with a unit (500G, 2T, 32GiB, 500GB; decimal units are
/// powers of 1000, binary ones of 1024).
pub fn parse_capacity(s: &str) -> Option<u64> {
    let s = s.trim().replace([',', '_', ' '], "");
    let split = s
        .find(|c: char| !c.is_ascii_digit() && c != '.')
        .unwrap_or(s.len());
    let (num, unit) = s.split_at(split);
    let factor: u64 = match unit.to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kb" => 1000,
        "m" | "mb" => 1000u64.pow(2),
        "g" | "gb" => 1000u64.pow(3),
        "t" | "tb" => 1000u64.pow(4),
        "p" | "pb" => 1000u64.pow(5),
        "kib" => 1 << 10,
        "mib" => 1 << 20,
        "gib" => 1 << 30,
        "tib" => 1 << 40,
        "pib" => 1 << 50,
        _ => return None,
    };
    if let Ok(n) = num.parse::<u64>() {
        return n.checked_mul(factor);
    }
    let f: f64 = num.parse().ok()?;
    let v = f * factor as f64;
    (v.is_finite() && v >= 0.0 && v < u64::MAX as f64).then_some(v.round() as u64)
}
