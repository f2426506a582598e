//! `keyhold audit verify` checks an audit log: its hash chain, every line's MAC under the audit key
//! (which it derives by opening the seal itself, with the key file, passphrase or shares the instance
//! needs), and the head the server recorded in the store (so a cut-off or emptied log shows); with
//! `--reconcile` it also compares the log's secret writes with the store. `keyhold audit repair` cuts a
//! broken log back to its last good record. These are operator commands run on the server machine:
//! they read the database directly (read-only use), which the az-shaped commands never do.

use std::{path::PathBuf, sync::Arc};

use anyhow::{Context, bail};
use clap::{Args, Subcommand};
use keyhold_core::seal::{OfflineUnseal, unseal_offline};
use keyhold_crypto::AuditKey;
use keyhold_store::{PostgresStore, SqliteStore, Store};
use secrecy::SecretString;

use super::{DataDir, operator::read_secret};

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
        after_help = "Examples:\n  keyhold audit verify --data-dir ./keyhold-data\n  keyhold audit verify --reconcile --database postgres://keyhold@db/keyhold --passphrase-file pass.txt\n  keyhold audit verify --unkeyed --file ./copy-of-audit.log"
    )]
    Verify {
        /// The log (default: <data-dir>/audit.log).
        #[arg(long)]
        file: Option<PathBuf>,
        /// Also compare the log's secret writes with the store: name every acknowledged write the
        /// store lacks and every stored version the log does not account for.
        #[arg(long)]
        reconcile: bool,
        #[command(flatten)]
        instance: Instance,
        /// Check only the SHA-256 chain (a log copied away from its instance). Whoever can edit the
        /// file can recompute that chain: this proves nothing about tampering.
        #[arg(long, conflicts_with = "reconcile")]
        unkeyed: bool,
    },
    /// Keep the records before the first broken line, set the original aside as
    /// `<file>.broken-<unix time>`, and record the repair. Run with the server stopped.
    #[command(after_help = "Example:\n  keyhold audit repair --file ./keyhold-data/audit.log")]
    Repair {
        #[arg(long)]
        file: Option<PathBuf>,
        #[command(flatten)]
        instance: Instance,
    },
}

/// The instance a log belongs to: its database, and what opens its seal (for the audit key).
#[derive(Debug, Args)]
struct Instance {
    /// The server's `--database` (default: <data-dir>/keyhold.db).
    #[arg(long, env = "KEYHOLD_DATABASE", hide_env_values = true)]
    database: Option<String>,
    /// For a passphrase seal: the file holding the passphrase (`-` for stdin).
    #[arg(long, env = "KEYHOLD_SEAL_PASSPHRASE_FILE")]
    passphrase_file: Option<PathBuf>,
    /// For a Shamir seal: a file with the threshold's number of shares, one per line.
    #[arg(long)]
    share_file: Option<PathBuf>,
}

impl Instance {
    /// The store, and the audit key derived by opening the seal with what was given.
    async fn open(&self, data_dir: &std::path::Path) -> anyhow::Result<(Arc<dyn Store>, AuditKey)> {
        let store = open_store(data_dir, self.database.as_deref()).await?;
        let how = OfflineUnseal {
            key_file: data_dir.join("seal.key"),
            passphrase: self
                .passphrase_file
                .as_deref()
                .map(|p| read_secret(p).map(SecretString::from))
                .transpose()?,
            shares: match &self.share_file {
                Some(p) => read_secret(p)?
                    .lines()
                    .map(str::trim)
                    .filter(|l| !l.is_empty())
                    .map(|l| SecretString::from(l.to_owned()))
                    .collect(),
                None => Vec::new(),
            },
        };
        let key = unseal_offline(&*store, &how)
            .await
            .context("open the seal to derive the audit key")?
            .audit_key()?;
        Ok((store, key))
    }
}

