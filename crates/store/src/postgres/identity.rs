//! Identity tables: principals, client secrets and certificates, one-time token uses, signing keys,
//! join tokens and agents.

use async_trait::async_trait;

use super::*;

pub(super) fn principal_row(r: &Row) -> Result<PrincipalRecord> {
    let kind: String = r.try_get(3).map_err(db_err)?;
    Ok(PrincipalRecord {
        object_id: r.try_get(0).map_err(db_err)?,
        app_id: r.try_get(1).map_err(db_err)?,
        display_name: r.try_get(2).map_err(db_err)?,
        // As the SQLite backend: an unknown kind reads as a service principal.
        kind: PrincipalKind::parse(&kind).unwrap_or(PrincipalKind::ServicePrincipal),
        tenant_id: r.try_get(4).map_err(db_err)?,
        created: r.try_get(5).map_err(db_err)?,
    })
}

pub(super) const PRINCIPAL_COLS: &str = "object_id, app_id, display_name, kind, tenant_id, created";

/// One `principals` row; also the first half of a user's insert (`users.rs`).
pub(super) async fn insert_principal(c: &impl GenericClient, p: &PrincipalRecord) -> Result<()> {
    execute(
        c,
        &format!("INSERT INTO principals ({PRINCIPAL_COLS}) VALUES ($1, $2, $3, $4, $5, $6)"),
        &[
            &p.object_id,
            &p.app_id,
            &p.display_name,
            &p.kind.as_str(),
            &p.tenant_id,
            &p.created,
        ],
    )
    .await
    .map(drop)
}

#[async_trait]
impl IdentityStore for PostgresStore {
    async fn put_principal(&self, p: &PrincipalRecord) -> Result<()> {
        let p = p.clone();
        self.counted_write(
            WriteKind::Identities,
            move |c| async move { insert_principal(&c, &p).await },
        )
        .await
    }

    async fn principal_by_app_id(&self, app_id: &str) -> Result<Option<PrincipalRecord>> {
        let c = self.client().await?;
        query_opt(
            &c,
            &format!("SELECT {PRINCIPAL_COLS} FROM principals WHERE app_id = $1"),
            &[&app_id],
        )
        .await?
        .as_ref()
        .map(principal_row)
        .transpose()
    }

    async fn principal(&self, object_id: &str) -> Result<Option<PrincipalRecord>> {
        let c = self.client().await?;
        query_opt(
            &c,
            &format!("SELECT {PRINCIPAL_COLS} FROM principals WHERE object_id = $1"),
            &[&object_id],
        )
        .await?
        .as_ref()
        .map(principal_row)
        .transpose()
    }

    async fn put_client_secret(&self, s: &ClientSecretRecord) -> Result<()> {
        let c = self.client().await?;
        execute(
            &c,
            "INSERT INTO client_secrets (key_id, object_id, hash, hint, created, expires) VALUES ($1, $2, $3, $4, $5, $6)",
            &[&s.key_id, &s.object_id, &s.hash, &s.hint, &s.created, &s.expires],
        )
        .await
        .map(drop)
    }

    async fn client_secrets(&self, object_id: &str) -> Result<Vec<ClientSecretRecord>> {
        let c = self.client().await?;
        let rows = query(
            &c,
            "SELECT key_id, object_id, hash, hint, created, expires FROM client_secrets WHERE object_id = $1",
            &[&object_id],
        )
        .await?;
        rows.iter()
            .map(|r| {
                Ok(ClientSecretRecord {
                    key_id: r.try_get(0)?,
                    object_id: r.try_get(1)?,
                    hash: r.try_get(2)?,
                    hint: r.try_get(3)?,
                    created: r.try_get(4)?,
                    expires: r.try_get(5)?,
                })
            })
            .collect::<std::result::Result<_, tokio_postgres::Error>>()
            .map_err(db_err)
    }

    async fn list_principals(&self) -> Result<Vec<PrincipalRecord>> {
        let c = self.client().await?;
        let rows = query(
            &c,
            &format!("SELECT {PRINCIPAL_COLS} FROM principals ORDER BY created, object_id"),
            &[],
        )
        .await?;
        rows.iter().map(principal_row).collect()
    }

    async fn delete_client_secrets(&self, object_id: &str) -> Result<u64> {
        let c = self.client().await?;
        execute(&c, "DELETE FROM client_secrets WHERE object_id = $1", &[&object_id]).await
    }

    async fn rename_principal(&self, object_id: &str, display_name: &str) -> Result<()> {
        let c = self.client().await?;
        execute(
            &c,
            "UPDATE principals SET display_name = $2 WHERE object_id = $1",
            &[&object_id, &display_name],
        )
        .await
        .map(|_| ())
    }

    async fn delete_client_secret(&self, object_id: &str, key_id: &str) -> Result<bool> {
        let c = self.client().await?;
        let n = execute(
            &c,
            "DELETE FROM client_secrets WHERE object_id = $1 AND key_id = $2",
            &[&object_id, &key_id],
        )
        .await?;
        Ok(n > 0)
    }

    async fn put_client_certificate(&self, k: &ClientCertificateRecord) -> Result<()> {
        let c = self.client().await?;
        execute(
            &c,
            "INSERT INTO client_certificates (key_id, object_id, x5t, x5t_s256, der, not_after) VALUES ($1, $2, $3, $4, $5, $6)",
            &[&k.key_id, &k.object_id, &k.x5t, &k.x5t_s256, &k.der, &k.not_after],
        )
        .await
        .map(drop)
    }

