//! The `onair` binary: command-line parsing and dispatch to the library's subsystems.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};

/// Playout control for CasparCG: daemon, operator console, simulator and health check in one binary.
#[derive(Debug, Parser)]
#[command(name = "onair", version, about, long_about = None, propagate_version = true)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the playout daemon: AMCP link to CasparCG, playlists, WebSocket and HTTP surfaces.
    Serve(ServeArgs),
    /// Open the operator console, attached to a running daemon over WebSocket.
    Tui(TuiArgs),
    /// Start a simulator, a daemon and the console in one process: see onair work without CasparCG.
    Demo(DemoArgs),
    /// Run the CasparCG simulator (AMCP on TCP, OSC on UDP) with fault injection.
    Sim(SimArgs),
    /// Check a daemon's health for scripts: exit 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN.
    Health(HealthArgs),
}

#[derive(Debug, Args)]
struct ServeArgs {
    /// TOML configuration file (keys documented in docs/configuration.md).
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// CasparCG AMCP address; overrides `caspar.address` and ONAIR_CASPAR_ADDRESS.
    #[arg(long, value_name = "HOST:PORT")]
    caspar: Option<String>,
    /// HTTP + WebSocket listen address; overrides `server.listen` and ONAIR_SERVER_LISTEN.
    #[arg(long, value_name = "ADDR")]
    listen: Option<String>,
    /// Data directory (playlists, as-run log); overrides `store.data_dir` and ONAIR_STORE_DATA_DIR.
    #[arg(long, value_name = "DIR")]
    data: Option<PathBuf>,
    /// Print the effective configuration as TOML and exit.
    #[arg(long)]
    print_config: bool,
}

#[derive(Debug, Args)]
struct TuiArgs {
    /// WebSocket URL of the daemon.
    #[arg(long, default_value = "ws://127.0.0.1:8250/ws")]
    url: String,
    /// Operator or viewer token, if the daemon requires one.
    #[arg(long, env = "ONAIR_TOKEN", hide_env_values = true)]
    token: Option<String>,
}

#[derive(Debug, Args)]
struct DemoArgs {
    /// Data directory for the demo's playlists (a temporary directory when omitted).
    #[arg(long, value_name = "DIR")]
    data: Option<PathBuf>,
}

#[derive(Debug, Args)]
struct SimArgs {
    /// AMCP listen address.
    #[arg(long, default_value = "127.0.0.1:5250")]
    listen: String,
    /// Number of channels.
    #[arg(long, default_value_t = 1)]
    channels: u16,
    /// Server dialect to emulate: 2.3, 2.4 or 2.5.
    #[arg(long, default_value = "2.4")]
    server_version: String,
    /// Generate a virtual media library of N clips.
    #[arg(long, conflicts_with = "media")]
    clips: Option<usize>,
    /// List real media files from this folder.
    #[arg(long, value_name = "DIR")]
    media: Option<PathBuf>,
    /// UDP port that AMCP clients receive OSC on.
    #[arg(long, default_value_t = 6250)]
    osc_port: u16,
}

#[derive(Debug, Args)]
struct HealthArgs {
    /// Base URL of the daemon's HTTP server.
    #[arg(long, default_value = "http://127.0.0.1:8250")]
    url: String,
    /// Give up after this long (e.g. 5s, 500ms).
    #[arg(long, default_value = "5s")]
    timeout: String,
    /// Print the full health document as JSON.
    #[arg(long)]
    json: bool,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Serve(args) => serve(args),
        Command::Tui(_) => not_yet("tui"),
        Command::Demo(_) => not_yet("demo"),
        Command::Sim(_) => not_yet("sim"),
        Command::Health(_) => not_yet("health"),
    }
}

fn serve(args: ServeArgs) -> ExitCode {
    let _ = args;
    not_yet("serve")
}

fn not_yet(name: &str) -> ExitCode {
    eprintln!("onair {name}: not implemented yet (see the project's issues for progress)");
    ExitCode::from(2)
}
