//! TODO
use super::Exit;

pub fn run(_args: &super::args::VerifyArgs) -> anyhow::Result<Exit> {
    todo!()
}
