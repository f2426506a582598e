//! The load generator: `wrk` (HTTP/1.1 keep-alive, OpenSSL for HTTPS), installed from the Debian
//! packages when missing, driven with Lua scripts that print one JSON line at the end.

use std::{path::Path, time::Duration};

use anyhow::{Context, Result, bail};
use serde::{Deserialize, Serialize};
use tokio::process::Command;

const REPORT_LUA: &str = include_str!("../lua/report.lua");
const PUT_LUA: &str = include_str!("../lua/put.lua");
const POST_LUA: &str = include_str!("../lua/post.lua");

/// Writes the Lua scripts into `dir`: `get.lua` (the URL as given), `put.lua` (a new secret per request)
/// and `post.lua` (one fixed JSON body, for key operations).
pub fn write_scripts(dir: &Path) -> Result<()> {
    std::fs::write(dir.join("get.lua"), REPORT_LUA)?;
    std::fs::write(dir.join("put.lua"), format!("{PUT_LUA}\n{REPORT_LUA}"))?;
    std::fs::write(dir.join("post.lua"), format!("{POST_LUA}\n{REPORT_LUA}"))?;
    Ok(())
}

/// Installs `wrk` with apt-get when it is not on PATH (root only), and returns its version line.
pub fn ensure_installed() -> Result<String> {
    if std::process::Command::new("wrk").arg("-v").output().is_err() {
        eprintln!("keyhold-bench: wrk not found; installing it from the Debian packages");
        for args in [
            &["update"][..],
            &["install", "-y", "--no-install-recommends", "wrk"][..],
        ] {
            let status = std::process::Command::new("apt-get")
                .args(args)
                .env("DEBIAN_FRONTEND", "noninteractive")
                .status()
                .context("apt-get (install wrk by hand: apt-get install wrk)")?;
            if !status.success() {
                bail!("apt-get {} failed: install wrk by hand", args.join(" "));
            }
        }
    }
    // `wrk -v` prints its version and usage, and exits 1.
    let out = std::process::Command::new("wrk").arg("-v").output().context("wrk")?;
    let text = String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    Ok(text.lines().next().unwrap_or("wrk").trim().to_owned())
}

#[derive(Clone)]
pub struct Load<'a> {
    pub url: String,
    pub script: &'a Path,
    pub script_args: Vec<String>,
    pub headers: Vec<String>,
    pub threads: u32,
    pub connections: u32,
    pub duration: Duration,
}

/// One wrk run's figures.
#[derive(Debug, Clone, Serialize)]
pub struct Figures {
    pub connections: u32,
    /// Completed requests, whatever their status; `requests_per_s` counts only the 2xx/3xx ones.
    pub requests: u64,
    pub seconds: f64,
    pub requests_per_s: f64,
    pub p50_ms: f64,
    pub p90_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
    pub mean_ms: f64,
    /// Socket errors and timeouts.
    pub errors: u64,
    /// Responses other than 2xx/3xx.
    pub non_2xx: u64,
    /// CPU time (user + system) the server used during the run, per request: cost independent of how
    /// much of the two cores wrk and other processes took.
    pub server_cpu_us_per_request: Option<f64>,
}

#[derive(Deserialize)]
struct Raw {
    requests: u64,
    duration_us: u64,
    errors_connect: u64,
    errors_read: u64,
    errors_write: u64,
    errors_status: u64,
    errors_timeout: u64,
    p50_us: u64,
    p90_us: u64,
    p99_us: u64,
    max_us: u64,
    mean_us: f64,
}

/// Runs wrk once; it stops itself after `duration`, and is killed if it has not 30 s later.
pub async fn run(load: &Load<'_>) -> Result<Figures> {
    let mut cmd = Command::new("wrk");
    cmd.args(["-t", &load.threads.to_string(), "-c", &load.connections.to_string()])
        .args(["-d", &format!("{}s", load.duration.as_secs().max(1))])
        .args(["--timeout", "5s", "-s"])
        .arg(load.script);
    for h in &load.headers {
        cmd.args(["-H", h]);
    }
    cmd.arg(&load.url);
    if !load.script_args.is_empty() {
        cmd.arg("--").args(&load.script_args);
    }
    cmd.kill_on_drop(true);
    let out = tokio::time::timeout(load.duration + Duration::from_secs(30), cmd.output())
        .await
        .context("wrk overran its time bound")??;
    let stdout = String::from_utf8_lossy(&out.stdout);
    let line = stdout
        .lines()
        .find_map(|l| l.strip_prefix("KEYHOLD_BENCH "))
        .with_context(|| {
            format!(
                "no result line from wrk: {stdout}{}",
                String::from_utf8_lossy(&out.stderr)
            )
        })?;
    let raw: Raw = serde_json::from_str(line)?;
    let seconds = raw.duration_us as f64 / 1e6;
    let ms = |us: u64| us as f64 / 1000.0;
    Ok(Figures {
        connections: load.connections,
        requests: raw.requests,
        seconds,
        requests_per_s: if seconds > 0.0 {
            raw.requests.saturating_sub(raw.errors_status) as f64 / seconds
        } else {
            0.0
        },
        p50_ms: ms(raw.p50_us),
        p90_ms: ms(raw.p90_us),
        p99_ms: ms(raw.p99_us),
        max_ms: ms(raw.max_us),
        mean_ms: raw.mean_us / 1000.0,
        errors: raw.errors_connect + raw.errors_read + raw.errors_write + raw.errors_timeout,
        non_2xx: raw.errors_status,
        server_cpu_us_per_request: None,
    })
}
