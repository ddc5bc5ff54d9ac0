//! TODO
use super::Exit;

pub fn run(_args: &super::args::WipeArgs) -> anyhow::Result<Exit> {
    todo!()
}
