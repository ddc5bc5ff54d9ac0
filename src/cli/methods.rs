//! TODO
use super::Exit;

pub fn run(_args: &super::args::MethodsArgs) -> anyhow::Result<Exit> {
    todo!()
}
