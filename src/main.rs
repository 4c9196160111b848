//! The `onair` binary: command-line parsing and dispatch to the library's subsystems.
//!
//! Each subcommand is a thin shell around the library: `serve` ([`onair::daemon`]), `tui`
//! ([`onair::tui`]), `demo` ([`onair::demo`]), `sim` ([`onair::sim`]) and `health`
//! ([`onair::health`]). What lives here is flag parsing, the exit codes, and printing errors once
//! (with [`onair::report::chain`], so a cause is never repeated).

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};
use onair::config;

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
    /// Run the CasparCG simulator (AMCP on TCP, OSC on UDP), with faults from flags or a control port.
    Sim(SimArgs),
    /// Check a daemon's health for scripts: exit 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN.
    Health(HealthArgs),
    /// Child process of the store crash test: saves ever newer versions, prints `ack N` when durable.
    #[command(hide = true)]
    StoreTorture(StoreTortureArgs),
}

#[derive(Debug, Args)]
struct StoreTortureArgs {
    /// Data directory to write into.
    #[arg(long, value_name = "DIR")]
    dir: PathBuf,
}

#[derive(Debug, Args)]
struct ServeArgs {
    /// TOML configuration file (keys documented in docs/configuration.md); default: $ONAIR_CONFIG.
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
    /// Log format: `human` or `json`; overrides `log.format`.
    #[arg(long, value_name = "FORMAT", value_parser = ["human", "json"])]
    log_format: Option<String>,
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
    /// Run only the simulator and the daemon and print their URLs (for web clients and `onair tui`).
    #[arg(long)]
    headless: bool,
    /// Start a second simulator as the main's backup: every playout command goes to both
    /// (docs/operations.md, "Main and backup servers").
    #[arg(long)]
    backup: bool,
}

#[derive(Debug, Args)]
struct SimArgs {
    /// AMCP listen address.
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:5250")]
    listen: String,
    /// Number of channels.
    #[arg(long, default_value_t = 1)]
    channels: u16,
    /// Server dialect to emulate: 2.3, 2.4 or 2.5.
    #[arg(long, value_name = "VERSION", default_value = "2.4")]
    server_version: String,
    /// Generate a virtual media library of N clips.
    #[arg(long, value_name = "N", default_value_t = 20, conflicts_with = "media")]
    clips: usize,
    /// List real media files from this folder instead of the virtual library.
    #[arg(long, value_name = "DIR")]
    media: Option<PathBuf>,
    /// UDP port every AMCP client's IP receives OSC on, as on a real server (0 disables it;
    /// clients can still use OSC SUBSCRIBE on 2.4+).
    #[arg(long, value_name = "PORT", default_value_t = 6250)]
    osc_port: u16,
    /// Video format of every channel, or a comma-separated list with one per channel.
    #[arg(long, default_value = "1080i5000")]
    format: String,
    /// Clock speed factor: 1 is real time, 10 plays a 10 s clip in 1 s.
    #[arg(long, default_value_t = 1.0)]
    speed: f64,
    /// Log level (a tracing filter such as `debug` or `onair=debug`); RUST_LOG overrides it.
    #[arg(long, value_name = "FILTER", default_value = "info")]
    log_level: String,
    /// Fault from the start: read commands but answer nothing, not even PING (until `unstall` or
    /// `clear` on the control port).
    #[arg(long)]
    stall: bool,
    /// Fault from the start: delay every reply by this long (e.g. 200ms).
    #[arg(long, value_name = "DURATION", default_value = "0s", value_parser = config::duration::parse)]
    reply_delay: std::time::Duration,
    /// Fault from the start: processing time added to every command (e.g. 50ms).
    #[arg(long, value_name = "DURATION", default_value = "0s", value_parser = config::duration::parse)]
    command_delay: std::time::Duration,
    /// Loopback address of a line-based control port for faults while running (e.g.
    /// 127.0.0.1:5251): stall [DURATION], delay DURATION, drop, restart [DOWNTIME], garbage, clear,
    /// help … (docs/simulator.md).
    #[arg(long, value_name = "ADDR")]
    control: Option<String>,
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
    /// Operator or viewer token: with tokens configured, `/health` shows only the status and
    /// content-free reasons to callers without one.
    #[arg(long, env = "ONAIR_TOKEN", hide_env_values = true)]
    token: Option<String>,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Serve(args) => serve(args),
        Command::Tui(args) => onair::tui::main(args.url, args.token),
        Command::Demo(args) if args.headless => onair::demo::headless(args.data, args.backup),
        Command::Demo(args) => onair::demo::main(args.data, args.backup),
        Command::Sim(args) => sim(args),
        Command::Health(args) => health(args),
        Command::StoreTorture(args) => match onair::playout::store::torture::run(&args.dir) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("onair store-torture: {e}");
                ExitCode::from(1)
            }
        },
    }
}

