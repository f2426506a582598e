//! Identity tables: principals, client secrets and certificates, one-time token uses, signing keys,
//! join tokens and agents.

use async_trait::async_trait;

use super::*;

pub(super) fn principal_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<PrincipalRecord> {
    let kind: String = r.get(3)?;
    Ok(PrincipalRecord {
        object_id: r.get(0)?,
        app_id: r.get(1)?,
        display_name: r.get(2)?,
        kind: PrincipalKind::parse(&kind).unwrap_or(PrincipalKind::ServicePrincipal),
        tenant_id: r.get(4)?,
        created: r.get(5)?,
    })
}

pub(super) const PRINCIPAL_COLS: &str = "object_id, app_id, display_name, kind, tenant_id, created";

#[async_trait]
impl IdentityStore for SqliteStore {
    async fn put_principal(&self, p: &PrincipalRecord) -> Result<()> {
        let p = p.clone();
        self.counted_write(WriteKind::Identities, move |c| {
            c.cached_execute(
                &format!("INSERT INTO principals ({PRINCIPAL_COLS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6)"),
                params![
                    p.object_id,
                    p.app_id,
                    p.display_name,
                    p.kind.as_str(),
                    p.tenant_id,
                    p.created
                ],
            )
            .map(drop)
            .map_err(db_err)
        })
        .await
    }

    async fn principal_by_app_id(&self, app_id: &str) -> Result<Option<PrincipalRecord>> {
        let app_id = app_id.to_owned();
        self.read(move |c| {
            c.cached_row(
                &format!("SELECT {PRINCIPAL_COLS} FROM principals WHERE app_id = ?1"),
                [app_id],
                principal_row,
            )
            .optional()
            .map_err(db_err)
        })
        .await
    }

    async fn principal(&self, object_id: &str) -> Result<Option<PrincipalRecord>> {
        let oid = object_id.to_owned();
        self.read(move |c| {
            c.cached_row(
                &format!("SELECT {PRINCIPAL_COLS} FROM principals WHERE object_id = ?1"),
                [oid],
                principal_row,
            )
            .optional()
            .map_err(db_err)
        })
        .await
    }

    async fn put_client_secret(&self, s: &ClientSecretRecord) -> Result<()> {
        let s = s.clone();
        self.write(move |c| {
            c.cached_execute(
                "INSERT INTO client_secrets (key_id, object_id, hash, hint, created, expires) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![s.key_id, s.object_id, s.hash, s.hint, s.created, s.expires],
            )
            .map(drop)
            .map_err(db_err)
        })
        .await
    }

    async fn client_secrets(&self, object_id: &str) -> Result<Vec<ClientSecretRecord>> {
        let oid = object_id.to_owned();
        self.read(move |c| {
            let mut st = c
                .prepare_cached(
                    "SELECT key_id, object_id, hash, hint, created, expires FROM client_secrets WHERE object_id = ?1",
                )
                .map_err(db_err)?;
            let rows = st
                .query_map([oid], |r| {
                    Ok(ClientSecretRecord {
                        key_id: r.get(0)?,
                        object_id: r.get(1)?,
                        hash: r.get(2)?,
                        hint: r.get(3)?,
                        created: r.get(4)?,
                        expires: r.get(5)?,
                    })
                })
                .map_err(db_err)?;
            rows.collect::<rusqlite::Result<_>>().map_err(db_err)
        })
        .await
    }

    async fn list_principals(&self) -> Result<Vec<PrincipalRecord>> {
        self.scan(|c| {
            let mut st = c
                .prepare_cached(&format!(
                    "SELECT {PRINCIPAL_COLS} FROM principals ORDER BY created, object_id"
                ))
                .map_err(db_err)?;
            let rows = st.query_map([], principal_row).map_err(db_err)?;
            rows.collect::<rusqlite::Result<_>>().map_err(db_err)
        })
        .await
    }

    async fn delete_client_secrets(&self, object_id: &str) -> Result<u64> {
        let oid = object_id.to_owned();
        self.write(move |c| {
            c.cached_execute("DELETE FROM client_secrets WHERE object_id = ?1", [oid])
                .map(|n| n as u64)
                .map_err(db_err)
        })
        .await
    }

