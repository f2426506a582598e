//! Certificate tables, shaped like the key tables. A new version inserts its key and secret versions
//! in the same transaction; deletion, recovery and purge move the key and secret of the name with it.

use async_trait::async_trait;
use rusqlite::{Connection, OptionalExtension, Row, params};

use super::{SqliteStore, db_err, keys, secrets};
use crate::{columns::opt_to_json, *};

const COLS: &str = "s.seq, s.vault, s.name, s.version, s.cer, s.x5t, s.content_type, s.enabled, s.nbf, s.exp, s.tags,
    s.created, s.updated, s.preserve_cert_order";
const LIVE: &str = "NOT EXISTS (SELECT 1 FROM deleted_certificates d WHERE d.vault = s.vault AND d.name = s.name)";
const LATEST: &str =
    "s.seq = (SELECT MAX(seq) FROM certificate_versions t WHERE t.vault = s.vault AND t.name = s.name)";

fn corrupt(i: usize, e: String) -> rusqlite::Error {
    rusqlite::Error::FromSqlConversionFailure(i, rusqlite::types::Type::Text, e.into())
}

fn row(r: &Row<'_>) -> rusqlite::Result<CertificateVersionRecord> {
    let tags: Option<String> = r.get(10)?;
    Ok(CertificateVersionRecord {
        seq: r.get(0)?,
        vault: r.get(1)?,
        name: r.get(2)?,
        version: r.get(3)?,
        cer: r.get(4)?,
        x5t: r.get(5)?,
        content_type: r.get(6)?,
        enabled: r.get(7)?,
        nbf: r.get(8)?,
        exp: r.get(9)?,
        tags: match tags {
            Some(t) => Some(serde_json::from_str(&t).map_err(|e| corrupt(10, e.to_string()))?),
            None => None,
        },
        created: r.get(11)?,
        updated: r.get(12)?,
        preserve_cert_order: r.get(13)?,
    })
}

fn many(c: &Connection, sql: &str, p: impl rusqlite::Params) -> Result<Vec<CertificateVersionRecord>> {
    let mut st = c.prepare(sql).map_err(db_err)?;
    let rows = st.query_map(p, row).map_err(db_err)?;
    rows.collect::<rusqlite::Result<_>>().map_err(db_err)
}

fn is_deleted(c: &Connection, vault: &str, name: &str) -> Result<bool> {
    c.query_row(
        "SELECT 1 FROM deleted_certificates WHERE vault = ?1 AND name = ?2",
        params![vault, name],
        |_| Ok(()),
    )
    .optional()
    .map(|o| o.is_some())
    .map_err(db_err)
}

fn insert(c: &Connection, v: &CertificateVersionRecord) -> Result<()> {
    c.execute(
        "INSERT INTO certificate_versions (vault, name, version, cer, x5t, content_type, enabled, nbf, exp, tags, created, updated,
             preserve_cert_order)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)",
        params![
            v.vault,
            v.name,
            v.version,
            v.cer,
            v.x5t,
            v.content_type,
            v.enabled,
            v.nbf,
            v.exp,
            opt_to_json(v.tags.as_ref())?,
            v.created,
            v.updated,
            v.preserve_cert_order
        ],
    )
    .map(drop)
    .map_err(db_err)
}

fn put_policy(c: &Connection, p: &CertificatePolicyRecord) -> Result<()> {
    c.execute(
        "INSERT INTO certificate_policies (vault, name, policy, created, updated) VALUES (?1, ?2, ?3, ?4, ?5)
         ON CONFLICT (vault, name) DO UPDATE SET policy = excluded.policy, updated = excluded.updated",
        params![p.vault, p.name, columns::to_json(&p.policy)?, p.created, p.updated],
    )
    .map(drop)
    .map_err(db_err)
}