/// The daemon, or `--print-config`: exit 0 after a clean shutdown, 2 for a configuration or
/// start-up problem, 1 if the async runtime cannot start.
fn serve(args: ServeArgs) -> ExitCode {
    let print = args.print_config;
    let log_format = args.log_format.clone();
    let config = match load_config(args) {
        Ok(config) => config,
        Err(e) => {
            eprintln!("onair serve: {e}");
            return ExitCode::from(2);
        }
    };
    if print {
        return print_config(&config);
    }
    if let Err(e) = onair::daemon::check_exposure(&config) {
        eprintln!("onair serve: {e}");
        return ExitCode::from(2);
    }
    let json = match log_format.as_deref() {
        Some(f) => f == "json",
        None => config.log.format == config::LogFormat::Json,
    };
    let format = if json {
        onair::telemetry::Format::Json
    } else {
        onair::telemetry::Format::Human
    };
    onair::telemetry::init(format, &config.log.level);
    let runtime = match onair::report::runtime("onair serve") {
        Ok(r) => r,
        Err(code) => return code,
    };
    let result = runtime.block_on(onair::daemon::run(config));
    // Dropping the runtime would wait for every blocking-pool thread, and one stuck in a write on a
    // hung file system never returns: the daemon's own shutdown is already over (bounded by its
    // grace period), so give such threads a moment and exit. The store writer logs what it was
    // writing when it is abandoned this way.
    runtime.shutdown_timeout(std::time::Duration::from_millis(100));
    onair::report::exit("onair serve", result, 2)
}

/// Defaults < file (`--config`, else `ONAIR_CONFIG`) < `ONAIR_*` environment < flags.
fn load_config(args: ServeArgs) -> Result<config::Config, config::ConfigError> {
    // An empty ONAIR_CONFIG means no file.
    let file = args.config.or_else(|| {
        std::env::var_os("ONAIR_CONFIG")
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
    });
    let overrides = config::Overrides {
        caspar: args.caspar,
        listen: args.listen,
        data: args.data,
    };
    let env = config::utf8_env(std::env::vars_os())?;
    config::load(file.as_deref(), env, &overrides)
}

fn print_config(config: &config::Config) -> ExitCode {
    // Not print!: it panics when stdout is a closed pipe (`| head`).
    match std::io::stdout()
        .lock()
        .write_all(config.to_toml().as_bytes())
    {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("onair serve: cannot write the configuration: {e}");
            ExitCode::from(2)
        }
    }
}

/// The CasparCG simulator, until SIGINT/SIGTERM.
fn sim(args: SimArgs) -> ExitCode {
    onair::telemetry::init(onair::telemetry::Format::Human, &args.log_level);
    let options = onair::sim::SimOptions {
        listen: args.listen,
        channels: args.channels,
        formats: args.format,
        server_version: args.server_version,
        clips: args.media.is_none().then_some(args.clips),
        media: args.media,
        osc_port: args.osc_port,
        speed: args.speed,
        faults: onair::sim::StartFaults {
            stall: args.stall,
            reply_delay: args.reply_delay,
            command_delay: args.command_delay,
        },
        control: args.control,
    };
    let plan = match onair::sim::config_from(&options) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("onair sim: {e}");
            return ExitCode::from(2);
        }
    };
    let runtime = match onair::report::runtime("onair sim") {
        Ok(r) => r,
        Err(code) => return code,
    };
    let result = runtime.block_on(onair::sim::run(plan, onair::shutdown::signal()));
    onair::report::exit("onair sim", result, 1)
}

/// `onair health`: Nagios-style check of a daemon; exit 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN.
fn health(args: HealthArgs) -> ExitCode {
    // Usage errors are UNKNOWN (3) by the plugin convention, not CRITICAL.
    let timeout = match config::duration::parse(&args.timeout) {
        Ok(t) => t,
        Err(e) => {
            println_or_ignore(&format!("ONAIR UNKNOWN - --timeout: {e}"));
            return ExitCode::from(3);
        }
    };
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            println_or_ignore(&format!(
                "ONAIR UNKNOWN - cannot start the async runtime: {e}"
            ));
            return ExitCode::from(3);
        }
    };
    let (code, output) = runtime.block_on(onair::health::check(
        &args.url,
        timeout,
        args.json,
        args.token.as_deref(),
    ));
    println_or_ignore(&output);
    ExitCode::from(code)
}

/// Not println!: it panics when stdout is a closed pipe, and the exit code matters more.
fn println_or_ignore(text: &str) {
    let mut out = std::io::stdout().lock();
    let _ = out
        .write_all(text.as_bytes())
        .and_then(|()| out.write_all(b"\n"));
}
