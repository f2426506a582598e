//! Certificate tables, shaped like the key tables. Writes to one certificate name take the
//! certificate's, then the key's, then the secret's advisory lock of that name (always in this
//! order, so no cycle with key or secret writers, which take one each), as `secrets.rs` explains.

use async_trait::async_trait;
use deadpool_postgres::{GenericClient, Object, Transaction};
use tokio_postgres::Row;

use super::{PostgresStore, db_err, execute, fold, keys, query, query_opt, secrets};
use crate::{
    columns::{from_json, opt_from_json, opt_to_json, to_json},
    *,
};

const COLS: &str = "s.seq, s.vault, s.name, s.version, s.cer, s.x5t, s.content_type, s.enabled, s.nbf, s.exp, s.tags,
    s.created, s.updated, s.preserve_cert_order";
const LIVE: &str =
    "NOT EXISTS (SELECT 1 FROM deleted_certificates d WHERE d.vault_key = s.vault_key AND d.name_key = s.name_key)";
const LATEST: &str = "s.seq = (SELECT MAX(t.seq) FROM certificate_versions t WHERE t.vault_key = s.vault_key AND t.name_key = s.name_key)";

fn row(r: &Row) -> Result<CertificateVersionRecord> {
    Ok(CertificateVersionRecord {
        seq: r.try_get(0).map_err(db_err)?,
        vault: r.try_get(1).map_err(db_err)?,
        name: r.try_get(2).map_err(db_err)?,
        version: r.try_get(3).map_err(db_err)?,
        cer: r.try_get(4).map_err(db_err)?,
        x5t: r.try_get(5).map_err(db_err)?,
        content_type: r.try_get(6).map_err(db_err)?,
        enabled: r.try_get(7).map_err(db_err)?,
        nbf: r.try_get(8).map_err(db_err)?,
        exp: r.try_get(9).map_err(db_err)?,
        tags: opt_from_json(r.try_get(10).map_err(db_err)?)?,
        created: r.try_get(11).map_err(db_err)?,
        updated: r.try_get(12).map_err(db_err)?,
        preserve_cert_order: r.try_get(13).map_err(db_err)?,
    })
}

fn deleted_row(r: &Row) -> Result<DeletedCertificate> {
    let latest = row(r)?;
    Ok((
        DeletedCertificateRecord {
            vault: latest.vault.clone(),
            name: latest.name.clone(),
            deleted_date: r.try_get(14).map_err(db_err)?,
            scheduled_purge_date: r.try_get(15).map_err(db_err)?,
        },
        latest,
    ))
}

fn deleted_select(filter: &str) -> String {
    format!(
        "SELECT {COLS}, d.deleted_date, d.scheduled_purge_date FROM deleted_certificates d
         JOIN certificate_versions s ON s.vault_key = d.vault_key AND s.name_key = d.name_key AND {LATEST} WHERE {filter}"
    )
}

async fn locked<'a>(c: &'a mut Object, vault: &str, name: &str) -> Result<Transaction<'a>> {
    let tx = c.transaction().await.map_err(db_err)?;
    for lock in [
        "SELECT pg_advisory_xact_lock(hashtext('certificate:' || $1), hashtext($2))",
        "SELECT pg_advisory_xact_lock(hashtext('key:' || $1), hashtext($2))",
        "SELECT pg_advisory_xact_lock(hashtext($1), hashtext($2))",
    ] {
        execute(&tx, lock, &[&fold(vault), &fold(name)]).await?;
    }
    Ok(tx)
}

async fn is_deleted(c: &impl GenericClient, vault: &str, name: &str) -> Result<bool> {
    Ok(query_opt(
        c,
        "SELECT 1 FROM deleted_certificates WHERE vault_key = $1 AND name_key = $2",
        &[&fold(vault), &fold(name)],
    )
    .await?
    .is_some())
}

