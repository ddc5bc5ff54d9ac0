//! TODO
use super::Exit;

pub fn run(_args: &super::args::DemoArgs) -> anyhow::Result<Exit> {
    todo!()
}
