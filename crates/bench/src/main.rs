//! `keyhold-bench`: starts real release servers (keyhold on SQLite and on PostgreSQL, and the `hello`
//! baseline), drives them with wrk over loopback, prints a table and writes `results.json`.
//! `tools/bench.sh` builds the binaries, starts the PostgreSQL test cluster and runs this.
//! Every load is bounded in time (wrk's `-d`, the loader's deadline) and in count (the loader's).
#![forbid(unsafe_code)]

mod audit_fill;
mod instance;
mod pair;
mod raw_sign;
mod report;
mod vault;
mod wrk;

use std::{
    path::{Path, PathBuf},
    time::Duration,
};

use anyhow::{Context, Result, bail};
use clap::Parser;
use keyhold_testkit::PostgresDatabase;

use crate::{
    instance::{Instance, fresh_dir},
    report::{BackendResults, Results},
    vault::Target,
};

#[derive(Parser, Debug)]
#[command(about = "keyhold's benchmarks: real servers, wrk over loopback")]
struct Args {
    /// Seconds per wrk run.
    #[arg(long, default_value_t = 10)]
    duration: u64,
    /// Secrets in the database for the "with N secrets" figures.
    #[arg(long, default_value_t = 100_000)]
    secrets: u64,
    /// The audit log's size, in MiB, for the restarts with N secrets: secret GETs are run against
    /// the loaded server until its log is that large (bounded by `--load-deadline`).
    #[arg(long, default_value_t = 1024)]
    audit_log_mib: u64,
    /// Upper bound on the time spent loading them (and on filling the audit log), in seconds.
    #[arg(long, default_value_t = 600)]
    load_deadline: u64,
    /// Starts per cold-start figure (the median is reported).
    #[arg(long, default_value_t = 5)]
    cold_runs: usize,
    /// Backends to measure: sqlite, postgres (PostgreSQL needs KEYHOLD_TEST_POSTGRES_URL).
    #[arg(long, value_delimiter = ',', default_value = "sqlite,postgres")]
    backends: Vec<String>,
    /// Only the key-sign rows (one cold start, then RSA and EC sign beside their raw rates), for a
    /// quick before/after of the sign path.
    #[arg(long)]
    only_sign: bool,
    /// Only the start-up rows: `--cold-runs` starts from empty, then as many restarts on the last
    /// data dir (which holds only what a first start writes).
    #[arg(long)]
    only_cold_start: bool,
    /// Where `keyhold` and `hello` were built.
    #[arg(long, default_value = "target/release")]
    bin_dir: PathBuf,
    /// Scratch data dirs, logs, the wrk scripts and results.json.
    #[arg(long, default_value = "target/bench")]
    out_dir: PathBuf,
}

#[tokio::main]
async fn main() -> Result<()> {
    let args = Args::parse();
    let wrk_version = wrk::ensure_installed()?;
    std::fs::create_dir_all(&args.out_dir)?;
    wrk::write_scripts(&args.out_dir)?;
    let mut results = Results::new(args.duration, wrk_version)?;
    for backend in &args.backends {
        let figures = match backend.as_str() {
            "sqlite" => bench_backend(&args, backend, None).await?,
            "postgres" => {
                let mut databases = Vec::new();
                for _ in 0..=args.cold_runs {
                    databases.push(
                        PostgresDatabase::create()
                            .await?
                            .context("KEYHOLD_TEST_POSTGRES_URL is unset (tools/pg-test-cluster.sh start)")?,
                    );
                }
                let urls: Vec<String> = databases.iter().map(|d| d.url.clone()).collect();
                let figures = bench_backend(&args, backend, Some(&urls)).await;
                for db in databases {
                    db.drop().await?;
                }
                figures?
            }
            other => bail!("unknown backend {other} (sqlite, postgres)"),
        };
        results.backends.push(figures);
    }
    results.finish();
    let path = args.out_dir.join("results.json");
    std::fs::write(&path, serde_json::to_vec_pretty(&results)?)?;
    println!("{}", results.table());
    println!("written: {}", path.display());
    Ok(())
}

