//! Leadership of background jobs across nodes: a session-level `pg_try_advisory_lock` per job, taken on
//! a connection of its own (outside the pool) and held for as long as that connection lives. When the
//! process dies, PostgreSQL ends its session and another node's next attempt takes the lock.
//!
//! A lost connection loses every lock it held; the next call notices (a failing `SELECT 1`), reconnects
//! and competes again. Between the loss and that call two nodes may briefly both run a job, so the
//! jobs must be safe to run twice (purging is idempotent; re-sealing swaps values only if unchanged).

use std::collections::HashSet;

use tokio::sync::Mutex;
use tokio_postgres::{Client, Config};
use tokio_postgres_rustls::MakeRustlsConnect;

use super::db_err;
use crate::Result;

/// High 32 bits of the lock keys of jobs (`"khld"`); the low 32 bits are `hashtext(job)`.
const LEAD_CLASS: i64 = 0x6b68_6c64;

pub(super) struct Leader {
    config: Config,
    tls: MakeRustlsConnect,
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    client: Option<Client>,
    held: HashSet<String>,
}

impl Leader {
    pub(super) fn new(config: Config, tls: MakeRustlsConnect) -> Self {
        Self {
            config,
            tls,
            state: Mutex::new(State::default()),
        }
    }

    pub(super) async fn try_lead(&self, job: &str) -> Result<bool> {
        let mut state = self.state.lock().await;
        let result = attempt(&self.config, &self.tls, &mut state, job).await;
        if result.is_err() {
            // The session (and every lock in it) may be gone: start over next time.
            state.client = None;
            state.held.clear();
        }
        result
    }
}

async fn attempt(config: &Config, tls: &MakeRustlsConnect, state: &mut State, job: &str) -> Result<bool> {
    if state.client.as_ref().is_none_or(Client::is_closed) {
        let (client, connection) = config.connect(tls.clone()).await.map_err(db_err)?;
        // A broken connection shows up as an error on the next attempt, which then reconnects.
        tokio::spawn(async move {
            let _ = connection.await;
        });
        state.client = Some(client);
        state.held.clear();
    }
    let Some(client) = state.client.as_ref() else {
        return Ok(false);
    };
    if state.held.contains(job) {
        // Still the same session, so still the same locks.
        client.simple_query("SELECT 1").await.map_err(db_err)?;
        return Ok(true);
    }
    let row = client
        .query_one(
            "SELECT pg_try_advisory_lock(($1::bigint << 32) | (hashtext($2)::bigint & 4294967295))",
            &[&LEAD_CLASS, &job],
        )
        .await
        .map_err(db_err)?;
    let won: bool = row.try_get(0).map_err(db_err)?;
    if won {
        state.held.insert(job.to_owned());
    }
    Ok(won)
}
