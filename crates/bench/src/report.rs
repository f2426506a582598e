//! The figures: the machine they were taken on, one [`BackendResults`] per backend, the targets next to
//! them (reported, never asserted), as a table and as `results.json`.

use std::fmt::Write as _;

use anyhow::Result;
use serde::Serialize;

use crate::{audit_fill::AuditFill, pair::Pair, wrk::Figures};

/// How one row of the table reads its figure from a backend's results.
type Cell = Box<dyn Fn(&BackendResults) -> Option<String>>;

#[derive(Serialize)]
pub struct Results {
    pub started: String,
    pub finished: String,
    pub machine: Machine,
    pub wrk: String,
    pub seconds_per_wrk_run: u64,
    pub backends: Vec<BackendResults>,
    pub targets: Vec<Check>,
}

#[derive(Serialize)]
pub struct Machine {
    pub nproc: usize,
    pub cpu: String,
    pub mem_total_mib: u64,
    pub kernel: String,
    /// `/proc/loadavg` before and after the run: other work on the machine skews the figures.
    pub loadavg_start: String,
    pub loadavg_end: String,
}

#[derive(Serialize, Default)]
pub struct BackendResults {
    pub backend: String,
    pub cold_start_empty_ms: Vec<f64>,
    pub rss_idle_empty_mib: Vec<f64>,
    pub hello: Option<Figures>,
    pub hello_rss_mib: Option<f64>,
    pub get: Option<Figures>,
    pub imds: Option<Figures>,
    /// p50 / p99 of one 4 KiB append + `fdatasync` in the bench directory, just before the SET runs.
    pub fdatasync_ms: Option<(f64, f64)>,
    pub set_c1: Option<Figures>,
    pub set_c16: Option<Figures>,
    /// Secrets PUT through the API (32 concurrent HTTPS/1.1 clients) to top the database up.
    pub load_secrets: u64,
    pub load_seconds: f64,
    /// Secrets in the database for the `_full` figures (the loaded ones plus those the SET runs wrote).
    pub secrets_total: u64,
    pub rss_after_load_mib: Option<f64>,
    pub hwm_after_load_mib: Option<f64>,
    pub get_full: Option<Figures>,
    pub cold_start_full_ms: Vec<f64>,
    pub rss_idle_full_mib: Vec<f64>,
    /// Size of the audit log at the restarts above (every benchmark request is a line).
    pub audit_log_mib: f64,
    /// The same restarts with the audit log moved aside first.
    pub cold_start_full_fresh_audit_ms: Vec<f64>,
    /// `POST /keys/{name}/sign` (RS256 on RSA-2048, ES256 on P-256), 16 connections.
    pub sign_rsa: Option<Figures>,
    pub sign_ec: Option<Figures>,
    /// The same signatures made in this process with aws-lc-rs alone, one thread per core, in the same
    /// run: the limit the API's figure is measured against.
    pub raw_sign_rsa_per_s: Option<f64>,
    pub raw_sign_ec_per_s: Option<f64>,
    /// The secret GETs that grew the audit log to `--audit-log-mib` before the restarts with N secrets.
    pub audit_fill: Option<AuditFill>,
    /// Two nodes on one PostgreSQL database, loaded at the same time (PostgreSQL only).
    pub pair: Option<Pair>,
}

#[derive(Serialize)]
pub struct Check {
    pub backend: String,
    pub what: String,
    pub value: f64,
    pub target: String,
    pub met: bool,
}

impl Results {
    pub fn new(seconds_per_wrk_run: u64, wrk: String) -> Result<Self> {
        let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
        let cpu = cpuinfo
            .lines()
            .find(|l| l.starts_with("model name"))
            .and_then(|l| l.split(':').nth(1))
            .unwrap_or("unknown")
            .trim()
            .to_owned();
        let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
        let mem_kib: u64 = meminfo
            .lines()
            .find(|l| l.starts_with("MemTotal:"))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        Ok(Self {
            started: now(),
            finished: String::new(),
            machine: Machine {
                nproc: std::thread::available_parallelism()?.get(),
                cpu,
                mem_total_mib: mem_kib / 1024,
                kernel: read_trimmed("/proc/sys/kernel/osrelease"),
                loadavg_start: read_trimmed("/proc/loadavg"),
                loadavg_end: String::new(),
            },
            wrk,
            seconds_per_wrk_run,
            backends: Vec::new(),
            targets: Vec::new(),
        })
    }

