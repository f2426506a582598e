//! `keyhold audit verify`: checks the hash chain of an audit log file.

use std::path::PathBuf;

use clap::{Args, Subcommand};

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
    #[command(after_help = "Example:\n  keyhold audit verify --file ./keyhold-data/audit.log")]
    Verify {
        /// The log (default: <data-dir>/audit.log).
        #[arg(long)]
        file: Option<PathBuf>,
    },
}

pub fn run(args: AuditArgs) -> anyhow::Result<()> {
    match args.command {
        AuditCommand::Verify { file } => {
            let path = file.unwrap_or_else(|| args.data_dir.path.join("audit.log"));
            let (records, _) = keyhold_core::audit::verify(&path)?;
            println!("{}: {records} records, chain intact", path.display());
            Ok(())
        }
    }
}
