//! `massho methods`: the built-in methods and their passes.

use serde::Serialize;

use super::args::MethodsArgs;
use super::Exit;
use crate::method::{self, MethodPass, PassTemplate};
use crate::pattern::Pattern;

#[derive(Serialize)]
struct MethodView {
    name: String,
    description: String,
    pass_count: usize,
    /// Firmware purge steps among the passes (0 for overwrite methods).
    firmware_steps: usize,
    passes: Vec<String>,
    default_verify: &'static str,
}

pub fn run(args: &MethodsArgs) -> anyhow::Result<Exit> {
    let views: Vec<MethodView> = method::BUILTIN
        .iter()
        .filter_map(|entry| method::builtin(entry.0))
        .map(|m| MethodView {
            pass_count: m.passes.iter().map(pass_count).sum(),
            firmware_steps: m
                .passes
                .iter()
                .filter(|p| matches!(p.template, PassTemplate::Firmware(_)))
                .count(),
            passes: m.passes.iter().map(describe).collect(),
            default_verify: m.default_verify.name(),
            name: m.name,
            description: m.description,
        })
        .collect();
    if args.json {
        outln!("{}", serde_json::to_string_pretty(&views)?);
        return Ok(Exit::Passed);
    }
    for v in &views {
        outln!(
            "{:<18} {:>2} pass(es), verify {:<5} {}",
            v.name,
            v.pass_count,
            v.default_verify,
            v.description
        );
        outln!("{:<18} {}", "", v.passes.join(" → "));
    }
    outln!("\nCustom methods: --method FILE.toml (see docs/methods.md).");
    Ok(Exit::Passed)
}

fn pass_count(pass: &MethodPass) -> usize {
    match pass.template {
        PassTemplate::GutmannShuffled => 27,
        _ => 1,
    }
}

fn describe(pass: &MethodPass) -> String {
    let what = match &pass.template {
        PassTemplate::Fixed(bytes) => Pattern::Fixed(bytes.clone()).to_string(),
        PassTemplate::Random => "random".to_owned(),
        PassTemplate::Complement => "complement".to_owned(),
        PassTemplate::GutmannShuffled => "27 Gutmann patterns (shuffled per run)".to_owned(),
        PassTemplate::Firmware(r) => format!("firmware {}", r.name()),
    };
    if pass.verify {
        format!("{what} (verified)")
    } else {
        what
    }
}
