//! `keyhold audit verify` checks the hash chain of an audit log file and, with `--reconcile`, compares
//! the log's secret writes with the store; `keyhold audit repair` cuts a broken log back to its last
//! good record. These are operator commands run on the server machine: `--reconcile` reads the database
//! directly (read-only use), which the az-shaped commands never do.

use std::{path::PathBuf, sync::Arc};

use anyhow::{Context, bail};
use clap::{Args, Subcommand};
use keyhold_store::{PostgresStore, SqliteStore, Store};

use super::DataDir;

#[derive(Debug, Args)]
pub struct AuditArgs {
    #[command(subcommand)]
    command: AuditCommand,
    #[command(flatten)]
    data_dir: DataDir,
}

#[derive(Debug, Subcommand)]
enum AuditCommand {
    /// Check that no record was altered, removed or reordered; names the first broken line.
    #[command(
        after_help = "Examples:\n  keyhold audit verify --file ./keyhold-data/audit.log\n  keyhold audit verify --reconcile --database postgres://keyhold@db/keyhold"
    )]
    Verify {
        /// The log (default: <data-dir>/audit.log).
        #[arg(long)]
        file: Option<PathBuf>,
        /// Also compare the log's secret writes with the store: name every acknowledged write the
        /// store lacks and every stored version the log does not account for.
        #[arg(long)]
        reconcile: bool,
        /// The server's `--database` (default: <data-dir>/keyhold.db).
        #[arg(long, env = "KEYHOLD_DATABASE")]
        database: Option<String>,
    },
    /// Keep the records before the first broken line, set the original aside as
    /// `<file>.broken-<unix time>`, and record the repair. Run with the server stopped.
    #[command(after_help = "Example:\n  keyhold audit repair --file ./keyhold-data/audit.log")]
    Repair {
        #[arg(long)]
        file: Option<PathBuf>,
    },
}

pub async fn run(args: AuditArgs) -> anyhow::Result<()> {
    let default_log = args.data_dir.path.join("audit.log");
    match args.command {
        AuditCommand::Verify {
            file,
            reconcile,
            database,
        } => {
            let path = file.unwrap_or(default_log);
            let (records, _) = keyhold_core::audit::verify(&path)?;
            println!("{}: {records} records, chain intact", path.display());
            if reconcile {
                let store = open_store(&args.data_dir.path, database.as_deref()).await?;
                reconcile_with(&path, &*store).await?;
            }
            Ok(())
        }
        AuditCommand::Repair { file } => {
            let path = file.unwrap_or(default_log);
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_secs())
                .unwrap_or(0);
            let aside = PathBuf::from(format!("{}.broken-{now}", path.display()));
            match keyhold_core::audit::repair(&path, &aside)? {
                None => println!("{}: chain intact, nothing to repair", path.display()),
                Some(line) => println!(
                    "{}: cut at line {line}; the original is kept at {}",
                    path.display(),
                    aside.display()
                ),
            }
            Ok(())
        }
    }
}

async fn reconcile_with(path: &std::path::Path, store: &dyn Store) -> anyhow::Result<()> {
    use keyhold_core::audit::{Anchor, anchor_key, holds};
    let key = anchor_key(path);
    let anchor = store.meta(&key).await.context("read the anchor")?;
    let mut cut = false;
    match anchor.and_then(|a| serde_json::from_slice::<Anchor>(&a).ok()) {
        Some(anchor) if holds(path, &anchor)? => {
            println!("anchor: record {} is where the store says it is", anchor.seq);
        }
        Some(anchor) => {
            println!(
                "TRUNCATED OR REWRITTEN: the store's anchor says record {} has hash {}; the log does not",
                anchor.seq, anchor.hash
            );
            cut = true;
        }
        None => println!("anchor: none in the store for {key} (this log was never synced from this host and path)"),
    }
    let records = keyhold_core::audit::records(path)?;
    let report = keyhold_core::reconcile::reconcile(&records, store)
        .await
        .context("read the store")?;
    for (vault, name, version, line) in &report.lost {
        println!("LOST: {vault}/{name}/{version} was acknowledged (audit record {line}) but the store lacks it");
    }
    for (vault, name, version) in &report.unaudited {
        println!("UNAUDITED: {vault}/{name}/{version} is stored but no audit record accounts for it");
    }
    println!(
        "reconciled {} stored secret versions: {} lost, {} unaudited, {} from requests with unknown outcome, {} from restores",
        report.stored,
        report.lost.len(),
        report.unaudited.len(),
        report.unknown_outcome,
        report.restored
    );
    if cut || !report.clean() {
        bail!("the audit log and the store disagree");
    }
    Ok(())
}

async fn open_store(data_dir: &std::path::Path, database: Option<&str>) -> anyhow::Result<Arc<dyn Store>> {
    match database {
        Some(url) if url.starts_with("postgres://") || url.starts_with("postgresql://") => Ok(Arc::new(
            PostgresStore::connect(url).await.context("connect to database")?,
        )),
        Some(_) => bail!("--database: expected a postgres:// or postgresql:// URL"),
        None => {
            let path = data_dir.join("keyhold.db");
            if !path.exists() {
                bail!("{} does not exist (pass --database for PostgreSQL)", path.display());
            }
            Ok(Arc::new(SqliteStore::open(&path).context("open database")?))
        }
    }
}