async fn insert(c: &impl GenericClient, v: &CertificateVersionRecord) -> Result<()> {
    execute(
        c,
        "INSERT INTO certificate_versions (vault, name, version, cer, x5t, content_type, enabled, nbf, exp, tags, created, updated,
             preserve_cert_order)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)",
        &[
            &v.vault,
            &v.name,
            &v.version,
            &v.cer,
            &v.x5t,
            &v.content_type,
            &v.enabled,
            &v.nbf,
            &v.exp,
            &opt_to_json(v.tags.as_ref())?,
            &v.created,
            &v.updated,
            &v.preserve_cert_order,
        ],
    )
    .await
    .map(drop)
}

async fn put_policy(c: &impl GenericClient, p: &CertificatePolicyRecord) -> Result<()> {
    execute(
        c,
        "INSERT INTO certificate_policies (vault, name, policy, created, updated) VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (vault_key, name_key) DO UPDATE SET policy = excluded.policy, updated = excluded.updated",
        &[&p.vault, &p.name, &to_json(&p.policy)?, &p.created, &p.updated],
    )
    .await
    .map(drop)
}

async fn put_operation(c: &impl GenericClient, o: &CertificateOperationRecord) -> Result<()> {
    execute(
        c,
        "INSERT INTO certificate_operations (vault, name, operation, private, updated) VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (vault_key, name_key) DO UPDATE SET operation = excluded.operation, private = excluded.private,
             updated = excluded.updated",
        &[
            &o.vault,
            &o.name,
            &to_json(&o.operation)?,
            &o.private.as_ref().map(|p| p.as_bytes().to_vec()),
            &o.updated,
        ],
    )
    .await
    .map(drop)
}

const ISSUER_COLS: &str = "vault, name, issuer, credentials, created, updated";

fn issuer_row(r: &Row) -> Result<CertificateIssuerRecord> {
    let issuer: String = r.try_get(2).map_err(db_err)?;
    let credentials: Option<Vec<u8>> = r.try_get(3).map_err(db_err)?;
    Ok(CertificateIssuerRecord {
        vault: r.try_get(0).map_err(db_err)?,
        name: r.try_get(1).map_err(db_err)?,
        issuer: from_json(&issuer)?,
        credentials: credentials
            .map(Sealed::from_stored)
            .transpose()
            .map_err(|e| StoreError::Corrupt(e.to_string()))?,
        created: r.try_get(4).map_err(db_err)?,
        updated: r.try_get(5).map_err(db_err)?,
    })
}

fn after_seq(page: &PageRequest) -> i64 {
    page.after.as_deref().and_then(|a| a.parse().ok()).unwrap_or(0)
}

#[async_trait]
impl CertificateStore for PostgresStore {
    async fn put_certificate_version(&self, n: &NewCertificateVersion) -> Result<()> {
        let n = n.clone();
        self.row_write(move |db| async move {
            let n = &n;
            let mut c = db.client().await?;
            let (vault, name) = (&n.certificate.vault, &n.certificate.name);
            let tx = locked(&mut c, vault, name).await?;
            if is_deleted(&tx, vault, name).await?
                || keys::is_deleted(&tx, vault, name).await?
                || secrets::is_deleted(&tx, vault, name).await?
            {
                return Err(StoreError::Deleted);
            }
            for table in ["key_versions", "secret_versions"] {
                let plain = query_opt(
                    &tx,
                    &format!("SELECT 1 FROM {table} WHERE vault_key = $1 AND name_key = $2 AND NOT managed LIMIT 1"),
                    &[&fold(vault), &fold(name)],
                )
                .await?;
                if plain.is_some() {
                    return Err(StoreError::Exists);
                }
            }
            insert(&tx, &n.certificate).await?;
            keys::insert(&tx, &n.key).await?;
            secrets::insert(&tx, &n.secret).await?;
            put_policy(&tx, &n.policy).await?;
            if let Some(op) = &n.operation {
                put_operation(&tx, op).await?;
            }
            tx.commit().await.map_err(db_err)
        })
        .await
    }

