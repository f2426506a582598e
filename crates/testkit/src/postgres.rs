//! A PostgreSQL database of its own for one test, in the cluster named by `KEYHOLD_TEST_POSTGRES_URL`
//! (`tools/pg-test-cluster.sh start` prints one). When the variable is unset, tests that need PostgreSQL
//! fail if `CI` or `KEYHOLD_REQUIRE_POSTGRES` is set, and otherwise say `SKIPPED: postgres` on stderr.

use std::io::Write;

use anyhow::{Context, Result, bail};
pub use tokio_postgres;
use tokio_postgres::NoTls;

pub struct PostgresDatabase {
    admin: tokio_postgres::Client,
    name: String,
    /// `postgres://…/<fresh database>`, for `keyhold serve --database`.
    pub url: String,
}

fn env_flag(name: &str) -> bool {
    std::env::var(name).is_ok_and(|v| !v.is_empty() && v != "0" && v != "false")
}

impl PostgresDatabase {
    /// Creates a database with a random name; `Ok(None)` when PostgreSQL tests may be skipped.
    pub async fn create() -> Result<Option<Self>> {
        let admin_url = match std::env::var("KEYHOLD_TEST_POSTGRES_URL") {
            Ok(url) if !url.is_empty() => url,
            _ if env_flag("CI") || env_flag("KEYHOLD_REQUIRE_POSTGRES") => bail!(
                "KEYHOLD_TEST_POSTGRES_URL is unset but CI / KEYHOLD_REQUIRE_POSTGRES requires the \
                 PostgreSQL tests: export KEYHOLD_TEST_POSTGRES_URL=\"$(tools/pg-test-cluster.sh start)\""
            ),
            _ => {
                // Not `eprintln!`: the test harness captures it and shows nothing for a passing test.
                let _ = writeln!(
                    std::io::stderr(),
                    "SKIPPED: postgres — KEYHOLD_TEST_POSTGRES_URL is unset, this test did NOT run \
                     against PostgreSQL (export KEYHOLD_TEST_POSTGRES_URL=\"$(tools/pg-test-cluster.sh start)\")"
                );
                return Ok(None);
            }
        };
        let (admin, conn) = tokio_postgres::connect(&admin_url, NoTls)
            .await
            .context("connect to KEYHOLD_TEST_POSTGRES_URL")?;
        tokio::spawn(conn);
        let name = format!("keyhold_e2e_{}", uuid::Uuid::new_v4().simple());
        admin
            .batch_execute(&format!("CREATE DATABASE {name}"))
            .await
            .context("CREATE DATABASE")?;
        let mut url = url::Url::parse(&admin_url).context("KEYHOLD_TEST_POSTGRES_URL is a URL")?;
        url.set_path(&name);
        Ok(Some(Self {
            admin,
            name,
            url: url.into(),
        }))
    }

    /// A plain connection to the test's database, to look at what the server stored.
    pub async fn connect(&self) -> Result<tokio_postgres::Client> {
        let (client, conn) = tokio_postgres::connect(&self.url, NoTls).await?;
        tokio::spawn(conn);
        Ok(client)
    }

    /// Drops the database (connections still open are closed).
    pub async fn drop(self) -> Result<()> {
        self.admin
            .batch_execute(&format!("DROP DATABASE {} WITH (FORCE)", self.name))
            .await
            .context("DROP DATABASE")
    }
}
