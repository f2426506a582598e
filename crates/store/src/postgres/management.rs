//! Management-plane tables on PostgreSQL: vaults (ARM properties, soft-delete state), resource groups
//! and role assignments. Role-assignment names and principal ids are GUIDs, compared lower-cased.

use deadpool_postgres::GenericClient;
use tokio_postgres::Row;

use super::{db_err, execute, fold, query, query_opt};
use crate::{
    columns::{ResourceColumns, from_json, opt_from_json, opt_to_json, to_json},
    *,
};

const VAULT_COLS: &str = "name, tenant_id, retention_days, purge_protection, created, properties, deleted_at, purge_at";

fn vault_row(r: &Row) -> Result<VaultRecord> {
    let props: String = r.try_get(5).map_err(db_err)?;
    Ok(VaultRecord {
        name: r.try_get(0).map_err(db_err)?,
        tenant_id: r.try_get(1).map_err(db_err)?,
        retention_days: r.try_get(2).map_err(db_err)?,
        purge_protection: r.try_get(3).map_err(db_err)?,
        created: r.try_get(4).map_err(db_err)?,
        properties: from_json(&props)?,
        deleted_at: r.try_get(6).map_err(db_err)?,
        purge_at: r.try_get(7).map_err(db_err)?,
    })
}

pub(super) async fn put_vault(c: &impl GenericClient, v: &VaultRecord) -> Result<()> {
    let props = to_json(&v.properties)?;
    execute(
        c,
        &format!(
            "INSERT INTO vaults ({VAULT_COLS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
             ON CONFLICT (name_key) DO UPDATE SET retention_days = EXCLUDED.retention_days,
               purge_protection = EXCLUDED.purge_protection, properties = EXCLUDED.properties,
               deleted_at = EXCLUDED.deleted_at, purge_at = EXCLUDED.purge_at"
        ),
        &[
            &v.name,
            &v.tenant_id,
            &v.retention_days,
            &v.purge_protection,
            &v.created,
            &props,
            &v.deleted_at,
            &v.purge_at,
        ],
    )
    .await
    .map(drop)
}

pub(super) async fn vault(c: &impl GenericClient, name: &str, include_deleted: bool) -> Result<Option<VaultRecord>> {
    let filter = if include_deleted { "" } else { " AND deleted_at IS NULL" };
    let row = query_opt(
        c,
        &format!("SELECT {VAULT_COLS} FROM vaults WHERE name_key = $1{filter}"),
        &[&fold(name)],
    )
    .await?;
    row.as_ref().map(vault_row).transpose()
}

pub(super) async fn list_vaults(c: &impl GenericClient, deleted: bool) -> Result<Vec<VaultRecord>> {
    let filter = if deleted {
        "deleted_at IS NOT NULL"
    } else {
        "deleted_at IS NULL"
    };
    let rows = query(
        c,
        &format!("SELECT {VAULT_COLS} FROM vaults WHERE {filter} ORDER BY name_key"),
        &[],
    )
    .await?;
    rows.iter().map(vault_row).collect()
}

pub(super) async fn purge_vault(c: &mut deadpool_postgres::Object, name: &str) -> Result<()> {
    let tx = c.transaction().await.map_err(db_err)?;
    let key = fold(name);
    let n = execute(&tx, "DELETE FROM vaults WHERE name_key = $1", &[&key]).await?;
    if n == 0 {
        return Err(StoreError::NotFound);
    }
    execute(&tx, "DELETE FROM deleted_secrets WHERE vault_key = $1", &[&key]).await?;
    execute(&tx, "DELETE FROM secret_versions WHERE vault_key = $1", &[&key]).await?;
    for table in [
        "deleted_keys",
        "key_versions",
        "key_policies",
        "deleted_certificates",
        "certificate_versions",
        "certificate_policies",
        "certificate_operations",
        "certificate_contacts",
        "certificate_issuers",
    ] {
        execute(&tx, &format!("DELETE FROM {table} WHERE vault_key = $1"), &[&key]).await?;
    }
    tx.commit().await.map_err(db_err)
}

