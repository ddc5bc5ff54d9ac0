//! What the release ships besides the binary: manual pages and shell completions, generated from
//! the clap definitions (`massho man`, `massho completions`). Checked against the parser itself,
//! rendered by man(1), parsed by the shells that load them. Needs man-db, bash, zsh and fish
//! (packaging/install-deps.sh); no root, no device.

mod common;

use std::collections::BTreeSet;
use std::path::Path;
use std::process::{Command, Stdio};

use clap::CommandFactory as _;
use common::{assert_exit, massho, run};

/// Every command massho has, as its path from the top (`["cert", "verify"]`), the top first.
/// Hidden commands and clap's `help` get no page.
fn command_paths() -> Vec<(Vec<String>, clap::Command)> {
    fn walk(cmd: &clap::Command, path: Vec<String>, out: &mut Vec<(Vec<String>, clap::Command)>) {
        out.push((path.clone(), cmd.clone()));
        for sub in cmd.get_subcommands() {
            if sub.is_hide_set() || sub.get_name() == "help" {
                continue;
            }
            let mut p = path.clone();
            p.push(sub.get_name().to_owned());
            walk(sub, p, out);
        }
    }
    let mut out = Vec::new();
    walk(&massho::cli::args::Cli::command(), Vec::new(), &mut out);
    out
}

fn page_name(path: &[String]) -> String {
    let mut name = String::from("massho");
    for p in path {
        name.push('-');
        name.push_str(p);
    }
    format!("{name}.1")
}

/// `massho man --dir DIR` into a fresh directory.
fn pages() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temporary directory");
    let out = run(massho()
        .arg("man")
        .arg("--dir")
        .arg(dir.path().join("man1")));
    assert_exit(&out, 0);
    dir
}

/// The page's text with roff's escaped hyphens (`\-`) made plain.
fn page_text(dir: &Path, name: &str) -> String {
    let path = dir.join("man1").join(name);
    std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .replace("\\-", "-")
}

#[test]
fn every_subcommand_has_a_man_page() {
    let dir = pages();
    let want: BTreeSet<String> = command_paths().iter().map(|(p, _)| page_name(p)).collect();
    let got: BTreeSet<String> = std::fs::read_dir(dir.path().join("man1"))
        .expect("read the page directory")
        .map(|e| {
            e.expect("directory entry")
                .file_name()
                .to_string_lossy()
                .into_owned()
        })
        .collect();
    assert_eq!(got, want, "pages written vs. commands in the parser");
    // Spot checks of the naming, at each depth.
    for name in [
        "massho.1",
        "massho-wipe.1",
        "massho-cert-verify.1",
        "massho-media-register.1",
    ] {
        assert!(got.contains(name), "{name} missing");
    }
    for (path, _) in command_paths() {
        let name = page_name(&path);
        let text = page_text(dir.path(), &name);
        let title = name.trim_end_matches(".1");
        assert!(
            text.contains(&format!(".TH {title} 1")),
            "{name} has no title line for {title}"
        );
        assert!(
            text.contains(&format!("\"massho {}\"", env!("CARGO_PKG_VERSION"))),
            "{name} does not name the release"
        );
    }
}

#[test]
fn every_page_mentions_each_of_its_flags() {
    let dir = pages();
    let mut checked = 0;
    for (path, cmd) in command_paths() {
        let name = page_name(&path);
        let text = page_text(dir.path(), &name);
        for arg in cmd.get_arguments().filter(|a| !a.is_hide_set()) {
            if let Some(long) = arg.get_long() {
                assert!(text.contains(&format!("--{long}")), "{name} lacks --{long}");
                checked += 1;
            }
            if let Some(short) = arg.get_short() {
                assert!(text.contains(&format!("-{short}")), "{name} lacks -{short}");
            }
            if arg.is_positional() {
                let value = arg
                    .get_value_names()
                    .and_then(|v| v.first())
                    .map(|v| v.to_string())
                    .unwrap_or_else(|| arg.get_id().as_str().to_uppercase());
                assert!(text.contains(&value), "{name} lacks the argument {value}");
            }
        }
        // A page lists its subcommands by their own page names.
        for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set()) {
            let mut p = path.clone();
            p.push(sub.get_name().to_owned());
            let sub_title = page_name(&p);
            let sub_title = sub_title.trim_end_matches(".1");
            assert!(text.contains(sub_title), "{name} does not list {sub_title}");
        }
    }
    assert!(checked > 100, "only {checked} long flags checked");
    // The help text of a flag is there too, not only its name.
    let wipe = page_text(dir.path(), "massho-wipe.1");
    assert!(wipe.contains("Do not ask the operator to type each device"));
    assert!(
        wipe.contains("Exit codes:"),
        "the exit codes (after_help) are on the page"
    );
}

