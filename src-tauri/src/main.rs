//! Slipway: with a subcommand it is the CLI; without one it opens the desktop app.

mod cli;
mod commands;
mod gui;
mod tray;

fn main() -> std::process::ExitCode {
    let args = cli::parse();
    match args.command {
        Some(command) => cli::run(command, args.verbose),
        None => gui::run(),
    }
}