fn group_row(r: &Row) -> Result<ResourceGroupRecord> {
    let tags: Option<String> = r.try_get(2).map_err(db_err)?;
    Ok(ResourceGroupRecord {
        name: r.try_get(0).map_err(db_err)?,
        location: r.try_get(1).map_err(db_err)?,
        tags: opt_from_json(tags)?,
        created: r.try_get(3).map_err(db_err)?,
    })
}

pub(super) async fn put_resource_group(c: &impl GenericClient, g: &ResourceGroupRecord) -> Result<()> {
    let tags = opt_to_json(g.tags.as_ref())?;
    execute(
        c,
        "INSERT INTO resource_groups (name, location, tags, created) VALUES ($1, $2, $3, $4)
         ON CONFLICT (name_key) DO UPDATE SET tags = EXCLUDED.tags",
        &[&g.name, &g.location, &tags, &g.created],
    )
    .await
    .map(drop)
}

pub(super) async fn resource_group(c: &impl GenericClient, name: &str) -> Result<Option<ResourceGroupRecord>> {
    let row = query_opt(
        c,
        "SELECT name, location, tags, created FROM resource_groups WHERE name_key = $1",
        &[&fold(name)],
    )
    .await?;
    row.as_ref().map(group_row).transpose()
}

pub(super) async fn list_resource_groups(c: &impl GenericClient) -> Result<Vec<ResourceGroupRecord>> {
    let rows = query(
        c,
        "SELECT name, location, tags, created FROM resource_groups ORDER BY name_key",
        &[],
    )
    .await?;
    rows.iter().map(group_row).collect()
}

pub(super) async fn delete_resource_group(c: &impl GenericClient, name: &str) -> Result<()> {
    let n = execute(c, "DELETE FROM resource_groups WHERE name_key = $1", &[&fold(name)]).await?;
    if n == 0 { Err(StoreError::NotFound) } else { Ok(()) }
}

const ASSIGNMENT_COLS: &str = "name, scope, principal_id, role_definition_id, principal_type, created";

fn assignment_row(r: &Row) -> Result<RoleAssignmentRecord> {
    Ok(RoleAssignmentRecord {
        name: r.try_get(0).map_err(db_err)?,
        scope: r.try_get(1).map_err(db_err)?,
        principal_id: r.try_get(2).map_err(db_err)?,
        role_definition_id: r.try_get(3).map_err(db_err)?,
        principal_type: r.try_get(4).map_err(db_err)?,
        created: r.try_get(5).map_err(db_err)?,
    })
}

pub(super) async fn put_role_assignment(c: &impl GenericClient, a: &RoleAssignmentRecord) -> Result<()> {
    let sql = format!(
        "INSERT INTO role_assignments ({ASSIGNMENT_COLS}) VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (name) DO NOTHING"
    );
    let n = execute(
        c,
        &sql,
        &[
            &a.name.to_ascii_lowercase(),
            &a.scope,
            &a.principal_id.to_ascii_lowercase(),
            &a.role_definition_id,
            &a.principal_type,
            &a.created,
        ],
    )
    .await?;
    if n == 0 { Err(StoreError::Exists) } else { Ok(()) }
}

pub(super) async fn role_assignment(c: &impl GenericClient, name: &str) -> Result<Option<RoleAssignmentRecord>> {
    let row = query_opt(
        c,
        &format!("SELECT {ASSIGNMENT_COLS} FROM role_assignments WHERE name = $1"),
        &[&name.to_ascii_lowercase()],
    )
    .await?;
    row.as_ref().map(assignment_row).transpose()
}

pub(super) async fn delete_role_assignment(c: &impl GenericClient, name: &str) -> Result<()> {
    let n = execute(
        c,
        "DELETE FROM role_assignments WHERE name = $1",
        &[&name.to_ascii_lowercase()],
    )
    .await?;
    if n == 0 { Err(StoreError::NotFound) } else { Ok(()) }
}