    async fn update_certificate_version(&self, v: &CertificateVersionRecord) -> Result<()> {
        let v = v.clone();
        self.row_write(move |db| async move {
            let v = &v;
            let mut c = db.client().await?;
            let tx = locked(&mut c, &v.vault, &v.name).await?;
            let n = execute(
                &tx,
                &format!(
                    "UPDATE certificate_versions AS s SET enabled = $4, tags = $5, updated = $6
                     WHERE s.vault_key = $1 AND s.name_key = $2 AND s.version = $3 AND {LIVE}"
                ),
                &[
                    &fold(&v.vault),
                    &fold(&v.name),
                    &v.version,
                    &v.enabled,
                    &opt_to_json(v.tags.as_ref())?,
                    &v.updated,
                ],
            )
            .await?;
            if n == 0 {
                return Err(StoreError::NotFound);
            }
            for table in ["key_versions", "secret_versions"] {
                execute(
                    &tx,
                    &format!(
                        "UPDATE {table} SET enabled = $4, updated = $5 WHERE vault_key = $1 AND name_key = $2 AND version = $3"
                    ),
                    &[&fold(&v.vault), &fold(&v.name), &v.version, &v.enabled, &v.updated],
                )
                .await?;
            }
            tx.commit().await.map_err(db_err)
        })
        .await
    }

    async fn certificate_version(
        &self,
        vault: &str,
        name: &str,
        version: Option<&str>,
    ) -> Result<Option<CertificateVersionRecord>> {
        let c = self.client().await?;
        let (vault, name) = (fold(vault), fold(name));
        let found = match version {
            Some(v) => {
                query_opt(
                    &c,
                    &format!(
                        "SELECT {COLS} FROM certificate_versions s WHERE s.vault_key = $1 AND s.name_key = $2 AND s.version = $3 AND {LIVE}"
                    ),
                    &[&vault, &name, &v],
                )
                .await?
            }
            None => {
                query_opt(
                    &c,
                    &format!(
                        "SELECT {COLS} FROM certificate_versions s WHERE s.vault_key = $1 AND s.name_key = $2 AND {LIVE}
                         ORDER BY s.seq DESC LIMIT 1"
                    ),
                    &[&vault, &name],
                )
                .await?
            }
        };
        found.as_ref().map(row).transpose()
    }

    async fn list_certificates(&self, vault: &str, page: &PageRequest) -> Result<Vec<CertificateVersionRecord>> {
        let after = fold(page.after.as_deref().unwrap_or_default());
        let rows = query(
            &self.client().await?,
            &format!(
                "SELECT {COLS} FROM certificate_versions s WHERE s.vault_key = $1 AND s.name_key > $2 AND {LIVE} AND {LATEST}
                 ORDER BY s.name_key LIMIT $3"
            ),
            &[&fold(vault), &after, &i64::from(page.limit)],
        )
        .await?;
        rows.iter().map(row).collect()
    }

    async fn list_certificate_versions(
        &self,
        vault: &str,
        name: &str,
        page: &PageRequest,
    ) -> Result<Vec<CertificateVersionRecord>> {
        let rows = query(
            &self.client().await?,
            &format!(
                "SELECT {COLS} FROM certificate_versions s WHERE s.vault_key = $1 AND s.name_key = $2 AND s.seq > $3 AND {LIVE}
                 ORDER BY s.seq LIMIT $4"
            ),
            &[&fold(vault), &fold(name), &after_seq(page), &i64::from(page.limit)],
        )
        .await?;
        rows.iter().map(row).collect()
    }

    async fn put_certificate_policy(&self, p: &CertificatePolicyRecord) -> Result<()> {
        put_policy(&self.client().await?, p).await
    }

    async fn certificate_policy(&self, vault: &str, name: &str) -> Result<Option<CertificatePolicyRecord>> {
        let found = query_opt(
            &self.client().await?,
            "SELECT vault, name, policy, created, updated FROM certificate_policies WHERE vault_key = $1 AND name_key = $2",
            &[&fold(vault), &fold(name)],
        )
        .await?;
        found
            .map(|r| {
                let policy: String = r.try_get(2).map_err(db_err)?;
                Ok(CertificatePolicyRecord {
                    vault: r.try_get(0).map_err(db_err)?,
                    name: r.try_get(1).map_err(db_err)?,
                    policy: from_json(&policy)?,
                    created: r.try_get(3).map_err(db_err)?,
                    updated: r.try_get(4).map_err(db_err)?,
                })
            })
            .transpose()
    }