fn put_operation(c: &Connection, o: &CertificateOperationRecord) -> Result<()> {
    c.execute(
        "INSERT INTO certificate_operations (vault, name, operation, private, updated) VALUES (?1, ?2, ?3, ?4, ?5)
         ON CONFLICT (vault, name) DO UPDATE SET operation = excluded.operation, private = excluded.private,
             updated = excluded.updated",
        params![
            o.vault,
            o.name,
            columns::to_json(&o.operation)?,
            o.private.as_ref().map(|p| p.as_bytes().to_vec()),
            o.updated
        ],
    )
    .map(drop)
    .map_err(db_err)
}

fn deleted_row(r: &Row<'_>) -> rusqlite::Result<DeletedCertificate> {
    let latest = row(r)?;
    Ok((
        DeletedCertificateRecord {
            vault: latest.vault.clone(),
            name: latest.name.clone(),
            deleted_date: r.get(14)?,
            scheduled_purge_date: r.get(15)?,
        },
        latest,
    ))
}

fn deleted_select(filter: &str) -> String {
    format!(
        "SELECT {COLS}, d.deleted_date, d.scheduled_purge_date FROM deleted_certificates d
         JOIN certificate_versions s ON s.vault = d.vault AND s.name = d.name AND {LATEST} WHERE {filter}"
    )
}

const ISSUER_COLS: &str = "vault, name, issuer, credentials, created, updated";

fn issuer_row(r: &Row<'_>) -> rusqlite::Result<CertificateIssuerRecord> {
    let issuer: String = r.get(2)?;
    let credentials: Option<Vec<u8>> = r.get(3)?;
    Ok(CertificateIssuerRecord {
        vault: r.get(0)?,
        name: r.get(1)?,
        issuer: serde_json::from_str(&issuer).map_err(|e| corrupt(2, e.to_string()))?,
        credentials: credentials
            .map(Sealed::from_stored)
            .transpose()
            .map_err(|e| corrupt(3, e.to_string()))?,
        created: r.get(4)?,
        updated: r.get(5)?,
    })
}

fn after_seq(page: &PageRequest) -> i64 {
    page.after.as_deref().and_then(|a| a.parse().ok()).unwrap_or(0)
}

#[async_trait]
impl CertificateStore for SqliteStore {
    async fn put_certificate_version(&self, c: &NewCertificateVersion) -> Result<()> {
        let c = c.clone();
        self.write(move |conn| {
            let tx = conn.savepoint().map_err(db_err)?;
            let (vault, name) = (&c.certificate.vault, &c.certificate.name);
            if is_deleted(&tx, vault, name)?
                || keys::is_deleted(&tx, vault, name)?
                || secrets::is_deleted(&tx, vault, name)?
            {
                return Err(StoreError::Deleted);
            }
            for table in ["key_versions", "secret_versions"] {
                let plain = tx
                    .query_row(
                        &format!("SELECT 1 FROM {table} WHERE vault = ?1 AND name = ?2 AND NOT managed LIMIT 1"),
                        params![vault, name],
                        |_| Ok(()),
                    )
                    .optional()
                    .map_err(db_err)?;
                if plain.is_some() {
                    return Err(StoreError::Exists);
                }
            }
            insert(&tx, &c.certificate)?;
            keys::insert(&tx, &c.key)?;
            secrets::insert(&tx, &c.secret)?;
            put_policy(&tx, &c.policy)?;
            if let Some(op) = &c.operation {
                put_operation(&tx, op)?;
            }
            tx.commit().map_err(db_err)
        })
        .await
    }

    async fn update_certificate_version(&self, v: &CertificateVersionRecord) -> Result<()> {
        let v = v.clone();
        self.write(move |c| {
            let tx = c.savepoint().map_err(db_err)?;
            let n = tx
                .execute(
                    &format!(
                        "UPDATE certificate_versions AS s SET enabled = ?4, tags = ?5, updated = ?6
                         WHERE vault = ?1 AND name = ?2 AND version = ?3 AND {LIVE}"
                    ),
                    params![
                        v.vault,
                        v.name,
                        v.version,
                        v.enabled,
                        opt_to_json(v.tags.as_ref())?,
                        v.updated
                    ],
                )
                .map_err(db_err)?;
            if n == 0 {
                return Err(StoreError::NotFound);
            }
            for table in ["key_versions", "secret_versions"] {
                tx.execute(
                    &format!(
                        "UPDATE {table} SET enabled = ?4, updated = ?5 WHERE vault = ?1 AND name = ?2 AND version = ?3"
                    ),
                    params![v.vault, v.name, v.version, v.enabled, v.updated],
                )
                .map_err(db_err)?;
            }
            tx.commit().map_err(db_err)
        })
        .await
    }