    pub fn finish(&mut self) {
        self.finished = now();
        self.machine.loadavg_end = read_trimmed("/proc/loadavg");
        self.targets = self.backends.iter().flat_map(BackendResults::checks).collect();
    }

    /// A Markdown table: one column per backend, the target last.
    pub fn table(&self) -> String {
        let b = &self.backends;
        let mut out = String::new();
        let _ = writeln!(
            out,
            "machine: {} × {}, {} MiB, load {} → {}",
            self.machine.nproc,
            self.machine.cpu,
            self.machine.mem_total_mib,
            self.machine.loadavg_start,
            self.machine.loadavg_end
        );
        let header: Vec<&str> = b.iter().map(|r| r.backend.as_str()).collect();
        let _ = writeln!(out, "| figure | {} | target |", header.join(" | "));
        let _ = writeln!(out, "|---|{}---|", "---:|".repeat(b.len()));
        // Each backend has its own N: the SET runs write as many secrets as they manage.
        let n = "N";
        let rows: Vec<(String, Cell, &str)> = vec![
            (
                "N: secrets in the database for the rows below that name it".into(),
                Box::new(|r| (r.secrets_total > 0).then(|| rate(r.secrets_total as f64))),
                "100,000",
            ),
            (
                "secret GET, 16 conns, req/s".into(),
                Box::new(|r| r.get.as_ref().map(|f| rate(f.requests_per_s))),
                "",
            ),
            (
                "secret GET p50 / p99, ms".into(),
                Box::new(|r| r.get.as_ref().map(lat)),
                "p99 ≤ 5",
            ),
            (
                "hello GET, 16 conns, req/s".into(),
                Box::new(|r| r.hello.as_ref().map(|f| rate(f.requests_per_s))),
                "",
            ),
            (
                "hello p50 / p99, ms".into(),
                Box::new(|r| r.hello.as_ref().map(lat)),
                "",
            ),
            (
                "GET / hello".into(),
                Box::new(|r| r.get_ratio().map(|x| format!("{x:.2}"))),
                "≥ 0.5 (PG ≥ 0.35)",
            ),
            (
                format!("secret GET with {n} secrets, req/s"),
                Box::new(|r| r.get_full.as_ref().map(|f| rate(f.requests_per_s))),
                "",
            ),
            (
                format!("secret GET with {n} secrets p50 / p99, ms"),
                Box::new(|r| r.get_full.as_ref().map(lat)),
                "",
            ),
            (
                "secret SET, 1 conn, req/s".into(),
                Box::new(|r| r.set_c1.as_ref().map(|f| rate(f.requests_per_s))),
                "≥ 1,000 (PG ≥ 333)",
            ),
            (
                "secret SET, 1 conn p50 / p99, ms".into(),
                Box::new(|r| r.set_c1.as_ref().map(lat)),
                "",
            ),
            (
                "disk: one fdatasync p50 / p99, ms".into(),
                Box::new(|r| r.fdatasync_ms.map(|(p50, p99)| format!("{p50:.2} / {p99:.2}"))),
                "",
            ),
            (
                "secret SET, 16 conns, req/s".into(),
                Box::new(|r| r.set_c16.as_ref().map(|f| rate(f.requests_per_s))),
                "≥ 5,000 (PG ≥ 1,667)",
            ),
            (
                "secret SET, 16 conns p50 / p99, ms".into(),
                Box::new(|r| r.set_c16.as_ref().map(lat)),
                "",
            ),
            (
                "key sign RSA-2048 RS256, 16 conns, req/s".into(),
                Box::new(|r| r.sign_rsa.as_ref().map(|f| rate(f.requests_per_s))),
                "",
            ),
            (
                "raw aws-lc-rs RSA-2048 sign, ops/s".into(),
                Box::new(|r| r.raw_sign_rsa_per_s.map(rate)),
                "",
            ),
            (
                "RSA sign API / raw".into(),
                Box::new(|r| r.sign_ratio_rsa().map(|x| format!("{x:.2}"))),
                "≥ 0.7",
            ),
            (
                "key sign EC P-256 ES256, 16 conns, req/s".into(),
                Box::new(|r| r.sign_ec.as_ref().map(|f| rate(f.requests_per_s))),
                "",
            ),
            (
                "raw aws-lc-rs P-256 sign, ops/s".into(),
                Box::new(|r| r.raw_sign_ec_per_s.map(rate)),
                "",
            ),
            (
                "EC sign API / raw".into(),
                Box::new(|r| r.sign_ratio_ec().map(|x| format!("{x:.2}"))),
                "",
            ),
            (
                "IMDS token, 16 conns, req/s".into(),
                Box::new(|r| r.imds.as_ref().map(|f| rate(f.requests_per_s))),
                "≥ 20,000",
            ),
            (
                "IMDS token p50 / p99, ms".into(),
                Box::new(|r| r.imds.as_ref().map(lat)),
                "",
            ),
            (
                "cold start, empty, ms (median)".into(),
                Box::new(|r| median(&r.cold_start_empty_ms).map(|x| format!("{x:.0}"))),
                "≤ 100",
            ),
            (
                format!("cold start, {n} secrets, ms (median)"),
                Box::new(|r| median(&r.cold_start_full_ms).map(|x| format!("{x:.0}"))),
                "≤ 100",
            ),
            (
                "  … audit log at those starts, MiB (filled by N GETs in s)".into(),
                Box::new(|r| {
                    r.audit_fill.as_ref().map(|f| {
                        let short = if f.cut_short { ", cut short by the deadline" } else { "" };
                        format!(
                            "{:.0} ({} in {:.0} s{short})",
                            f.log_mib,
                            rate(f.requests as f64),
                            f.seconds
                        )
                    })
                }),
                "1,024",
            ),
            (
                "  … with the audit log moved aside, ms".into(),
                Box::new(|r| {
                    median(&r.cold_start_full_fresh_audit_ms)
                        .map(|x| format!("{x:.0} (log was {:.0} MiB)", r.audit_log_mib))
                }),
                "",
            ),
            (
                "two nodes on one database: GET, 16 conns each, req/s A + B = pair".into(),
                Box::new(|r| r.pair.as_ref().map(|p| pair_cell(&p.get))),
                "",
            ),
            (
                "two nodes: SET, 16 conns each, req/s A + B = pair".into(),
                Box::new(|r| r.pair.as_ref().map(|p| pair_cell(&p.set_c16))),
                "",
            ),
            (
                "RSS idle, empty, MiB".into(),
                Box::new(|r| median(&r.rss_idle_empty_mib).map(|x| format!("{x:.1}"))),
                "≤ 30",
            ),
            (
                format!("RSS idle, {n} secrets, MiB"),
                Box::new(|r| median(&r.rss_idle_full_mib).map(|x| format!("{x:.1}"))),
                "≤ 100",
            ),
            (
                "RSS / peak after load, MiB".into(),
                Box::new(|r| Some(format!("{:.1} / {:.1}", r.rss_after_load_mib?, r.hwm_after_load_mib?))),
                "",
            ),
            (
                "bulk load through the API, secrets/s".into(),
                Box::new(|r| (r.load_seconds > 0.0).then(|| rate(r.load_secrets as f64 / r.load_seconds))),
                "",
            ),
        ];
        for (label, value, target) in rows {
            let cells: Vec<String> = b.iter().map(|r| value(r).unwrap_or_else(|| "–".into())).collect();
            let _ = writeln!(out, "| {label} | {} | {target} |", cells.join(" | "));
        }
        let _ = writeln!(out);
        for c in &self.targets {
            let _ = writeln!(
                out,
                "{} {}: {}: {:.2} (target {})",
                if c.met { "MET   " } else { "MISSED" },
                c.backend,
                c.what,
                c.value,
                c.target
            );
        }
        out
    }
}