pub(super) async fn role_assignments(
    c: &impl GenericClient,
    principal: Option<&str>,
) -> Result<Vec<RoleAssignmentRecord>> {
    let rows = match principal {
        Some(p) => {
            let sql = format!(
                "SELECT {ASSIGNMENT_COLS} FROM role_assignments WHERE principal_id = $1 ORDER BY created, name"
            );
            query(c, &sql, &[&p.to_ascii_lowercase()]).await?
        }
        None => {
            query(
                c,
                &format!("SELECT {ASSIGNMENT_COLS} FROM role_assignments ORDER BY created, name"),
                &[],
            )
            .await?
        }
    };
    rows.iter().map(assignment_row).collect()
}

const RESOURCE_COLS: &str = "id, type, resource_group, name, location, tags, properties, identity, sealed, created";

fn resource_row(r: &Row) -> Result<ResourceRecord> {
    let columns = ResourceColumns {
        tags: r.try_get(5).map_err(db_err)?,
        properties: r.try_get(6).map_err(db_err)?,
        identity: r.try_get(7).map_err(db_err)?,
        sealed: r.try_get(8).map_err(db_err)?,
    };
    columns.decode_into(ResourceRecord {
        id: r.try_get(0).map_err(db_err)?,
        kind: r.try_get(1).map_err(db_err)?,
        resource_group: r.try_get(2).map_err(db_err)?,
        name: r.try_get(3).map_err(db_err)?,
        location: r.try_get(4).map_err(db_err)?,
        tags: None,
        properties: serde_json::Value::Null,
        identity: None,
        sealed: None,
        created: r.try_get(9).map_err(db_err)?,
    })
}

pub(super) async fn put_resource(c: &impl GenericClient, r: &ResourceRecord) -> Result<()> {
    let col = ResourceColumns::encode(r)?;
    execute(
        c,
        &format!(
            "INSERT INTO resources (id_key, {RESOURCE_COLS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
             ON CONFLICT (id_key) DO UPDATE SET location = EXCLUDED.location, tags = EXCLUDED.tags,
               properties = EXCLUDED.properties, identity = EXCLUDED.identity, sealed = EXCLUDED.sealed"
        ),
        &[
            &r.id.to_ascii_lowercase(),
            &r.id,
            &r.kind,
            &r.resource_group,
            &r.name,
            &r.location,
            &col.tags,
            &col.properties,
            &col.identity,
            &col.sealed,
            &r.created,
        ],
    )
    .await
    .map(drop)
}

pub(super) async fn resource(c: &impl GenericClient, id: &str) -> Result<Option<ResourceRecord>> {
    let row = query_opt(
        c,
        &format!("SELECT {RESOURCE_COLS} FROM resources WHERE id_key = $1"),
        &[&id.to_ascii_lowercase()],
    )
    .await?;
    row.as_ref().map(resource_row).transpose()
}

pub(super) async fn list_resources(c: &impl GenericClient, group: Option<&str>) -> Result<Vec<ResourceRecord>> {
    let rows = match group {
        Some(g) => {
            query(
                c,
                &format!("SELECT {RESOURCE_COLS} FROM resources WHERE group_key = $1 ORDER BY id_key"),
                &[&fold(g)],
            )
            .await?
        }
        None => {
            query(
                c,
                &format!("SELECT {RESOURCE_COLS} FROM resources ORDER BY id_key"),
                &[],
            )
            .await?
        }
    };
    rows.iter().map(resource_row).collect()
}

pub(super) async fn delete_resource(c: &impl GenericClient, id: &str) -> Result<()> {
    let n = execute(
        c,
        "DELETE FROM resources WHERE id_key = $1",
        &[&id.to_ascii_lowercase()],
    )
    .await?;
    if n == 0 { Err(StoreError::NotFound) } else { Ok(()) }
}

pub(super) async fn delete_principal(c: &impl GenericClient, object_id: &str) -> Result<()> {
    let n = execute(c, "DELETE FROM principals WHERE object_id = $1", &[&object_id]).await?;
    if n == 0 { Err(StoreError::NotFound) } else { Ok(()) }
}
