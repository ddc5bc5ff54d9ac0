//! TODO
use super::Exit;

pub fn run(_args: &super::args::DevicesArgs) -> anyhow::Result<Exit> {
    todo!()
}