#[test]
fn man_prints_the_top_level_page() {
    let out = run(massho().arg("man"));
    assert_exit(&out, 0);
    let text = String::from_utf8_lossy(&out.stdout).replace("\\-", "-");
    assert!(text.contains(".TH massho 1"), "{text}");
    assert!(text.contains("massho-wipe(1)"), "{text}");
    assert!(text.contains("massho-man(1)"), "{text}");
}

#[test]
fn pages_render_without_warnings() {
    let dir = pages();
    for (path, _) in command_paths() {
        let page = dir.path().join("man1").join(page_name(&path));
        let out = run(Command::new("man")
            .args(["--warnings", "-l"])
            .arg(&page)
            .env("MANWIDTH", "80")
            .env("LC_ALL", "C.UTF-8")
            .env("MANPAGER", "cat")
            .env("PAGER", "cat"));
        assert!(
            out.status.success() && out.stderr.is_empty(),
            "man -l {}: {}",
            page.display(),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(!out.stdout.is_empty(), "{} renders empty", page.display());
    }
}

fn completion(shell: &str) -> (tempfile::TempDir, std::path::PathBuf) {
    let out = run(massho().args(["completions", shell]));
    assert_exit(&out, 0);
    assert!(!out.stdout.is_empty(), "empty {shell} completions");
    let dir = tempfile::tempdir().expect("temporary directory");
    let file = dir.path().join(format!("massho.{shell}"));
    std::fs::write(&file, &out.stdout).expect("write the completion script");
    (dir, file)
}

/// `shell ARGS... FILE` (a syntax check) must succeed quietly.
fn parses(shell: &str, args: &[&str]) {
    let (_dir, file) = completion(shell);
    let out = Command::new(shell)
        .args(args)
        .arg(&file)
        .output()
        .unwrap_or_else(|e| {
            panic!("cannot run {shell} (packaging/install-deps.sh installs it): {e}")
        });
    assert!(
        out.status.success() && out.stderr.is_empty(),
        "{shell} {args:?} rejects the completions: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn completions_parse() {
    parses("bash", &["-n"]);
    parses("zsh", &["-n"]);
    parses("fish", &["--no-execute"]);
}

/// What a shell offers after the words typed so far.
fn bash_offers(words: &[&str]) -> Vec<String> {
    let (_dir, file) = completion("bash");
    let script = format!(
        "source {file}; COMP_WORDS=({words}); COMP_CWORD={cword}; \
         _massho massho \"${{COMP_WORDS[COMP_CWORD]}}\" \"${{COMP_WORDS[COMP_CWORD-1]}}\"; \
         printf '%s\\n' \"${{COMPREPLY[@]}}\"",
        file = file.display(),
        words = words.join(" "),
        cword = words.len() - 1,
    );
    let out = run(Command::new("bash").arg("-c").arg(script));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_owned)
        .collect()
}

#[test]
fn bash_completes_subcommands_and_flags() {
    assert!(bash_offers(&["massho", "wi"]).contains(&"wipe".to_owned()));
    let flags = bash_offers(&["massho", "wipe", "--ce"]);
    assert!(flags.contains(&"--cert-dir".to_owned()), "{flags:?}");
    let shells = bash_offers(&["massho", "completions", "f"]);
    assert_eq!(shells, ["fish"]);
}

#[test]
fn fish_completes_subcommands() {
    let (_dir, file) = completion("fish");
    let out = run(Command::new("fish").arg("-c").arg(format!(
        "source {}; complete -C 'massho cert v'",
        file.display()
    )));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.lines().any(|l| l.starts_with("verify")), "{text}");
}

#[test]
fn unknown_shell_is_a_usage_error() {
    let out = run(massho().args(["completions", "tcsh"]));
    assert_exit(&out, 2);
}

#[test]
fn a_closed_pipe_is_not_a_crash() {
    // The reader goes away before massho writes (`massho completions zsh | head -0`).
    let mut child = massho()
        .args(["completions", "zsh"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn massho");
    drop(child.stdout.take());
    let out = child.wait_with_output().expect("wait for massho");
    assert_exit(&out, 0);
    assert!(
        out.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