    async fn certificate_policies(&self) -> Result<Vec<CertificatePolicyRecord>> {
        let rows = query(
            &self.client().await?,
            "SELECT p.vault, p.name, p.policy, p.created, p.updated FROM certificate_policies p
             WHERE EXISTS (SELECT 1 FROM certificate_versions v WHERE v.vault_key = p.vault_key AND v.name_key = p.name_key)
               AND NOT EXISTS (SELECT 1 FROM deleted_certificates d WHERE d.vault_key = p.vault_key AND d.name_key = p.name_key)
             ORDER BY p.vault_key, p.name_key",
            &[],
        )
        .await?;
        rows.iter()
            .map(|r| {
                let policy: String = r.try_get(2).map_err(db_err)?;
                Ok(CertificatePolicyRecord {
                    vault: r.try_get(0).map_err(db_err)?,
                    name: r.try_get(1).map_err(db_err)?,
                    policy: from_json(&policy)?,
                    created: r.try_get(3).map_err(db_err)?,
                    updated: r.try_get(4).map_err(db_err)?,
                })
            })
            .collect()
    }

    async fn put_certificate_operation(
        &self,
        o: &CertificateOperationRecord,
        policy: Option<&CertificatePolicyRecord>,
    ) -> Result<()> {
        let mut c = self.client().await?;
        let tx = locked(&mut c, &o.vault, &o.name).await?;
        if is_deleted(&tx, &o.vault, &o.name).await? {
            return Err(StoreError::Deleted);
        }
        put_operation(&tx, o).await?;
        if let Some(p) = policy {
            put_policy(&tx, p).await?;
        }
        tx.commit().await.map_err(db_err)
    }

    async fn certificate_operation(&self, vault: &str, name: &str) -> Result<Option<CertificateOperationRecord>> {
        let found = query_opt(
            &self.client().await?,
            "SELECT vault, name, operation, updated, private FROM certificate_operations WHERE vault_key = $1 AND name_key = $2",
            &[&fold(vault), &fold(name)],
        )
        .await?;
        found
            .map(|r| {
                let op: String = r.try_get(2).map_err(db_err)?;
                let private: Option<Vec<u8>> = r.try_get(4).map_err(db_err)?;
                Ok(CertificateOperationRecord {
                    vault: r.try_get(0).map_err(db_err)?,
                    name: r.try_get(1).map_err(db_err)?,
                    operation: from_json(&op)?,
                    private: private
                        .map(Sealed::from_stored)
                        .transpose()
                        .map_err(|e| StoreError::Corrupt(e.to_string()))?,
                    updated: r.try_get(3).map_err(db_err)?,
                })
            })
            .transpose()
    }

    async fn delete_certificate_operation(&self, vault: &str, name: &str) -> Result<()> {
        let n = execute(
            &self.client().await?,
            "DELETE FROM certificate_operations WHERE vault_key = $1 AND name_key = $2",
            &[&fold(vault), &fold(name)],
        )
        .await?;
        if n == 0 { Err(StoreError::NotFound) } else { Ok(()) }
    }

    async fn delete_certificate(&self, d: &DeletedCertificateRecord) -> Result<()> {
        let d = d.clone();
        self.row_write(move |db| async move {
            let d = &d;
            let mut c = db.client().await?;
            let tx = locked(&mut c, &d.vault, &d.name).await?;
            let exists = query_opt(
                &tx,
                &format!(
                    "SELECT 1 FROM certificate_versions s WHERE s.vault_key = $1 AND s.name_key = $2 AND {LIVE} LIMIT 1"
                ),
                &[&fold(&d.vault), &fold(&d.name)],
            )
            .await?;
            if exists.is_none() {
                return Err(StoreError::NotFound);
            }
            for table in ["deleted_certificates", "deleted_keys", "deleted_secrets"] {
                execute(
                    &tx,
                    &format!(
                        "INSERT INTO {table} (vault, name, deleted_date, scheduled_purge_date) VALUES ($1, $2, $3, $4)
                         ON CONFLICT DO NOTHING"
                    ),
                    &[&d.vault, &d.name, &d.deleted_date, &d.scheduled_purge_date],
                )
                .await?;
            }
            tx.commit().await.map_err(db_err)
        })
        .await
    }