impl BackendResults {
    pub fn new(backend: &str) -> Self {
        Self {
            backend: backend.to_owned(),
            ..Self::default()
        }
    }

    pub fn sign_ratio_rsa(&self) -> Option<f64> {
        Some(self.sign_rsa.as_ref()?.requests_per_s / self.raw_sign_rsa_per_s?)
    }

    pub fn sign_ratio_ec(&self) -> Option<f64> {
        Some(self.sign_ec.as_ref()?.requests_per_s / self.raw_sign_ec_per_s?)
    }

    pub fn get_ratio(&self) -> Option<f64> {
        Some(self.get.as_ref()?.requests_per_s / self.hello.as_ref()?.requests_per_s)
    }

    /// The targets for this backend; PostgreSQL's SET targets are a third of SQLite's.
    pub fn checks(&self) -> Vec<Check> {
        let share = if self.backend == "postgres" { 1.0 / 3.0 } else { 1.0 };
        let mut checks = Vec::new();
        let mut check = |what: &str, value: Option<f64>, target: String, met: fn(f64, f64) -> bool, bound: f64| {
            if let Some(value) = value {
                checks.push(Check {
                    backend: self.backend.clone(),
                    what: what.to_owned(),
                    value,
                    target,
                    met: met(value, bound),
                });
            }
        };
        let at_least = |v: f64, b: f64| v >= b;
        let at_most = |v: f64, b: f64| v <= b;
        // The bound for PostgreSQL, whose reads cross a process boundary, is lower.
        let get_bound = if self.backend == "postgres" { 0.35 } else { 0.5 };
        check(
            "GET / hello",
            self.get_ratio(),
            format!("≥ {get_bound}"),
            at_least,
            get_bound,
        );
        check(
            "RSA sign API / raw",
            self.sign_ratio_rsa(),
            "≥ 0.7".into(),
            at_least,
            0.7,
        );
        check(
            "GET p99 ms",
            self.get.as_ref().map(|f| f.p99_ms),
            "≤ 5".into(),
            at_most,
            5.0,
        );
        check(
            "SET 1 conn req/s",
            self.set_c1.as_ref().map(|f| f.requests_per_s),
            format!("≥ {:.0}", 1000.0 * share),
            at_least,
            1000.0 * share,
        );
        check(
            "SET 16 conns req/s",
            self.set_c16.as_ref().map(|f| f.requests_per_s),
            format!("≥ {:.0}", 5000.0 * share),
            at_least,
            5000.0 * share,
        );
        check(
            "IMDS req/s",
            self.imds.as_ref().map(|f| f.requests_per_s),
            "≥ 20000".into(),
            at_least,
            20_000.0,
        );
        check(
            "cold start empty ms",
            median(&self.cold_start_empty_ms),
            "≤ 100".into(),
            at_most,
            100.0,
        );
        check(
            "cold start full ms",
            median(&self.cold_start_full_ms),
            "≤ 100".into(),
            at_most,
            100.0,
        );
        check(
            "RSS idle MiB",
            median(&self.rss_idle_empty_mib),
            "≤ 30".into(),
            at_most,
            30.0,
        );
        check(
            "RSS full MiB",
            median(&self.rss_idle_full_mib),
            "≤ 100".into(),
            at_most,
            100.0,
        );
        check(
            "RSS after load MiB",
            self.rss_after_load_mib,
            "≤ 100".into(),
            at_most,
            100.0,
        );
        checks
    }
}