    async fn certificate_version(
        &self,
        vault: &str,
        name: &str,
        version: Option<&str>,
    ) -> Result<Option<CertificateVersionRecord>> {
        let (vault, name, version) = (vault.to_owned(), name.to_owned(), version.map(str::to_owned));
        self.read(move |c| {
            let res = match version {
                Some(v) => c.query_row(
                    &format!(
                        "SELECT {COLS} FROM certificate_versions s WHERE vault = ?1 AND name = ?2 AND version = ?3 AND {LIVE}"
                    ),
                    params![vault, name, v],
                    row,
                ),
                None => c.query_row(
                    &format!(
                        "SELECT {COLS} FROM certificate_versions s WHERE vault = ?1 AND name = ?2 AND {LIVE} ORDER BY seq DESC LIMIT 1"
                    ),
                    params![vault, name],
                    row,
                ),
            };
            res.optional().map_err(db_err)
        })
        .await
    }

    async fn list_certificates(&self, vault: &str, page: &PageRequest) -> Result<Vec<CertificateVersionRecord>> {
        let (vault, after, limit) = (vault.to_owned(), page.after.clone().unwrap_or_default(), page.limit);
        self.read(move |c| {
            many(
                c,
                &format!(
                    "SELECT {COLS} FROM certificate_versions s WHERE vault = ?1 AND name > ?2 AND {LIVE} AND {LATEST}
                     ORDER BY name COLLATE NOCASE LIMIT ?3"
                ),
                params![vault, after, limit],
            )
        })
        .await
    }

    async fn list_certificate_versions(
        &self,
        vault: &str,
        name: &str,
        page: &PageRequest,
    ) -> Result<Vec<CertificateVersionRecord>> {
        let (vault, name, after, limit) = (vault.to_owned(), name.to_owned(), after_seq(page), page.limit);
        self.read(move |c| {
            many(
                c,
                &format!(
                    "SELECT {COLS} FROM certificate_versions s WHERE vault = ?1 AND name = ?2 AND seq > ?3 AND {LIVE}
                     ORDER BY seq LIMIT ?4"
                ),
                params![vault, name, after, limit],
            )
        })
        .await
    }

    async fn put_certificate_policy(&self, p: &CertificatePolicyRecord) -> Result<()> {
        let p = p.clone();
        self.write(move |c| put_policy(c, &p)).await
    }

    async fn certificate_policy(&self, vault: &str, name: &str) -> Result<Option<CertificatePolicyRecord>> {
        let (vault, name) = (vault.to_owned(), name.to_owned());
        self.read(move |c| {
            c.query_row(
                "SELECT vault, name, policy, created, updated FROM certificate_policies WHERE vault = ?1 AND name = ?2",
                params![vault, name],
                |r| {
                    let policy: String = r.get(2)?;
                    Ok(CertificatePolicyRecord {
                        vault: r.get(0)?,
                        name: r.get(1)?,
                        policy: serde_json::from_str(&policy).map_err(|e| corrupt(2, e.to_string()))?,
                        created: r.get(3)?,
                        updated: r.get(4)?,
                    })
                },
            )
            .optional()
            .map_err(db_err)
        })
        .await
    }

