//! Two nodes of one service on one PostgreSQL database, driven at the same time: scaling out measured,
//! not assumed. Node B is started as an operator would add a node: the same `--database` and
//! `--public-url`, and a copy of A's unseal key, CA and admin credentials in its own data dir.

use std::{path::Path, time::Duration};

use anyhow::{Context, Result, ensure};
use serde::Serialize;

use crate::{
    instance::{Instance, fresh_dir},
    vault::Target,
    wrk::{self, Figures},
};

/// Each node's figures for loads run against both at once (A first).
#[derive(Debug, Clone, Serialize)]
pub struct Pair {
    pub get: [Figures; 2],
    pub set_c16: [Figures; 2],
}

pub struct Scripts<'a> {
    pub get: &'a Path,
    pub put: &'a Path,
    pub duration: Duration,
}

pub async fn bench(keyhold: &Path, dir: &Path, database: &str, log: &Path, scripts: &Scripts<'_>) -> Result<Pair> {
    let data_a = fresh_dir(dir.join("pair-a"))?;
    let a = Instance::keyhold(keyhold, &data_a, Some(database), &[], log).await?;
    let on_a = Target::setup(&data_a, a.pid, "pair").await?;
    let data_b = fresh_dir(dir.join("pair-b"))?;
    for file in keyhold_testkit::NODE_FILES {
        std::fs::copy(data_a.join(file), data_b.join(file)).with_context(|| format!("copy {file}"))?;
    }
    let public_url = on_a.state.url.clone();
    let b = Instance::keyhold(keyhold, &data_b, Some(database), &["--public-url", &public_url], log).await?;
    let on_b = on_a.on_node(&data_b, b.pid).await?;
    on_b.get_secret("bench-get")
        .await
        .context("node B does not serve A's secret")?;

    let load = |t: &Target, path: &str, script, args: Vec<String>| wrk::Load {
        url: format!("https://127.0.0.1:{}/secrets/{path}", t.port),
        script,
        script_args: args,
        headers: vec![
            format!("Authorization: Bearer {}", t.token),
            format!("Host: {}", t.vault_host),
        ],
        threads: 2,
        connections: 16,
        duration: scripts.duration,
    };
    eprintln!("   two nodes: secret GET on both");
    let (get_a, get_b) = (
        load(&on_a, "bench-get?api-version=7.4", scripts.get, vec![]),
        load(&on_b, "bench-get?api-version=7.4", scripts.get, vec![]),
    );
    let get = tokio::try_join!(a.measure(&get_a), b.measure(&get_b))?;
    eprintln!("   two nodes: secret SET, 16 connections each");
    let (set_a, set_b) = (
        load(&on_a, "", scripts.put, vec!["pa".into()]),
        load(&on_b, "", scripts.put, vec!["pb".into()]),
    );
    let set = tokio::try_join!(a.measure(&set_a), b.measure(&set_b))?;
    for f in [&get.0, &get.1, &set.0, &set.1] {
        ensure!(
            f.non_2xx == 0 && f.requests > 0,
            "two nodes: {} of {} requests failed",
            f.non_2xx,
            f.requests
        );
    }
    b.stop().await?;
    a.stop().await?;
    Ok(Pair {
        get: [get.0, get.1],
        set_c16: [set.0, set.1],
    })
}
