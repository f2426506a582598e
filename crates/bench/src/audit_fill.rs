//! Grows the loaded server's audit log to the size (1 GiB by default) with real requests, so the
//! restarts that follow start on a log that large: every request's line is written by the server itself,
//! through the keyed hash chain, exactly as in service. Bounded by a deadline.

use std::{
    path::Path,
    time::{Duration, Instant},
};

use anyhow::Result;
use serde::Serialize;

use crate::{instance::Instance, wrk};

/// What the fill took: the restarts' figures are only comparable between runs with the same log.
#[derive(Debug, Default, Clone, Serialize)]
pub struct AuditFill {
    pub requests: u64,
    pub seconds: f64,
    /// The log's size once the loaded server has stopped.
    pub log_mib: f64,
    /// Whether the deadline came before the log reached the size asked for.
    pub cut_short: bool,
}

/// Rounds of `load` (secret GETs) until `audit` holds `mib` MiB or `deadline` has passed.
pub async fn fill(
    server: &Instance,
    load: &wrk::Load<'_>,
    audit: &Path,
    mib: u64,
    deadline: Duration,
) -> Result<AuditFill> {
    let goal = mib * 1024 * 1024;
    let started = Instant::now();
    let mut fill = AuditFill::default();
    let mut bytes_per_s: Option<f64> = None;
    loop {
        let size = std::fs::metadata(audit)?.len();
        if size >= goal {
            break;
        }
        if started.elapsed() >= deadline {
            fill.cut_short = true;
            break;
        }
        // Long rounds (wrk's start and stop are not free), shortened as the goal nears.
        let seconds = match bytes_per_s {
            Some(rate) if rate > 0.0 => ((goal - size) as f64 / rate).ceil() as u64 + 1,
            _ => 20,
        };
        let round = wrk::Load {
            duration: Duration::from_secs(seconds.clamp(2, 20)),
            ..load.clone()
        };
        let figures = server.measure(&round).await?;
        anyhow::ensure!(figures.non_2xx == 0, "audit fill: {} requests failed", figures.non_2xx);
        fill.requests += figures.requests;
        let grown = std::fs::metadata(audit)?.len().saturating_sub(size);
        anyhow::ensure!(grown > 0, "audit fill: the log did not grow");
        bytes_per_s = Some(grown as f64 / figures.seconds.max(0.001));
        eprintln!("     audit log {} MiB of {mib}", (size + grown) / 1048576);
    }
    fill.seconds = started.elapsed().as_secs_f64();
    Ok(fill)
}
