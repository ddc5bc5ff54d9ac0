use clap::Parser;

fn main() {
    let cli = massho::cli::args::Cli::parse();
    std::process::exit(massho::cli::dispatch(cli));
}