pub fn median(values: &[f64]) -> Option<f64> {
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    v.get(v.len() / 2).copied()
}

/// A count with thousands separators: 1,148,374.
fn rate(x: f64) -> String {
    let n = x.round() as u64;
    if n < 1000 {
        n.to_string()
    } else {
        format!("{},{:03}", rate((n / 1000) as f64), n % 1000)
    }
}

fn lat(f: &Figures) -> String {
    let errors = if f.errors + f.non_2xx > 0 {
        format!(" ({} errors, {} non-2xx)", f.errors, f.non_2xx)
    } else {
        String::new()
    };
    let cpu = f
        .server_cpu_us_per_request
        .map(|us| format!(" ({us:.0} µs server CPU/req)"))
        .unwrap_or_default();
    format!("{:.2} / {:.2}{cpu}{errors}", f.p50_ms, f.p99_ms)
}

/// `a + b = sum (cpu_a / cpu_b µs server CPU/req)`.
fn pair_cell(f: &[Figures; 2]) -> String {
    let cpu = |f: &Figures| f.server_cpu_us_per_request.map_or("–".into(), |us| format!("{us:.0}"));
    format!(
        "{} + {} = {} ({} / {} µs server CPU/req)",
        rate(f[0].requests_per_s),
        rate(f[1].requests_per_s),
        rate(f[0].requests_per_s + f[1].requests_per_s),
        cpu(&f[0]),
        cpu(&f[1])
    )
}

fn read_trimmed(path: &str) -> String {
    std::fs::read_to_string(path).unwrap_or_default().trim().to_owned()
}

fn now() -> String {
    std::process::Command::new("date")
        .args(["-u", "+%Y-%m-%dT%H:%M:%SZ"])
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .unwrap_or_default()
}
