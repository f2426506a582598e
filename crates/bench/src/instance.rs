//! Server processes under test: started from `exec`, timed to their first `200`, measured from `/proc`,
//! stopped with SIGTERM. Every wait here has a deadline.

use std::{
    net::{SocketAddr, TcpListener},
    path::{Path, PathBuf},
    process::Stdio,
    time::{Duration, Instant},
};

use anyhow::{Context, Result, bail};
use tokio::process::{Child, Command};

const START_DEADLINE: Duration = Duration::from_secs(60);

/// A running `keyhold serve` (or `hello`).
pub struct Instance {
    child: Child,
    pub pid: u32,
    pub listen: SocketAddr,
    pub mi_listen: SocketAddr,
    /// From just before `exec` to the first `200` of the probe.
    pub cold_start: Duration,
}

impl Instance {
    /// `keyhold serve` on fresh loopback ports, with `extra` flags; returns once `/healthz` answers 200.
    pub async fn keyhold(
        bin: &Path,
        data_dir: &Path,
        database: Option<&str>,
        extra: &[&str],
        log: &Path,
    ) -> Result<Self> {
        std::fs::create_dir_all(data_dir)?;
        let (listen, mi_listen) = (free_port()?, free_port()?);
        let mut cmd = Command::new(bin);
        cmd.arg("serve").arg("--data-dir").arg(data_dir).args([
            "--listen",
            &listen.to_string(),
            "--mi-listen",
            &mi_listen.to_string(),
        ]);
        if let Some(url) = database {
            cmd.args(["--database", url]);
        }
        cmd.args(extra);
        cmd.env("KEYHOLD_LOG", "warn");
        Self::spawn(cmd, listen, mi_listen, "/healthz", log).await
    }

    /// The `hello` baseline server.
    pub async fn hello(bin: &Path, log: &Path) -> Result<Self> {
        let listen = free_port()?;
        let mut cmd = Command::new(bin);
        cmd.args(["--listen", &listen.to_string()]);
        Self::spawn(cmd, listen, listen, "/", log).await
    }

    async fn spawn(
        mut cmd: Command,
        listen: SocketAddr,
        mi_listen: SocketAddr,
        probe: &str,
        log: &Path,
    ) -> Result<Self> {
        let log = std::fs::OpenOptions::new().create(true).append(true).open(log)?;
        cmd.stdout(Stdio::null()).stderr(Stdio::from(log)).kill_on_drop(true);
        let client = probe_client()?;
        let url = format!("https://{listen}{probe}");
        let started = Instant::now();
        let mut child = cmd.spawn().context("cannot start the server")?;
        let pid = child.id().context("no pid")?;
        loop {
            if let Ok(resp) = client.get(&url).send().await
                && resp.status() == 200
            {
                break;
            }
            if let Some(status) = child.try_wait()? {
                bail!("server exited during start-up with {status}");
            }
            if started.elapsed() > START_DEADLINE {
                bail!("no 200 from {url} within {START_DEADLINE:?}");
            }
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        Ok(Self {
            child,
            pid,
            listen,
            mi_listen,
            cold_start: started.elapsed(),
        })
    }

    /// `VmRSS` and `VmHWM` (peak) from `/proc/<pid>/status`, in MiB.
    pub fn memory_mib(&self) -> Result<(f64, f64)> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid))?;
        let field = |name: &str| -> Result<f64> {
            let line = status
                .lines()
                .find(|l| l.starts_with(name))
                .with_context(|| format!("no {name} in /proc/{}/status", self.pid))?;
            let kib: f64 = line
                .split_whitespace()
                .nth(1)
                .context("malformed status line")?
                .parse()?;
            Ok(kib / 1024.0)
        };
        Ok((field("VmRSS:")?, field("VmHWM:")?))
    }

    /// User + system CPU time the process has used so far, in seconds (`/proc/<pid>/stat`, 100 ticks/s).
    pub fn cpu_seconds(&self) -> Result<f64> {
        let stat = std::fs::read_to_string(format!("/proc/{}/stat", self.pid))?;
        // Fields after the command name, which is in parentheses and may contain spaces.
        let rest = stat.rsplit_once(')').context("malformed /proc/<pid>/stat")?.1;
        let fields: Vec<&str> = rest.split_whitespace().collect();
        let ticks = |i: usize| -> Result<f64> { Ok(fields.get(i).context("short /proc/<pid>/stat")?.parse::<f64>()?) };
        // utime and stime are fields 14 and 15 of stat(5), i.e. 11 and 12 after the command name.
        Ok((ticks(11)? + ticks(12)?) / 100.0)
    }

    /// Runs one wrk load against this server and adds the server's CPU time per request.
    pub async fn measure(&self, load: &crate::wrk::Load<'_>) -> Result<crate::wrk::Figures> {
        let before = self.cpu_seconds()?;
        let mut figures = crate::wrk::run(load).await?;
        let used = self.cpu_seconds()? - before;
        if figures.requests > 0 {
            figures.server_cpu_us_per_request = Some(used * 1e6 / figures.requests as f64);
        }
        Ok(figures)
    }

    /// SIGTERM, then SIGKILL if it has not exited within 20 s.
    pub async fn stop(mut self) -> Result<()> {
        let _ = std::process::Command::new("kill")
            .args(["-TERM", &self.pid.to_string()])
            .status();
        match tokio::time::timeout(Duration::from_secs(20), self.child.wait()).await {
            Ok(status) => {
                status?;
            }
            Err(_) => {
                self.child.kill().await?;
                bail!("server {} ignored SIGTERM for 20 s", self.pid);
            }
        }
        Ok(())
    }
}

/// A loopback port free right now (the server binds it a moment later; loopback-only, so a race is
/// unlikely and would show as a start-up failure, not a wrong figure).
fn free_port() -> Result<SocketAddr> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?)
}

/// For the start-up probe only: the data dir's CA does not exist before an empty server's first start,
/// so this client skips certificate checks. A fresh connection per attempt, each bounded to 2 s.
fn probe_client() -> Result<reqwest::Client> {
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    Ok(reqwest::Client::builder()
        .danger_accept_invalid_certs(true)
        .pool_max_idle_per_host(0)
        .timeout(Duration::from_secs(2))
        .build()?)
}

/// A per-run scratch directory, emptied first.
pub fn fresh_dir(path: PathBuf) -> Result<PathBuf> {
    if path.exists() {
        std::fs::remove_dir_all(&path).with_context(|| format!("cannot empty {}", path.display()))?;
    }
    std::fs::create_dir_all(&path)?;
    Ok(path)
}
