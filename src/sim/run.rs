//! `onair sim`: a simulator configured from the command line, running until SIGINT/SIGTERM.

use std::future::Future;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use tokio_util::sync::CancellationToken;

use super::clock::ClockMode;
use super::dialect::Dialect;
use super::format::VideoFormat;
use super::handle::{Sim, SimConfig};
use super::media::SimMedia;

/// What `onair sim` was asked for, before validation.
#[derive(Debug, Clone)]
pub struct SimOptions {
    pub listen: String,
    pub channels: u16,
    /// One format for every channel, or a comma-separated list with one per channel.
    pub formats: String,
    pub server_version: String,
    pub clips: Option<usize>,
    pub media: Option<PathBuf>,
    pub osc_port: u16,
    /// Clock speed factor; 1.0 is real time.
    pub speed: f64,
    /// Faults switched on from the start.
    pub faults: StartFaults,
    /// Loopback address of the control port ([`super::control`]), if wanted.
    pub control: Option<String>,
}

/// Faults that `onair sim` switches on before it accepts the first client.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StartFaults {
    /// Answer nothing (until `unstall` or `clear` on the control port).
    pub stall: bool,
    /// Delay every reply by this long.
    pub reply_delay: Duration,
    /// Processing time added to every command.
    pub command_delay: Duration,
}

/// A validated `onair sim` command line.
#[derive(Debug, Clone)]
pub struct SimPlan {
    pub config: SimConfig,
    pub faults: StartFaults,
    pub control: Option<SocketAddr>,
}

/// Turns command-line options into a [`SimPlan`], with a message naming the flag on error.
pub fn config_from(opts: &SimOptions) -> Result<SimPlan, String> {
    let listen: SocketAddr = opts.listen.parse().map_err(|_| {
        format!(
            "--listen: {:?} is not an address like 127.0.0.1:5250",
            opts.listen
        )
    })?;
    let dialect: Dialect = opts
        .server_version
        .parse()
        .map_err(|e| format!("--server-version: {e}"))?;
    if opts.channels == 0 || opts.channels > 64 {
        return Err(format!(
            "--channels: must be between 1 and 64, got {}",
            opts.channels
        ));
    }
    let names: Vec<&str> = opts.formats.split(',').map(str::trim).collect();
    let mut formats = Vec::with_capacity(usize::from(opts.channels));
    for i in 0..usize::from(opts.channels) {
        let name = names
            .get(i)
            .or(names.last())
            .copied()
            .unwrap_or("1080i5000");
        let format = VideoFormat::parse(name).ok_or_else(|| {
            format!("--format: unknown video format {name:?} (e.g. 1080i5000, 720p5000, PAL)")
        })?;
        formats.push(format);
    }
    let media = match (&opts.media, opts.clips) {
        (Some(dir), _) => SimMedia::from_dir(dir).map_err(|e| format!("--media: {e}"))?,
        (None, clips) => {
            let n = clips.unwrap_or(20);
            if n > 100_000 {
                return Err(format!("--clips: at most 100000, got {n}"));
            }
            SimMedia::virtual_library(n)
        }
    };
    if !(opts.speed.is_finite() && opts.speed > 0.0 && opts.speed <= 1000.0) {
        return Err(format!(
            "--speed: must be above 0 and at most 1000, got {}",
            opts.speed
        ));
    }
    let clock = if opts.speed == 1.0 {
        ClockMode::Realtime
    } else {
        ClockMode::Speed(opts.speed)
    };
    let control = match &opts.control {
        None => None,
        Some(text) => Some(control_addr(text)?),
    };
    Ok(SimPlan {
        config: SimConfig {
            listen,
            dialect,
            formats,
            media,
            osc_port: opts.osc_port,
            clock,
        },
        faults: opts.faults,
        control,
    })
}

/// The control port has no authentication: anyone who reaches it can take the "server" down.
fn control_addr(text: &str) -> Result<SocketAddr, String> {
    let addr: SocketAddr = text
        .parse()
        .map_err(|_| format!("--control: {text:?} is not an address like 127.0.0.1:5251"))?;
    if !addr.ip().is_loopback() {
        return Err(format!(
            "--control: {addr} is not a loopback address; the control port has no authentication, \
             so it listens on 127.0.0.1 or [::1] only"
        ));
    }
    Ok(addr)
}

/// Runs a simulator until `stop` resolves.
pub async fn run(plan: SimPlan, stop: impl Future<Output = ()>) -> anyhow::Result<()> {
    let clips = plan.config.media.entries.len();
    let mut stop = std::pin::pin!(stop);
    // The first poll installs the signal handlers: do it before announcing readiness, so a SIGINT
    // sent as soon as the banner appears stops the simulator cleanly instead of killing it.
    if futures_util::poll!(stop.as_mut()).is_ready() {
        return Ok(());
    }
    let control = match plan.control {
        Some(addr) => Some(
            tokio::net::TcpListener::bind(addr)
                .await
                .with_context(|| format!("cannot listen on {addr} (--control)"))?,
        ),
        None => None,
    };
    let sim = Sim::start(plan.config).await?;
    let faults = sim.faults();
    faults.set_stalled(plan.faults.stall);
    faults.set_reply_delay(plan.faults.reply_delay);
    faults.set_command_delay(plan.faults.command_delay);
    eprintln!(
        "onair sim: CasparCG simulator on {} ({clips} clips); Ctrl-C to stop",
        sim.addr()
    );
    let stop_control = CancellationToken::new();
    let control_task = match control {
        Some(listener) => {
            let addr = listener.local_addr().context("control port address")?;
            eprintln!("onair sim: control port on {addr} (one command per line; try `help`)");
            let task = super::control::serve(listener, sim.control(), stop_control.clone());
            Some(tokio::spawn(task))
        }
        None => None,
    };
    stop.await;
    eprintln!("onair sim: stopping");
    stop_control.cancel();
    if let Some(task) = control_task {
        let _ = task.await;
    }
    sim.shutdown().await;
    Ok(())
}