/// Every figure for one backend. `databases` holds one fresh PostgreSQL database per start from empty
/// and one more for the two nodes.
async fn bench_backend(args: &Args, backend: &str, databases: Option<&[String]>) -> Result<BackendResults> {
    let keyhold = args.bin_dir.join("keyhold");
    let hello = args.bin_dir.join("hello");
    let dir = fresh_dir(args.out_dir.join(backend))?;
    let log = dir.join("server.log");
    let mut r = BackendResults::new(backend);
    eprintln!("== {backend}");

    // Cold start and idle memory from an empty data dir (and database), `cold_runs` times; the last
    // server stays up for the load benchmarks.
    let mut server: Option<(Instance, PathBuf, Option<&str>)> = None;
    let cold_runs = if args.only_sign { 1 } else { args.cold_runs.max(1) };
    for run in 0..cold_runs {
        if let Some((s, _, _)) = server.take() {
            s.stop().await?;
        }
        let data_dir = fresh_dir(dir.join(format!("data-{run}")))?;
        let database = databases.and_then(|d| d.get(run)).map(String::as_str);
        let s = Instance::keyhold(&keyhold, &data_dir, database, &[], &log).await?;
        r.cold_start_empty_ms.push(s.cold_start.as_secs_f64() * 1000.0);
        tokio::time::sleep(Duration::from_secs(1)).await;
        r.rss_idle_empty_mib.push(s.memory_mib()?.0);
        server = Some((s, data_dir, database));
    }
    let (server, data_dir, database) = server.context("no server")?;
    if args.only_cold_start {
        server.stop().await?;
        for _ in 0..cold_runs {
            let s = Instance::keyhold(&keyhold, &data_dir, database, &[], &log).await?;
            r.cold_start_full_ms.push(s.cold_start.as_secs_f64() * 1000.0);
            s.stop().await?;
        }
        remove_data_dirs(&dir)?;
        return Ok(r);
    }
    let target = Target::setup(&data_dir, server.pid, "bench").await?;
    let d = Duration::from_secs(args.duration);
    let (get_lua, put_lua) = (args.out_dir.join("get.lua"), args.out_dir.join("put.lua"));
    let auth = format!("Authorization: Bearer {}", target.token);
    let host = format!("Host: {}", target.vault_host);
    let get_url = format!("https://127.0.0.1:{}/secrets/bench-get?api-version=7.4", target.port);
    let get = |connections| wrk::Load {
        url: get_url.clone(),
        script: &get_lua,
        script_args: vec![],
        headers: vec![auth.clone(), host.clone()],
        threads: 2,
        connections,
        duration: d,
    };

    // GET, with the hello baseline measured right before it.
    if !args.only_sign {
        let hello_server = Instance::hello(&hello, &dir.join("hello.log")).await?;
        eprintln!("   hello GET");
        let hello_load = wrk::Load {
            url: format!("https://{}/", hello_server.listen),
            script: &get_lua,
            script_args: vec![],
            headers: vec![],
            threads: 2,
            connections: 16,
            duration: d,
        };
        r.hello = Some(hello_server.measure(&hello_load).await?);
        r.hello_rss_mib = Some(hello_server.memory_mib()?.0);
        hello_server.stop().await?;
        eprintln!("   secret GET");
        r.get = Some(server.measure(&get(16)).await?);
    }

    // Key sign through the API, each beside aws-lc-rs's own rate for the same signature.
    let post_lua = args.out_dir.join("post.lua");
    let digest = "LXEWQrcmsEQBYnyp-6wy9chTD7GQPMTbAiWHF5IaSIE"; // base64url SHA-256 of "x"
    for (name, create, alg) in [
        (
            "bench-rsa",
            serde_json::json!({"kty": "RSA", "key_size": 2048}),
            "RS256",
        ),
        ("bench-ec", serde_json::json!({"kty": "EC", "crv": "P-256"}), "ES256"),
    ] {
        target.create_key(name, create).await?;
        eprintln!("   key sign {alg}");
        let figures = server
            .measure(&wrk::Load {
                url: format!("https://127.0.0.1:{}/keys/{name}/sign?api-version=7.4", target.port),
                script: &post_lua,
                script_args: vec![format!(r#"{{"alg":"{alg}","value":"{digest}"}}"#)],
                headers: vec![auth.clone(), host.clone()],
                threads: 2,
                connections: 16,
                duration: d,
            })
            .await?;
        anyhow::ensure!(figures.non_2xx == 0, "{alg} sign: {} requests failed", figures.non_2xx);
        eprintln!("   raw aws-lc-rs sign {alg}");
        if alg == "RS256" {
            r.sign_rsa = Some(figures);
            r.raw_sign_rsa_per_s = Some(raw_sign::rsa_2048(d)?);
        } else {
            r.sign_ec = Some(figures);
            r.raw_sign_ec_per_s = Some(raw_sign::p256(d)?);
        }
    }
    if args.only_sign {
        server.stop().await?;
        return Ok(r);
    }

    // Managed-identity token (IMDS), from the token cache.
    let resource: String = url::form_urlencoded::byte_serialize(target.state.vault_resource.as_bytes()).collect();
    let imds_url = format!(
        "http://{}/metadata/identity/oauth2/token?api-version=2018-02-01&resource={resource}",
        server.mi_listen
    );
    target.warm_imds(&imds_url).await?;
    eprintln!("   IMDS token");
    r.imds = Some(
        server
            .measure(&wrk::Load {
                url: imds_url,
                script: &get_lua,
                script_args: vec![],
                headers: vec!["Metadata: true".into()],
                threads: 2,
                connections: 16,
                duration: d,
            })
            .await?,
    );

    // Durable SET: a new secret per request, 1 and 16 connections. First, what one fdatasync costs on
    // the data dir's disk right now: a durable commit cannot be faster.
    r.fdatasync_ms = Some(fsync_probe(&dir)?);
    let mut written = 1; // bench-get
    for (tag, threads, connections) in [("c1", 1, 1), ("c16", 2, 16)] {
        eprintln!("   secret SET, {connections} connection(s)");
        let figures = server
            .measure(&wrk::Load {
                url: format!("https://127.0.0.1:{}/secrets/", target.port),
                script: &put_lua,
                script_args: vec![tag.into()],
                headers: vec![auth.clone(), host.clone()],
                threads,
                connections,
                duration: d,
            })
            .await?;
        written += figures.requests - figures.non_2xx;
        if connections == 1 {
            r.set_c1 = Some(figures);
        } else {
            r.set_c16 = Some(figures);
        }
    }

    // Top up to `secrets` through the API, then the figures with a full database.
    let missing = args.secrets.saturating_sub(written);
    eprintln!("   loading {missing} secrets through the API");
    let (loaded, took) = target
        .load(missing, 32, Duration::from_secs(args.load_deadline))
        .await?;
    r.load_secrets = loaded;
    r.load_seconds = took.as_secs_f64();
    r.secrets_total = written + loaded;
    let (rss, hwm) = server.memory_mib()?;
    r.rss_after_load_mib = Some(rss);
    r.hwm_after_load_mib = Some(hwm);
    eprintln!("   GET with {} secrets", r.secrets_total);
    r.get_full = Some(server.measure(&get(16)).await?);
    let audit = data_dir.join("audit.log");
    eprintln!(
        "   growing the audit log to {} MiB with secret GETs",
        args.audit_log_mib
    );
    let mut fill = audit_fill::fill(
        &server,
        &get(16),
        &audit,
        args.audit_log_mib,
        Duration::from_secs(args.load_deadline),
    )
    .await?;
    server.stop().await?;
    fill.log_mib = std::fs::metadata(&audit)?.len() as f64 / 1048576.0;
    r.audit_fill = Some(fill);

    let mut server = None;
    for _ in 0..args.cold_runs.max(1) {
        if let Some(s) = server.take() {
            Instance::stop(s).await?;
        }
        let s = Instance::keyhold(&keyhold, &data_dir, database, &[], &log).await?;
        r.cold_start_full_ms.push(s.cold_start.as_secs_f64() * 1000.0);
        tokio::time::sleep(Duration::from_secs(1)).await;
        r.rss_idle_full_mib.push(s.memory_mib()?.0);
        server = Some(s);
    }
    if let Some(s) = server {
        s.stop().await?;
    }

    // An experiment rather than a figure of the issue: the same database with the audit log (whose hash
    // chain is verified line by line at start-up) moved aside, to tell the cost of the secrets from the
    // cost of the log the benchmarks above wrote.
    r.audit_log_mib = std::fs::metadata(&audit)
        .map(|m| m.len() as f64 / 1048576.0)
        .unwrap_or(0.0);
    let cold_runs = if args.only_sign { 1 } else { args.cold_runs.max(1) };
    for run in 0..cold_runs {
        let _ = std::fs::rename(&audit, data_dir.join(format!("audit.log.aside-{run}")));
        let s = Instance::keyhold(&keyhold, &data_dir, database, &[], &log).await?;
        r.cold_start_full_fresh_audit_ms
            .push(s.cold_start.as_secs_f64() * 1000.0);
        s.stop().await?;
    }
    if let Some(database) = databases.and_then(<[String]>::last) {
        let scripts = pair::Scripts {
            get: &get_lua,
            put: &put_lua,
            duration: d,
        };
        r.pair = Some(pair::bench(&keyhold, &dir, database, &log, &scripts).await?);
    }
    remove_data_dirs(&dir)?;
    Ok(r)
}

/// p50 and p99 of 200 × (append 4 KiB, `fdatasync`) in `dir`, in milliseconds.
fn fsync_probe(dir: &Path) -> Result<(f64, f64)> {
    use std::io::Write as _;
    let path = dir.join("fsync-probe");
    let mut file = std::fs::File::create(&path)?;
    let mut times = Vec::with_capacity(200);
    for _ in 0..200 {
        file.write_all(&[0x5a; 4096])?;
        let started = std::time::Instant::now();
        file.sync_data()?;
        times.push(started.elapsed().as_secs_f64() * 1000.0);
    }
    drop(file);
    std::fs::remove_file(&path)?;
    times.sort_by(f64::total_cmp);
    Ok((times[100], times[198]))
}

/// The data dirs hold sealed test secrets and the database; only the logs are worth keeping.
fn remove_data_dirs(dir: &Path) -> Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() {
            std::fs::remove_dir_all(&path)?;
        }
    }
    Ok(())
}
