//! Driving a full-screen program in a detached tmux session: each [`Tmux`] has its own server
//! (its own socket), which is killed on drop, so a failed test leaves no session behind.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

pub struct Tmux {
    socket: String,
}

impl Tmux {
    /// A `width`×`height` session running `script` (a shell script the test wrote). The pane
    /// stays after the program exits, so its last screen can be read.
    pub fn start(script: &Path, width: u16, height: u16) -> Tmux {
        static N: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let n = N.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let t = Tmux {
            socket: format!("massho-test-{}-{n}", std::process::id()),
        };
        t.ok(&[
            "new-session",
            "-d",
            "-x",
            &width.to_string(),
            "-y",
            &height.to_string(),
            "-s",
            "t",
            &format!("sh {}", script.display()),
        ]);
        t.ok(&["set-option", "-t", "t", "remain-on-exit", "on"]);
        t
    }

    fn cmd(&self, args: &[&str]) -> std::process::Output {
        Command::new("tmux")
            .arg("-L")
            .arg(&self.socket)
            .args(args)
            .output()
            .unwrap_or_else(|e| panic!("cannot run tmux (Debian package tmux): {e}"))
    }

    fn ok(&self, args: &[&str]) -> String {
        let out = self.cmd(args);
        assert!(
            out.status.success(),
            "tmux {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Keys by tmux name (`Enter`, `Down`, `C-c`, `Space`).
    pub fn keys(&self, keys: &[&str]) {
        let mut args = vec!["send-keys", "-t", "t"];
        args.extend_from_slice(keys);
        self.ok(&args);
    }

    /// Literal text, as typed (or as a barcode scanner types it).
    pub fn type_text(&self, text: &str) {
        self.ok(&["send-keys", "-t", "t", "-l", text]);
    }

    pub fn screen(&self) -> String {
        self.ok(&["capture-pane", "-p", "-t", "t"])
    }

    /// The screen and up to 200 lines scrolled off above it (what a program printed on exit),
    /// wrapped lines joined.
    pub fn scrollback(&self) -> String {
        self.ok(&["capture-pane", "-p", "-J", "-S", "-200", "-t", "t"])
    }

    pub fn resize(&self, width: u16, height: u16) {
        self.ok(&[
            "resize-window",
            "-t",
            "t",
            "-x",
            &width.to_string(),
            "-y",
            &height.to_string(),
        ]);
    }

    /// Wait until the screen shows `text`; panics with the screen after `timeout`.
    pub fn wait_for(&self, text: &str, timeout: Duration) -> String {
        let start = Instant::now();
        loop {
            let screen = self.screen();
            if screen.contains(text) {
                return screen;
            }
            assert!(
                start.elapsed() < timeout,
                "the screen did not show {text:?} within {timeout:?}:\n{screen}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Close the session as a dropped SSH connection does: the program gets SIGHUP.
    pub fn hang_up(&self) {
        let _ = self.cmd(&["kill-server"]);
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = self.cmd(&["kill-server"]);
    }
}