    async fn certificate_policies(&self) -> Result<Vec<CertificatePolicyRecord>> {
        self.read(move |c| {
            let mut st = c
                .prepare(
                    "SELECT p.vault, p.name, p.policy, p.created, p.updated FROM certificate_policies p
                     WHERE EXISTS (SELECT 1 FROM certificate_versions v WHERE v.vault = p.vault AND v.name = p.name)
                       AND NOT EXISTS (SELECT 1 FROM deleted_certificates d WHERE d.vault = p.vault AND d.name = p.name)
                     ORDER BY p.vault, p.name",
                )
                .map_err(db_err)?;
            let rows = st
                .query_map([], |r| {
                    let policy: String = r.get(2)?;
                    Ok(CertificatePolicyRecord {
                        vault: r.get(0)?,
                        name: r.get(1)?,
                        policy: serde_json::from_str(&policy).map_err(|e| corrupt(2, e.to_string()))?,
                        created: r.get(3)?,
                        updated: r.get(4)?,
                    })
                })
                .map_err(db_err)?;
            rows.collect::<rusqlite::Result<_>>().map_err(db_err)
        })
        .await
    }

    async fn put_certificate_operation(
        &self,
        o: &CertificateOperationRecord,
        policy: Option<&CertificatePolicyRecord>,
    ) -> Result<()> {
        let (o, policy) = (o.clone(), policy.cloned());
        self.write(move |c| {
            let tx = c.savepoint().map_err(db_err)?;
            if is_deleted(&tx, &o.vault, &o.name)? {
                return Err(StoreError::Deleted);
            }
            put_operation(&tx, &o)?;
            if let Some(p) = &policy {
                put_policy(&tx, p)?;
            }
            tx.commit().map_err(db_err)
        })
        .await
    }

    async fn certificate_operation(&self, vault: &str, name: &str) -> Result<Option<CertificateOperationRecord>> {
        let (vault, name) = (vault.to_owned(), name.to_owned());
        self.read(move |c| {
            c.query_row(
                "SELECT vault, name, operation, updated, private FROM certificate_operations WHERE vault = ?1 AND name = ?2",
                params![vault, name],
                |r| {
                    let op: String = r.get(2)?;
                    let private: Option<Vec<u8>> = r.get(4)?;
                    Ok(CertificateOperationRecord {
                        vault: r.get(0)?,
                        name: r.get(1)?,
                        operation: serde_json::from_str(&op).map_err(|e| corrupt(2, e.to_string()))?,
                        private: private
                            .map(Sealed::from_stored)
                            .transpose()
                            .map_err(|e| corrupt(4, e.to_string()))?,
                        updated: r.get(3)?,
                    })
                },
            )
            .optional()
            .map_err(db_err)
        })
        .await
    }

    async fn delete_certificate_operation(&self, vault: &str, name: &str) -> Result<()> {
        let (vault, name) = (vault.to_owned(), name.to_owned());
        self.write(move |c| {
            let n = c
                .execute(
                    "DELETE FROM certificate_operations WHERE vault = ?1 AND name = ?2",
                    params![vault, name],
                )
                .map_err(db_err)?;
            if n == 0 { Err(StoreError::NotFound) } else { Ok(()) }
        })
        .await
    }

    async fn delete_certificate(&self, d: &DeletedCertificateRecord) -> Result<()> {
        let d = d.clone();
        self.write(move |c| {
            let tx = c.savepoint().map_err(db_err)?;
            let exists = tx
                .query_row(
                    &format!("SELECT 1 FROM certificate_versions s WHERE vault = ?1 AND name = ?2 AND {LIVE} LIMIT 1"),
                    params![d.vault, d.name],
                    |_| Ok(()),
                )
                .optional()
                .map_err(db_err)?;
            if exists.is_none() {
                return Err(StoreError::NotFound);
            }
            for table in ["deleted_certificates", "deleted_keys", "deleted_secrets"] {
                tx.execute(
                    &format!(
                        "INSERT INTO {table} (vault, name, deleted_date, scheduled_purge_date) VALUES (?1, ?2, ?3, ?4)
                         ON CONFLICT DO NOTHING"
                    ),
                    params![d.vault, d.name, d.deleted_date, d.scheduled_purge_date],
                )
                .map_err(db_err)?;
            }
            tx.commit().map_err(db_err)
        })
        .await
    }

    async fn deleted_certificate(&self, vault: &str, name: &str) -> Result<Option<DeletedCertificate>> {
        let (vault, name) = (vault.to_owned(), name.to_owned());
        self.read(move |c| {
            c.query_row(
                &deleted_select("d.vault = ?1 AND d.name = ?2"),
                params![vault, name],
                deleted_row,
            )
            .optional()
            .map_err(db_err)
        })
        .await
    }

