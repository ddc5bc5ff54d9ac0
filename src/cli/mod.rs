//! The command-line front end: one module per subcommand, each a short composition of library
//! calls, plus the renderers that turn engine events into bars, plain lines or NDJSON.

/// `println!` that never panics: a closed stdout (output piped into `head`) must not crash
/// massho, least of all in the middle of a wipe.
macro_rules! outln {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stdout().lock(), $($arg)*);
    }};
}

/// `eprintln!` that never panics: a terminal that went away (an SSH session dropped, SIGHUP)
/// must not crash massho while it records a wipe.
macro_rules! errln {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stderr().lock(), $($arg)*);
    }};
}

pub mod args;
pub mod cert;
pub mod certify;
pub mod console;
pub mod demo;
pub mod devices;
pub mod generate;
pub mod journal;
pub mod key;
pub mod ledger;
pub mod live;
pub mod methods;
pub mod render;
pub mod signed_pdf;
pub mod station;
pub mod table;
pub mod unfreeze;
pub mod unlock;
pub mod verify;
pub mod wipe;

use args::{Cli, Command};

/// Process exit codes, documented in `--help` and the README.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Exit {
    Passed = 0,
    Failed = 1,
    Usage = 2,
    Refused = 3,
    Aborted = 4,
    Internal = 5,
    Unverified = 6,
}

/// An error that decides its own exit code; any other error exits with [`Exit::Internal`].
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct ExitError {
    pub exit: Exit,
    pub message: String,
}

impl ExitError {
    pub fn usage(message: impl Into<String>) -> anyhow::Error {
        ExitError {
            exit: Exit::Usage,
            message: message.into(),
        }
        .into()
    }

    /// A device that cannot be opened; [`exit_of`] decides what that means (busy: refused,
    /// empty: usage, anything else: environment).
    pub fn from_open(e: crate::device::io::IoError) -> anyhow::Error {
        e.into()
    }

    pub fn refused(message: impl Into<String>) -> anyhow::Error {
        ExitError {
            exit: Exit::Refused,
            message: message.into(),
        }
        .into()
    }
}

/// Run one command and turn its outcome into an exit code, printing any error to stderr.
pub fn dispatch(cli: Cli) -> i32 {
    let outcome = match cli.command {
        None => console::run_default(),
        Some(command) => run_command(command),
    };
    match outcome {
        Ok(exit) => exit as i32,
        Err(err) => {
            errln!("massho: error: {err:#}");
            exit_of(&err) as i32
        }
    }
}

fn run_command(command: Command) -> anyhow::Result<Exit> {
    match command {
        Command::Console(a) => console::run(&a),
        Command::Devices(a) => devices::run(&a),
        Command::Wipe(a) => wipe::run(&a),
        Command::Verify(a) => verify::run(&a),
        Command::Methods(a) => methods::run(&a),
        Command::Journal(a) => journal::run(&a),
        Command::Unlock(a) => unlock::run(&a),
        Command::Unfreeze(a) => unfreeze::run(&a),
        Command::Station(a) => station::run(&a),
        Command::Demo(a) => demo::run(&a),
        Command::Cert(c) => cert::run(&c),
        Command::Key(a) => key::run(&a),
        Command::Ledger(c) => ledger::run(&c),
        Command::Media(c) => ledger::media(&c),
        Command::Cabinet(c) => ledger::cabinet(&c),
        Command::Evidence(c) => ledger::evidence(&c),
        Command::Report(c) => ledger::report(&c),
        Command::Completions(a) => generate::completions(&a),
        Command::Man(a) => generate::man(&a),
        Command::Live(c) => live::run(&c),
    }
}

/// A device that cannot be opened: busy is a refusal, an empty one a usage error; anything
/// else (permission, I/O) says nothing by itself.
fn exit_of_io(e: &crate::device::io::IoError) -> Option<Exit> {
    use crate::device::io::IoError;
    match e {
        IoError::Busy { .. } => Some(Exit::Refused),
        IoError::Empty { .. } => Some(Exit::Usage),
        _ => None,
    }
}

/// What a device's wipe that could not start means: busy or changed media are refused,
/// an empty one is a usage error; `None` when the error itself does not say.
pub fn exit_of_job(e: &crate::job::JobError) -> Option<Exit> {
    use crate::job::JobError;
    match e {
        JobError::Open(io) => exit_of_io(io),
        JobError::Changed { .. }
        | JobError::Identity { .. }
        | JobError::NotConfirmed(_)
        | JobError::Journal(_) => Some(Exit::Refused),
    }
}

/// The one place an error becomes an exit code: the first error in the chain that knows what
/// it means decides; anything else is an environment or internal error (5).
pub fn exit_of(err: &anyhow::Error) -> Exit {
    use crate::device::io::IoError;
    use crate::device::DeviceError;
    use crate::job::JobError;
    for cause in err.chain() {
        let exit = if let Some(e) = cause.downcast_ref::<ExitError>() {
            Some(e.exit)
        } else if let Some(e) = cause.downcast_ref::<crate::input::InputError>() {
            Some(if e.is_usage() {
                Exit::Usage
            } else {
                Exit::Internal
            })
        } else if let Some(e) = cause.downcast_ref::<JobError>() {
            exit_of_job(e)
        } else if let Some(e) = cause.downcast_ref::<IoError>() {
            exit_of_io(e)
        } else if let Some(e) = cause.downcast_ref::<DeviceError>() {
            match e {
                DeviceError::NotFound { .. } | DeviceError::NotADevice { .. } => Some(Exit::Usage),
                _ => None,
            }
        } else {
            None
        };
        if let Some(exit) = exit {
            return exit;
        }
    }
    Exit::Internal
}