    async fn rename_principal(&self, object_id: &str, display_name: &str) -> Result<()> {
        let (oid, name) = (object_id.to_owned(), display_name.to_owned());
        self.write(move |c| {
            c.execute(
                "UPDATE principals SET display_name = ?2 WHERE object_id = ?1",
                [oid, name],
            )
            .map(|_| ())
            .map_err(db_err)
        })
        .await
    }

    async fn delete_client_secret(&self, object_id: &str, key_id: &str) -> Result<bool> {
        let (oid, kid) = (object_id.to_owned(), key_id.to_owned());
        self.write(move |c| {
            c.execute(
                "DELETE FROM client_secrets WHERE object_id = ?1 AND key_id = ?2",
                [oid, kid],
            )
            .map(|n| n > 0)
            .map_err(db_err)
        })
        .await
    }

    async fn put_client_certificate(&self, cert: &ClientCertificateRecord) -> Result<()> {
        let k = cert.clone();
        self.write(move |c| {
            c.cached_execute(
                "INSERT INTO client_certificates (key_id, object_id, x5t, x5t_s256, der, not_after) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![k.key_id, k.object_id, k.x5t, k.x5t_s256, k.der, k.not_after],
            )
            .map(drop)
            .map_err(db_err)
        })
        .await
    }

    async fn client_certificates(&self, object_id: &str) -> Result<Vec<ClientCertificateRecord>> {
        let oid = object_id.to_owned();
        self.read(move |c| {
            let mut st = c
                .prepare_cached("SELECT key_id, object_id, x5t, x5t_s256, der, not_after FROM client_certificates WHERE object_id = ?1")
                .map_err(db_err)?;
            let rows = st
                .query_map([oid], |r| {
                    Ok(ClientCertificateRecord {
                        key_id: r.get(0)?,
                        object_id: r.get(1)?,
                        x5t: r.get(2)?,
                        x5t_s256: r.get(3)?,
                        der: r.get(4)?,
                        not_after: r.get(5)?,
                    })
                })
                .map_err(db_err)?;
            rows.collect::<rusqlite::Result<_>>().map_err(db_err)
        })
        .await
    }

    async fn first_use(&self, key: &str, expires: i64, now: i64) -> Result<bool> {
        let key = key.to_owned();
        self.write(move |c| {
            c.cached_execute("DELETE FROM used_tokens WHERE expires < ?1", [now])
                .map_err(db_err)?;
            let n = c
                .cached_execute(
                    "INSERT INTO used_tokens (key, expires) VALUES (?1, ?2) ON CONFLICT(key) DO NOTHING",
                    params![key, expires],
                )
                .map_err(db_err)?;
            Ok(n == 1)
        })
        .await
    }

    async fn put_signing_key(&self, k: &SigningKeyRecord) -> Result<()> {
        let k = k.clone();
        self.write(move |c| {
            c.cached_execute(
                "INSERT INTO signing_keys (kid, created, retired_at, sealed) VALUES (?1, ?2, ?3, ?4)",
                params![k.kid, k.created, k.retired_at, k.sealed.as_bytes()],
            )
            .map(drop)
            .map_err(db_err)
        })
        .await
    }

    async fn signing_keys(&self) -> Result<Vec<SigningKeyRecord>> {
        self.read(move |c| {
            let mut st = c
                .prepare_cached("SELECT kid, created, retired_at, sealed FROM signing_keys ORDER BY created")
                .map_err(db_err)?;
            let rows = st
                .query_map([], |r| {
                    Ok((r.get::<_, String>(0)?, r.get(1)?, r.get(2)?, r.get::<_, Vec<u8>>(3)?))
                })
                .map_err(db_err)?;
            let mut out = Vec::new();
            for row in rows {
                let (kid, created, retired_at, sealed) = row.map_err(db_err)?;
                let sealed = Sealed::from_stored(sealed).map_err(|e| StoreError::Corrupt(e.to_string()))?;
                out.push(SigningKeyRecord {
                    kid,
                    created,
                    retired_at,
                    sealed,
                });
            }
            Ok(out)
        })
        .await
    }