    async fn deleted_certificate(&self, vault: &str, name: &str) -> Result<Option<DeletedCertificate>> {
        query_opt(
            &self.client().await?,
            &deleted_select("d.vault_key = $1 AND d.name_key = $2"),
            &[&fold(vault), &fold(name)],
        )
        .await?
        .as_ref()
        .map(deleted_row)
        .transpose()
    }

    async fn list_deleted_certificates(&self, vault: &str, page: &PageRequest) -> Result<Vec<DeletedCertificate>> {
        let after = fold(page.after.as_deref().unwrap_or_default());
        let rows = query(
            &self.client().await?,
            &format!(
                "{} ORDER BY d.name_key LIMIT $3",
                deleted_select("d.vault_key = $1 AND d.name_key > $2")
            ),
            &[&fold(vault), &after, &i64::from(page.limit)],
        )
        .await?;
        rows.iter().map(deleted_row).collect()
    }

    async fn recover_certificate(&self, vault: &str, name: &str) -> Result<()> {
        let vault = vault.to_owned();
        let name = name.to_owned();
        self.row_write(move |db| async move {
            let vault = vault.as_str();
            let name = name.as_str();
            let mut c = db.client().await?;
            let tx = locked(&mut c, vault, name).await?;
            let n = execute(
                &tx,
                "DELETE FROM deleted_certificates WHERE vault_key = $1 AND name_key = $2",
                &[&fold(vault), &fold(name)],
            )
            .await?;
            if n == 0 {
                return Err(StoreError::NotFound);
            }
            for table in ["deleted_keys", "deleted_secrets"] {
                execute(
                    &tx,
                    &format!("DELETE FROM {table} WHERE vault_key = $1 AND name_key = $2"),
                    &[&fold(vault), &fold(name)],
                )
                .await?;
            }
            tx.commit().await.map_err(db_err)
        })
        .await
    }

    async fn purge_certificate(&self, vault: &str, name: &str) -> Result<()> {
        let vault = vault.to_owned();
        let name = name.to_owned();
        self.row_write(move |db| async move {
            let vault = vault.as_str();
            let name = name.as_str();
            let mut c = db.client().await?;
            let tx = locked(&mut c, vault, name).await?;
            if !is_deleted(&tx, vault, name).await? {
                return Err(StoreError::NotFound);
            }
            for table in [
                "deleted_certificates",
                "certificate_versions",
                "certificate_policies",
                "certificate_operations",
                "deleted_keys",
                "key_versions",
                "key_policies",
                "deleted_secrets",
                "secret_versions",
            ] {
                execute(
                    &tx,
                    &format!("DELETE FROM {table} WHERE vault_key = $1 AND name_key = $2"),
                    &[&fold(vault), &fold(name)],
                )
                .await?;
            }
            tx.commit().await.map_err(db_err)
        })
        .await
    }

    async fn restore_certificate(&self, versions: &[NewCertificateVersion]) -> Result<()> {
        let versions = versions.to_vec();
        self.row_write(move |db| async move {
            let versions = versions.as_slice();
            let Some(last) = versions.last() else {
                return Err(StoreError::NotFound);
            };
            let (vault, name) = (&last.certificate.vault, &last.certificate.name);
            let mut c = db.client().await?;
            let tx = locked(&mut c, vault, name).await?;
            if is_deleted(&tx, vault, name).await?
                || keys::is_deleted(&tx, vault, name).await?
                || secrets::is_deleted(&tx, vault, name).await?
            {
                return Err(StoreError::Deleted);
            }
            for table in ["certificate_versions", "key_versions", "secret_versions"] {
                let taken = query_opt(
                    &tx,
                    &format!("SELECT 1 FROM {table} WHERE vault_key = $1 AND name_key = $2 LIMIT 1"),
                    &[&fold(vault), &fold(name)],
                )
                .await?;
                if taken.is_some() {
                    return Err(StoreError::Exists);
                }
            }
            for v in versions {
                insert(&tx, &v.certificate).await?;
                keys::insert(&tx, &v.key).await?;
                secrets::insert(&tx, &v.secret).await?;
            }
            put_policy(&tx, &last.policy).await?;
            tx.commit().await.map_err(db_err)
        })
        .await
    }