    async fn list_deleted_certificates(&self, vault: &str, page: &PageRequest) -> Result<Vec<DeletedCertificate>> {
        let (vault, after, limit) = (vault.to_owned(), page.after.clone().unwrap_or_default(), page.limit);
        self.read(move |c| {
            let sql = format!(
                "{} ORDER BY d.name COLLATE NOCASE LIMIT ?3",
                deleted_select("d.vault = ?1 AND d.name > ?2")
            );
            let mut st = c.prepare(&sql).map_err(db_err)?;
            let rows = st
                .query_map(params![vault, after, limit], deleted_row)
                .map_err(db_err)?;
            rows.collect::<rusqlite::Result<_>>().map_err(db_err)
        })
        .await
    }

    async fn recover_certificate(&self, vault: &str, name: &str) -> Result<()> {
        let (vault, name) = (vault.to_owned(), name.to_owned());
        self.write(move |c| {
            let tx = c.savepoint().map_err(db_err)?;
            let n = tx
                .execute(
                    "DELETE FROM deleted_certificates WHERE vault = ?1 AND name = ?2",
                    params![vault, name],
                )
                .map_err(db_err)?;
            if n == 0 {
                return Err(StoreError::NotFound);
            }
            for table in ["deleted_keys", "deleted_secrets"] {
                tx.execute(
                    &format!("DELETE FROM {table} WHERE vault = ?1 AND name = ?2"),
                    params![vault, name],
                )
                .map_err(db_err)?;
            }
            tx.commit().map_err(db_err)
        })
        .await
    }

    async fn purge_certificate(&self, vault: &str, name: &str) -> Result<()> {
        let (vault, name) = (vault.to_owned(), name.to_owned());
        self.write(move |c| {
            let tx = c.savepoint().map_err(db_err)?;
            if !is_deleted(&tx, &vault, &name)? {
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
                tx.execute(
                    &format!("DELETE FROM {table} WHERE vault = ?1 AND name = ?2"),
                    params![vault, name],
                )
                .map_err(db_err)?;
            }
            tx.commit().map_err(db_err)
        })
        .await
    }

    async fn restore_certificate(&self, versions: &[NewCertificateVersion]) -> Result<()> {
        let versions = versions.to_vec();
        self.write(move |c| {
            let Some(last) = versions.last() else {
                return Err(StoreError::NotFound);
            };
            let (vault, name) = (last.certificate.vault.clone(), last.certificate.name.clone());
            let tx = c.savepoint().map_err(db_err)?;
            if is_deleted(&tx, &vault, &name)?
                || keys::is_deleted(&tx, &vault, &name)?
                || secrets::is_deleted(&tx, &vault, &name)?
            {
                return Err(StoreError::Deleted);
            }
            for table in ["certificate_versions", "key_versions", "secret_versions"] {
                let taken = tx
                    .query_row(
                        &format!("SELECT 1 FROM {table} WHERE vault = ?1 AND name = ?2 LIMIT 1"),
                        params![vault, name],
                        |_| Ok(()),
                    )
                    .optional()
                    .map_err(db_err)?;
                if taken.is_some() {
                    return Err(StoreError::Exists);
                }
            }
            for v in &versions {
                insert(&tx, &v.certificate)?;
                keys::insert(&tx, &v.key)?;
                secrets::insert(&tx, &v.secret)?;
            }
            put_policy(&tx, &last.policy)?;
            tx.commit().map_err(db_err)
        })
        .await
    }

    async fn purgeable_certificates(&self, now: i64) -> Result<Vec<(String, String)>> {
        self.read(move |c| {
            let mut st = c
                .prepare("SELECT vault, name FROM deleted_certificates WHERE scheduled_purge_date <= ?1")
                .map_err(db_err)?;
            let rows = st.query_map([now], |r| Ok((r.get(0)?, r.get(1)?))).map_err(db_err)?;
            rows.collect::<rusqlite::Result<_>>().map_err(db_err)
        })
        .await
    }

