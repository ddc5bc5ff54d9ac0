//! `massho completions SHELL` and `massho man [--dir DIR]`: shell completions and manual pages
//! generated from the clap definitions in `args.rs` at run time, so they cannot drift from the
//! parser. packaging/release.sh installs their output in the .deb (docs/release.md).
//!
//! Both are rendered into memory first: the generators panic on a write error, and a closed
//! stdout (`massho man | head`) must not crash massho.

use std::io::{self, Write as _};
use std::path::Path;

use anyhow::Context as _;
use clap::CommandFactory as _;

use super::args::{Cli, CompletionsArgs, ManArgs};
use super::Exit;

/// The name the completions are registered for: the installed binary's.
const BIN_NAME: &str = "massho";

pub fn completions(args: &CompletionsArgs) -> anyhow::Result<Exit> {
    let mut script = Vec::new();
    clap_complete::generate(args.shell, &mut Cli::command(), BIN_NAME, &mut script);
    write_stdout(&script)?;
    Ok(Exit::Passed)
}

pub fn man(args: &ManArgs) -> anyhow::Result<Exit> {
    let pages = man_pages().context("cannot render the manual pages")?;
    let Some(dir) = &args.dir else {
        // The top-level page: what `man massho` shows.
        if let Some(page) = pages.first() {
            write_stdout(&page.roff)?;
        }
        return Ok(Exit::Passed);
    };
    std::fs::create_dir_all(dir)
        .with_context(|| format!("cannot create the directory {}", dir.display()))?;
    for page in &pages {
        write_page(dir, page)?;
    }
    errln!(
        "massho: wrote {} manual pages to {}",
        pages.len(),
        dir.display()
    );
    Ok(Exit::Passed)
}

/// One manual page: its file name (`massho-cert-verify.1`) and its roff source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ManPage {
    pub file_name: String,
    pub roff: Vec<u8>,
}

/// A page for massho and one for every subcommand at every depth (`massho-cert-verify.1`),
/// the top-level page first, then depth-first in the order `--help` lists them. Hidden
/// commands and clap's `help` subcommand get none.
pub fn man_pages() -> io::Result<Vec<ManPage>> {
    let mut cmd = Cli::command().disable_help_subcommand(true);
    // Building sets each subcommand's display name to its full path (`massho-cert-verify`).
    cmd.build();
    let mut pages = Vec::new();
    collect_pages(&cmd, &mut pages)?;
    Ok(pages)
}

fn collect_pages(cmd: &clap::Command, pages: &mut Vec<ManPage>) -> io::Result<()> {
    // Every page names the release in its footer, not only the top-level one (clap gives
    // subcommands no version of their own).
    let man = clap_mangen::Man::new(cmd.clone())
        .source(concat!("massho ", env!("CARGO_PKG_VERSION")))
        .manual("massho manual");
    let mut roff = Vec::new();
    man.render(&mut roff)?;
    pages.push(ManPage {
        file_name: man.get_filename(),
        roff,
    });
    for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set()) {
        collect_pages(sub, pages)?;
    }
    Ok(())
}

fn write_page(dir: &Path, page: &ManPage) -> anyhow::Result<()> {
    let path = dir.join(&page.file_name);
    std::fs::write(&path, &page.roff).with_context(|| format!("cannot write {}", path.display()))
}

/// Everything at once; a reader that went away (a closed pipe) is not an error of massho's.
fn write_stdout(bytes: &[u8]) -> anyhow::Result<()> {
    let mut out = io::stdout().lock();
    match out.write_all(bytes).and_then(|()| out.flush()) {
        Err(e) if e.kind() != io::ErrorKind::BrokenPipe => {
            Err(e).context("cannot write to standard output")
        }
        _ => Ok(()),
    }
}