    async fn purgeable_certificates(&self, now: i64) -> Result<Vec<(String, String)>> {
        let rows = query(
            &self.client().await?,
            "SELECT vault, name FROM deleted_certificates WHERE scheduled_purge_date <= $1",
            &[&now],
        )
        .await?;
        rows.iter()
            .map(|r| Ok((r.try_get(0).map_err(db_err)?, r.try_get(1).map_err(db_err)?)))
            .collect()
    }

    async fn put_certificate_contacts(&self, vault: &str, contacts: &serde_json::Value, now: i64) -> Result<()> {
        execute(
            &self.client().await?,
            "INSERT INTO certificate_contacts (vault, contacts, updated) VALUES ($1, $2, $3)
             ON CONFLICT (vault_key) DO UPDATE SET contacts = excluded.contacts, updated = excluded.updated",
            &[&vault, &to_json(contacts)?, &now],
        )
        .await
        .map(drop)
    }

    async fn certificate_contacts(&self, vault: &str) -> Result<Option<serde_json::Value>> {
        let found = query_opt(
            &self.client().await?,
            "SELECT contacts FROM certificate_contacts WHERE vault_key = $1",
            &[&fold(vault)],
        )
        .await?;
        found
            .map(|r| {
                let text: String = r.try_get(0).map_err(db_err)?;
                from_json(&text)
            })
            .transpose()
    }

    async fn delete_certificate_contacts(&self, vault: &str) -> Result<()> {
        let n = execute(
            &self.client().await?,
            "DELETE FROM certificate_contacts WHERE vault_key = $1",
            &[&fold(vault)],
        )
        .await?;
        if n == 0 { Err(StoreError::NotFound) } else { Ok(()) }
    }

    async fn put_certificate_issuer(&self, i: &CertificateIssuerRecord) -> Result<()> {
        execute(
            &self.client().await?,
            "INSERT INTO certificate_issuers (vault, name, issuer, credentials, created, updated)
             VALUES ($1, $2, $3, $4, $5, $6)
             ON CONFLICT (vault_key, name_key) DO UPDATE SET issuer = excluded.issuer,
                 credentials = excluded.credentials, updated = excluded.updated",
            &[
                &i.vault,
                &i.name,
                &to_json(&i.issuer)?,
                &i.credentials.as_ref().map(|s| s.as_bytes().to_vec()),
                &i.created,
                &i.updated,
            ],
        )
        .await
        .map(drop)
    }

    async fn certificate_issuer(&self, vault: &str, name: &str) -> Result<Option<CertificateIssuerRecord>> {
        query_opt(
            &self.client().await?,
            &format!("SELECT {ISSUER_COLS} FROM certificate_issuers WHERE vault_key = $1 AND name_key = $2"),
            &[&fold(vault), &fold(name)],
        )
        .await?
        .as_ref()
        .map(issuer_row)
        .transpose()
    }

    async fn list_certificate_issuers(&self, vault: &str, page: &PageRequest) -> Result<Vec<CertificateIssuerRecord>> {
        let rows = query(
            &self.client().await?,
            &format!(
                "SELECT {ISSUER_COLS} FROM certificate_issuers WHERE vault_key = $1 AND name_key > $2
                 ORDER BY name_key LIMIT $3"
            ),
            &[
                &fold(vault),
                &fold(page.after.as_deref().unwrap_or_default()),
                &i64::from(page.limit),
            ],
        )
        .await?;
        rows.iter().map(issuer_row).collect()
    }

    async fn delete_certificate_issuer(&self, vault: &str, name: &str) -> Result<()> {
        let n = execute(
            &self.client().await?,
            "DELETE FROM certificate_issuers WHERE vault_key = $1 AND name_key = $2",
            &[&fold(vault), &fold(name)],
        )
        .await?;
        if n == 0 { Err(StoreError::NotFound) } else { Ok(()) }
    }
}