    async fn put_certificate_contacts(&self, vault: &str, contacts: &serde_json::Value, now: i64) -> Result<()> {
        let (vault, contacts) = (vault.to_owned(), columns::to_json(contacts)?);
        self.write(move |c| {
            c.execute(
                "INSERT INTO certificate_contacts (vault, contacts, updated) VALUES (?1, ?2, ?3)
                 ON CONFLICT (vault) DO UPDATE SET contacts = excluded.contacts, updated = excluded.updated",
                params![vault, contacts, now],
            )
            .map(drop)
            .map_err(db_err)
        })
        .await
    }

    async fn certificate_contacts(&self, vault: &str) -> Result<Option<serde_json::Value>> {
        let vault = vault.to_owned();
        self.read(move |c| {
            c.query_row(
                "SELECT contacts FROM certificate_contacts WHERE vault = ?1",
                [vault],
                |r| {
                    let text: String = r.get(0)?;
                    serde_json::from_str(&text).map_err(|e| corrupt(0, e.to_string()))
                },
            )
            .optional()
            .map_err(db_err)
        })
        .await
    }

    async fn delete_certificate_contacts(&self, vault: &str) -> Result<()> {
        let vault = vault.to_owned();
        self.write(move |c| {
            let n = c
                .execute("DELETE FROM certificate_contacts WHERE vault = ?1", [vault])
                .map_err(db_err)?;
            if n == 0 { Err(StoreError::NotFound) } else { Ok(()) }
        })
        .await
    }

    async fn put_certificate_issuer(&self, i: &CertificateIssuerRecord) -> Result<()> {
        let i = i.clone();
        self.write(move |c| {
            c.execute(
                "INSERT INTO certificate_issuers (vault, name, issuer, credentials, created, updated)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)
                 ON CONFLICT (vault, name) DO UPDATE SET issuer = excluded.issuer, credentials = excluded.credentials,
                     updated = excluded.updated",
                params![
                    i.vault,
                    i.name,
                    columns::to_json(&i.issuer)?,
                    i.credentials.as_ref().map(|s| s.as_bytes().to_vec()),
                    i.created,
                    i.updated
                ],
            )
            .map(drop)
            .map_err(db_err)
        })
        .await
    }

    async fn certificate_issuer(&self, vault: &str, name: &str) -> Result<Option<CertificateIssuerRecord>> {
        let (vault, name) = (vault.to_owned(), name.to_owned());
        self.read(move |c| {
            c.query_row(
                &format!("SELECT {ISSUER_COLS} FROM certificate_issuers WHERE vault = ?1 AND name = ?2"),
                params![vault, name],
                issuer_row,
            )
            .optional()
            .map_err(db_err)
        })
        .await
    }

    async fn list_certificate_issuers(&self, vault: &str, page: &PageRequest) -> Result<Vec<CertificateIssuerRecord>> {
        let (vault, after, limit) = (vault.to_owned(), page.after.clone().unwrap_or_default(), page.limit);
        self.read(move |c| {
            let mut st = c
                .prepare(&format!(
                    "SELECT {ISSUER_COLS} FROM certificate_issuers WHERE vault = ?1 AND name > ?2
                     ORDER BY name COLLATE NOCASE LIMIT ?3"
                ))
                .map_err(db_err)?;
            let rows = st.query_map(params![vault, after, limit], issuer_row).map_err(db_err)?;
            rows.collect::<rusqlite::Result<_>>().map_err(db_err)
        })
        .await
    }

    async fn delete_certificate_issuer(&self, vault: &str, name: &str) -> Result<()> {
        let (vault, name) = (vault.to_owned(), name.to_owned());
        self.write(move |c| {
            let n = c
                .execute(
                    "DELETE FROM certificate_issuers WHERE vault = ?1 AND name = ?2",
                    params![vault, name],
                )
                .map_err(db_err)?;
            if n == 0 { Err(StoreError::NotFound) } else { Ok(()) }
        })
        .await
    }
}