    async fn retire_signing_key(&self, kid: &str, at: i64) -> Result<()> {
        let kid = kid.to_owned();
        self.write(move |c| {
            c.cached_execute(
                "UPDATE signing_keys SET retired_at = ?2 WHERE kid = ?1 AND retired_at IS NULL",
                params![kid, at],
            )
            .map(drop)
            .map_err(db_err)
        })
        .await
    }

    async fn delete_signing_key(&self, kid: &str) -> Result<()> {
        let kid = kid.to_owned();
        self.write(move |c| {
            c.cached_execute("DELETE FROM signing_keys WHERE kid = ?1", [kid])
                .map(drop)
                .map_err(db_err)
        })
        .await
    }

    async fn replace_signing_key_sealed(&self, kid: &str, old: &Sealed, new: &Sealed) -> Result<bool> {
        let (kid, old, new) = (kid.to_owned(), old.as_bytes().to_vec(), new.as_bytes().to_vec());
        self.write(move |c| rekey::replace_signing_key(c, &kid, &old, &new))
            .await
    }

    async fn delete_principal(&self, object_id: &str) -> Result<()> {
        let oid = object_id.to_owned();
        self.counted_write(WriteKind::Identities, move |c| management::delete_principal(c, &oid))
            .await
    }

    async fn put_join_token(&self, hash: &str, resource_id: &str, expires: i64) -> Result<()> {
        let (hash, resource_id) = (hash.to_owned(), resource_id.to_owned());
        self.write(move |c| {
            c.cached_execute(
                "INSERT INTO join_tokens (hash, resource_id, expires) VALUES (?1, ?2, ?3)",
                params![hash, resource_id, expires],
            )
            .map(drop)
            .map_err(db_err)
        })
        .await
    }

    async fn consume_join_token(&self, hash: &str, now: i64) -> Result<Option<String>> {
        let hash = hash.to_owned();
        self.write(move |c| {
            let n = c
                .cached_execute(
                    "UPDATE join_tokens SET used_at = ?2 WHERE hash = ?1 AND used_at IS NULL AND expires > ?2",
                    params![hash, now],
                )
                .map_err(db_err)?;
            if n == 0 {
                return Ok(None);
            }
            c.cached_row("SELECT resource_id FROM join_tokens WHERE hash = ?1", [hash], |r| {
                r.get(0)
            })
            .optional()
            .map_err(db_err)
        })
        .await
    }

    async fn put_agent(&self, a: &AgentRecord) -> Result<()> {
        let a = a.clone();
        self.write(move |c| {
            c.cached_execute(
                "INSERT INTO agents (agent_id, resource_id, public_key, created, revoked_at) VALUES (?1, ?2, ?3, ?4, ?5)",
                params![a.agent_id, a.resource_id, a.public_key, a.created, a.revoked_at],
            )
            .map(drop)
            .map_err(db_err)
        })
        .await
    }

    async fn agent(&self, agent_id: &str) -> Result<Option<AgentRecord>> {
        let id = agent_id.to_owned();
        self.read(move |c| {
            c.cached_row(
                "SELECT agent_id, resource_id, public_key, created, revoked_at FROM agents WHERE agent_id = ?1",
                [id],
                |r| {
                    Ok(AgentRecord {
                        agent_id: r.get(0)?,
                        resource_id: r.get(1)?,
                        public_key: r.get(2)?,
                        created: r.get(3)?,
                        revoked_at: r.get(4)?,
                    })
                },
            )
            .optional()
            .map_err(db_err)
        })
        .await
    }

    async fn revoke_agent(&self, agent_id: &str, at: i64) -> Result<()> {
        let id = agent_id.to_owned();
        self.write(move |c| {
            let n = c
                .cached_execute(
                    "UPDATE agents SET revoked_at = ?2 WHERE agent_id = ?1 AND revoked_at IS NULL",
                    params![id, at],
                )
                .map_err(db_err)?;
            if n == 0 { Err(StoreError::NotFound) } else { Ok(()) }
        })
        .await
    }
}
