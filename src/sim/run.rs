//! `onair sim`: a simulator configured from the command line, running until SIGINT/SIGTERM.

use std::future::Future;
use std::net::SocketAddr;
use std::path::PathBuf;

use super::clock::ClockMode;
use super::dialect::Dialect;
use super::format::VideoFormat;
use super::handle::{Sim, SimConfig};
use super::media::MediaLibrary;

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
}

/// Turns command-line options into a [`SimConfig`], with a message naming the flag on error.
pub fn config_from(opts: &SimOptions) -> Result<SimConfig, String> {
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
        (Some(dir), _) => MediaLibrary::from_dir(dir).map_err(|e| format!("--media: {e}"))?,
        (None, clips) => {
            let n = clips.unwrap_or(20);
            if n > 100_000 {
                return Err(format!("--clips: at most 100000, got {n}"));
            }
            MediaLibrary::virtual_library(n)
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
    Ok(SimConfig {
        listen,
        dialect,
        formats,
        media,
        osc_port: opts.osc_port,
        clock,
    })
}

/// Runs a simulator until `stop` resolves.
pub async fn run(config: SimConfig, stop: impl Future<Output = ()>) -> std::io::Result<()> {
    let clips = config.media.entries.len();
    let mut stop = std::pin::pin!(stop);
    // The first poll installs the signal handlers: do it before announcing readiness, so a SIGINT
    // sent as soon as the banner appears stops the simulator cleanly instead of killing it.
    if futures_util::poll!(stop.as_mut()).is_ready() {
        return Ok(());
    }
    let sim = Sim::start(config).await?;
    eprintln!(
        "onair sim: CasparCG simulator on {} ({clips} clips); Ctrl-C to stop",
        sim.addr()
    );
    stop.await;
    eprintln!("onair sim: stopping");
    sim.shutdown().await;
    Ok(())
}