    async fn client_certificates(&self, object_id: &str) -> Result<Vec<ClientCertificateRecord>> {
        let c = self.client().await?;
        let rows = query(
            &c,
            "SELECT key_id, object_id, x5t, x5t_s256, der, not_after FROM client_certificates WHERE object_id = $1",
            &[&object_id],
        )
        .await?;
        rows.iter()
            .map(|r| {
                Ok(ClientCertificateRecord {
                    key_id: r.try_get(0)?,
                    object_id: r.try_get(1)?,
                    x5t: r.try_get(2)?,
                    x5t_s256: r.try_get(3)?,
                    der: r.try_get(4)?,
                    not_after: r.try_get(5)?,
                })
            })
            .collect::<std::result::Result<_, tokio_postgres::Error>>()
            .map_err(db_err)
    }

    async fn first_use(&self, key: &str, expires: i64, now: i64) -> Result<bool> {
        let c = self.client().await?;
        execute(&c, "DELETE FROM used_tokens WHERE expires < $1", &[&now]).await?;
        let n = execute(
            &c,
            "INSERT INTO used_tokens (key, expires) VALUES ($1, $2) ON CONFLICT (key) DO NOTHING",
            &[&key, &expires],
        )
        .await?;
        Ok(n == 1)
    }

    async fn put_signing_key(&self, k: &SigningKeyRecord) -> Result<()> {
        let c = self.client().await?;
        execute(
            &c,
            "INSERT INTO signing_keys (kid, created, retired_at, sealed) VALUES ($1, $2, $3, $4)",
            &[&k.kid, &k.created, &k.retired_at, &k.sealed.as_bytes()],
        )
        .await
        .map(drop)
    }

    async fn signing_keys(&self) -> Result<Vec<SigningKeyRecord>> {
        let c = self.client().await?;
        let rows = query(
            &c,
            "SELECT kid, created, retired_at, sealed FROM signing_keys ORDER BY created",
            &[],
        )
        .await?;
        let mut out = Vec::with_capacity(rows.len());
        for r in rows {
            let sealed: Vec<u8> = r.try_get(3).map_err(db_err)?;
            out.push(SigningKeyRecord {
                kid: r.try_get(0).map_err(db_err)?,
                created: r.try_get(1).map_err(db_err)?,
                retired_at: r.try_get(2).map_err(db_err)?,
                sealed: Sealed::from_stored(sealed).map_err(|e| StoreError::Corrupt(e.to_string()))?,
            });
        }
        Ok(out)
    }

    async fn retire_signing_key(&self, kid: &str, at: i64) -> Result<()> {
        let c = self.client().await?;
        execute(
            &c,
            "UPDATE signing_keys SET retired_at = $2 WHERE kid = $1 AND retired_at IS NULL",
            &[&kid, &at],
        )
        .await
        .map(drop)
    }

    async fn delete_signing_key(&self, kid: &str) -> Result<()> {
        let c = self.client().await?;
        execute(&c, "DELETE FROM signing_keys WHERE kid = $1", &[&kid])
            .await
            .map(drop)
    }

    async fn replace_signing_key_sealed(&self, kid: &str, old: &Sealed, new: &Sealed) -> Result<bool> {
        let c = self.client().await?;
        rekey::replace_signing_key(&c, kid, old.as_bytes(), new.as_bytes()).await
    }

    async fn delete_principal(&self, object_id: &str) -> Result<()> {
        let object_id = object_id.to_owned();
        self.counted_write(WriteKind::Identities, move |c| async move {
            management::delete_principal(&c, &object_id).await
        })
        .await
    }

    async fn put_join_token(&self, hash: &str, resource_id: &str, expires: i64) -> Result<()> {
        let c = self.client().await?;
        execute(
            &c,
            "INSERT INTO join_tokens (hash, resource_id, expires) VALUES ($1, $2, $3)",
            &[&hash, &resource_id, &expires],
        )
        .await
        .map(drop)
    }

    async fn consume_join_token(&self, hash: &str, now: i64) -> Result<Option<String>> {
        let c = self.client().await?;
        let row = query_opt(
            &c,
            "UPDATE join_tokens SET used_at = $2 WHERE hash = $1 AND used_at IS NULL AND expires > $2 RETURNING resource_id",
            &[&hash, &now],
        )
        .await?;
        row.map(|r| r.try_get(0).map_err(db_err)).transpose()
    }

    async fn put_agent(&self, a: &AgentRecord) -> Result<()> {
        let c = self.client().await?;
        execute(
            &c,
            "INSERT INTO agents (agent_id, resource_id, public_key, created, revoked_at) VALUES ($1, $2, $3, $4, $5)",
            &[&a.agent_id, &a.resource_id, &a.public_key, &a.created, &a.revoked_at],
        )
        .await
        .map(drop)
    }

    async fn agent(&self, agent_id: &str) -> Result<Option<AgentRecord>> {
        let c = self.client().await?;
        let row = query_opt(
            &c,
            "SELECT agent_id, resource_id, public_key, created, revoked_at FROM agents WHERE agent_id = $1",
            &[&agent_id],
        )
        .await?;
        let Some(r) = row else { return Ok(None) };
        Ok(Some(AgentRecord {
            agent_id: r.try_get(0).map_err(db_err)?,
            resource_id: r.try_get(1).map_err(db_err)?,
            public_key: r.try_get(2).map_err(db_err)?,
            created: r.try_get(3).map_err(db_err)?,
            revoked_at: r.try_get(4).map_err(db_err)?,
        }))
    }

    async fn revoke_agent(&self, agent_id: &str, at: i64) -> Result<()> {
        let c = self.client().await?;
        let n = execute(
            &c,
            "UPDATE agents SET revoked_at = $2 WHERE agent_id = $1 AND revoked_at IS NULL",
            &[&agent_id, &at],
        )
        .await?;
        if n == 0 { Err(StoreError::NotFound) } else { Ok(()) }
    }
}