pub async fn run(args: AuditArgs) -> anyhow::Result<()> {
    let default_log = args.data_dir.path.join("audit.log");
    match args.command {
        AuditCommand::Verify {
            file,
            reconcile,
            instance,
            unkeyed,
        } => {
            let path = file.unwrap_or(default_log);
            if unkeyed {
                let (records, _) = keyhold_core::audit::verify(&path)?;
                println!(
                    "{}: {records} records, chain intact (unkeyed check: the SHA-256 chain only, not the MACs or the anchor)",
                    path.display()
                );
                return Ok(());
            }
            let (store, key) = instance
                .open(&args.data_dir.path)
                .await
                .context("(pass --unkeyed to check only the bare chain)")?;
            let name = keyhold_core::audit::anchor_key(&path);
            let anchor = store
                .meta(&name)
                .await
                .context("read the anchor")?
                .and_then(|a| serde_json::from_slice::<keyhold_core::audit::Anchor>(&a).ok());
            let verified = keyhold_core::audit::verify_keyed(&path, &key, anchor.as_ref())?;
            println!(
                "{}: {} records, chain intact, {} keyed (authenticated through record {})",
                path.display(),
                verified.records,
                verified.keyed,
                verified.last_keyed
            );
            let mut anchored = report_anchor(&name, anchor.as_ref(), verified.anchor_held, &key);
            for record in &verified.discontinuities {
                println!(
                    "DISCONTINUITY at record {}: {}",
                    record.seq,
                    record.entry.detail.as_deref().unwrap_or_default()
                );
                anchored = false;
            }
            let reconciled = if reconcile {
                reconcile_with(&path, &*store).await?
            } else {
                true
            };
            if !anchored || !reconciled {
                bail!("the audit log and the store disagree");
            }
            Ok(())
        }
        AuditCommand::Repair { file, instance } => {
            let path = file.unwrap_or(default_log);
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_secs())
                .unwrap_or(0);
            let aside = PathBuf::from(format!("{}.broken-{now}", path.display()));
            let Some(line) = keyhold_core::audit::repair(&path, &aside)? else {
                println!("{}: chain intact, nothing to repair", path.display());
                return Ok(());
            };
            println!(
                "{}: cut at line {line}; the original is kept at {}",
                path.display(),
                aside.display()
            );
            // The store's anchor names a record the cut removed: an operator who can open the seal
            // moves it to the repaired head, so the next verify checks against what is now there.
            match instance.open(&args.data_dir.path).await {
                Ok((store, key)) => {
                    let head = keyhold_core::audit::verify_keyed(&path, &key, None)?;
                    let anchor = keyhold_core::audit::Anchor::new(
                        head.records,
                        head.head,
                        Some(std::fs::metadata(&path)?.len()),
                        &key,
                    );
                    store
                        .put_meta(&keyhold_core::audit::anchor_key(&path), &serde_json::to_vec(&anchor)?)
                        .await
                        .context("record the repaired head")?;
                    println!("anchor: moved to record {}", anchor.seq);
                }
                Err(e) => println!(
                    "anchor: not moved ({e:#}); `audit verify` reports the cut until the server records a new head"
                ),
            }
            Ok(())
        }
    }
}

/// Whether the log still holds the head the server last recorded (`held`, found by the verifying
/// pass), and the record is keyhold's own.
fn report_anchor(name: &str, anchor: Option<&keyhold_core::audit::Anchor>, held: bool, key: &AuditKey) -> bool {
    match anchor {
        Some(anchor) if !anchor.authentic(key) => {
            println!("FORGED ANCHOR: the store's anchor for this log does not carry keyhold's MAC");
            false
        }
        Some(anchor) if held => {
            println!("anchor: record {} is where the store says it is", anchor.seq);
            true
        }
        Some(anchor) => {
            println!(
                "TRUNCATED OR REWRITTEN: the store's anchor says record {} has hash {}; the log does not",
                anchor.seq, anchor.hash
            );
            false
        }
        None => {
            println!("anchor: none in the store for {name} (this log was never synced from this host and path)");
            true
        }
    }
}

/// Compares the log's secret writes with the store; prints what disagrees and returns whether nothing did.
async fn reconcile_with(path: &std::path::Path, store: &dyn Store) -> anyhow::Result<bool> {
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
    Ok(report.clean())
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
