//! Management-plane tables: vaults (with their ARM properties and soft-delete state), resource groups
//! and role assignments.

use rusqlite::{Connection, OptionalExtension, Row, params};

use super::{CachedSql, db_err};
use crate::{
    columns::{ResourceColumns, from_json, opt_from_json, opt_to_json, to_json},
    *,
};

const VAULT_COLS: &str = "name, tenant_id, retention_days, purge_protection, created, properties, deleted_at, purge_at";

fn vault_row(r: &Row<'_>) -> rusqlite::Result<(VaultRecord, String)> {
    Ok((
        VaultRecord {
            name: r.get(0)?,
            tenant_id: r.get(1)?,
            retention_days: r.get(2)?,
            purge_protection: r.get(3)?,
            created: r.get(4)?,
            properties: serde_json::Value::Null,
            deleted_at: r.get(6)?,
            purge_at: r.get(7)?,
        },
        r.get(5)?,
    ))
}

fn with_properties((mut v, props): (VaultRecord, String)) -> Result<VaultRecord> {
    v.properties = from_json(&props)?;
    Ok(v)
}

pub(super) fn put_vault(c: &mut Connection, v: &VaultRecord) -> Result<()> {
    let props = to_json(&v.properties)?;
    c.cached_execute(
        &format!(
            "INSERT INTO vaults ({VAULT_COLS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)
             ON CONFLICT(name) DO UPDATE SET retention_days = excluded.retention_days,
               purge_protection = excluded.purge_protection, properties = excluded.properties,
               deleted_at = excluded.deleted_at, purge_at = excluded.purge_at"
        ),
        params![
            v.name,
            v.tenant_id,
            v.retention_days,
            v.purge_protection,
            v.created,
            props,
            v.deleted_at,
            v.purge_at
        ],
    )
    .map(drop)
    .map_err(db_err)
}

pub(super) fn vault(c: &mut Connection, name: &str, include_deleted: bool) -> Result<Option<VaultRecord>> {
    let filter = if include_deleted { "" } else { " AND deleted_at IS NULL" };
    c.cached_row(
        &format!("SELECT {VAULT_COLS} FROM vaults WHERE name = ?1{filter}"),
        [name],
        vault_row,
    )
    .optional()
    .map_err(db_err)?
    .map(with_properties)
    .transpose()
}

pub(super) fn list_vaults(c: &mut Connection, deleted: bool) -> Result<Vec<VaultRecord>> {
    let filter = if deleted {
        "deleted_at IS NOT NULL"
    } else {
        "deleted_at IS NULL"
    };
    let mut st = c
        .prepare_cached(&format!("SELECT {VAULT_COLS} FROM vaults WHERE {filter} ORDER BY name"))
        .map_err(db_err)?;
    let rows = st.query_map([], vault_row).map_err(db_err)?;
    rows.map(|r| r.map_err(db_err).and_then(with_properties)).collect()
}

pub(super) fn purge_vault(c: &mut Connection, name: &str) -> Result<()> {
    let tx = c.savepoint().map_err(db_err)?;
    let n = tx
        .cached_execute("DELETE FROM vaults WHERE name = ?1", [name])
        .map_err(db_err)?;
    if n == 0 {
        return Err(StoreError::NotFound);
    }
    tx.cached_execute("DELETE FROM deleted_secrets WHERE vault = ?1", [name])
        .map_err(db_err)?;
    tx.cached_execute("DELETE FROM secret_versions WHERE vault = ?1", [name])
        .map_err(db_err)?;
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
        tx.cached_execute(&format!("DELETE FROM {table} WHERE vault = ?1"), [name])
            .map_err(db_err)?;
    }
    tx.commit().map_err(db_err)
}

fn group_row(r: &Row<'_>) -> rusqlite::Result<(ResourceGroupRecord, Option<String>)> {
    Ok((
        ResourceGroupRecord {
            name: r.get(0)?,
            location: r.get(1)?,
            tags: None,
            created: r.get(3)?,
        },
        r.get(2)?,
    ))
}

fn with_tags((mut g, tags): (ResourceGroupRecord, Option<String>)) -> Result<ResourceGroupRecord> {
    g.tags = opt_from_json(tags)?;
    Ok(g)
}

pub(super) fn put_resource_group(c: &mut Connection, g: &ResourceGroupRecord) -> Result<()> {
    let tags = opt_to_json(g.tags.as_ref())?;
    c.cached_execute(
        "INSERT INTO resource_groups (name, location, tags, created) VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT(name) DO UPDATE SET tags = excluded.tags",
        params![g.name, g.location, tags, g.created],
    )
    .map(drop)
    .map_err(db_err)
}

pub(super) fn resource_group(c: &mut Connection, name: &str) -> Result<Option<ResourceGroupRecord>> {
    c.cached_row(
        "SELECT name, location, tags, created FROM resource_groups WHERE name = ?1",
        [name],
        group_row,
    )
    .optional()
    .map_err(db_err)?
    .map(with_tags)
    .transpose()
}

pub(super) fn list_resource_groups(c: &mut Connection) -> Result<Vec<ResourceGroupRecord>> {
    let mut st = c
        .prepare_cached("SELECT name, location, tags, created FROM resource_groups ORDER BY name")
        .map_err(db_err)?;
    let rows = st.query_map([], group_row).map_err(db_err)?;
    rows.map(|r| r.map_err(db_err).and_then(with_tags)).collect()
}

pub(super) fn delete_resource_group(c: &mut Connection, name: &str) -> Result<()> {
    let n = c
        .cached_execute("DELETE FROM resource_groups WHERE name = ?1", [name])
        .map_err(db_err)?;
    if n == 0 { Err(StoreError::NotFound) } else { Ok(()) }
}

const ASSIGNMENT_COLS: &str = "name, scope, principal_id, role_definition_id, principal_type, created";

fn assignment_row(r: &Row<'_>) -> rusqlite::Result<RoleAssignmentRecord> {
    Ok(RoleAssignmentRecord {
        name: r.get(0)?,
        scope: r.get(1)?,
        principal_id: r.get(2)?,
        role_definition_id: r.get(3)?,
        principal_type: r.get(4)?,
        created: r.get(5)?,
    })
}

pub(super) fn put_role_assignment(c: &mut Connection, a: &RoleAssignmentRecord) -> Result<()> {
    c.cached_execute(
        &format!("INSERT INTO role_assignments ({ASSIGNMENT_COLS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6)"),
        params![
            a.name,
            a.scope,
            a.principal_id,
            a.role_definition_id,
            a.principal_type,
            a.created
        ],
    )
    .map(drop)
    .map_err(|e| match e {
        rusqlite::Error::SqliteFailure(f, _) if f.code == rusqlite::ErrorCode::ConstraintViolation => {
            StoreError::Exists
        }
        other => db_err(other),
    })
}

pub(super) fn role_assignment(c: &mut Connection, name: &str) -> Result<Option<RoleAssignmentRecord>> {
    c.cached_row(
        &format!("SELECT {ASSIGNMENT_COLS} FROM role_assignments WHERE name = ?1"),
        [name],
        assignment_row,
    )
    .optional()
    .map_err(db_err)
}

pub(super) fn delete_role_assignment(c: &mut Connection, name: &str) -> Result<()> {
    let n = c
        .cached_execute("DELETE FROM role_assignments WHERE name = ?1", [name])
        .map_err(db_err)?;
    if n == 0 { Err(StoreError::NotFound) } else { Ok(()) }
}

pub(super) fn role_assignments(c: &mut Connection, principal: Option<&str>) -> Result<Vec<RoleAssignmentRecord>> {
    let (sql, args): (String, Vec<String>) = match principal {
        Some(p) => (
            format!(
                "SELECT {ASSIGNMENT_COLS} FROM role_assignments WHERE principal_id = ?1 COLLATE NOCASE ORDER BY created"
            ),
            vec![p.to_owned()],
        ),
        None => (
            format!("SELECT {ASSIGNMENT_COLS} FROM role_assignments ORDER BY created"),
            vec![],
        ),
    };
    let mut st = c.prepare_cached(&sql).map_err(db_err)?;
    let rows = st
        .query_map(rusqlite::params_from_iter(args), assignment_row)
        .map_err(db_err)?;
    rows.collect::<rusqlite::Result<_>>().map_err(db_err)
}

const RESOURCE_COLS: &str = "id, type, resource_group, name, location, tags, properties, identity, sealed, created";

fn resource_row(r: &Row<'_>) -> rusqlite::Result<RawResource> {
    Ok((
        ResourceRecord {
            id: r.get(0)?,
            kind: r.get(1)?,
            resource_group: r.get(2)?,
            name: r.get(3)?,
            location: r.get(4)?,
            tags: None,
            properties: serde_json::Value::Null,
            identity: None,
            sealed: None,
            created: r.get(9)?,
        },
        ResourceColumns {
            tags: r.get(5)?,
            properties: r.get(6)?,
            identity: r.get(7)?,
            sealed: r.get(8)?,
        },
    ))
}

/// Decoding can fail as `Corrupt`, which a rusqlite row closure cannot say: it happens after the read.
type RawResource = (ResourceRecord, ResourceColumns);

fn finish_resource((rec, columns): RawResource) -> Result<ResourceRecord> {
    columns.decode_into(rec)
}

pub(super) fn put_resource(c: &mut Connection, r: &ResourceRecord) -> Result<()> {
    let col = ResourceColumns::encode(r)?;
    c.cached_execute(
        &format!(
            "INSERT INTO resources (id_key, {RESOURCE_COLS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)
             ON CONFLICT(id_key) DO UPDATE SET location = excluded.location, tags = excluded.tags,
               properties = excluded.properties, identity = excluded.identity, sealed = excluded.sealed"
        ),
        params![
            r.id.to_ascii_lowercase(),
            r.id,
            r.kind,
            r.resource_group,
            r.name,
            r.location,
            col.tags,
            col.properties,
            col.identity,
            col.sealed,
            r.created
        ],
    )
    .map(drop)
    .map_err(db_err)
}

pub(super) fn resource(c: &mut Connection, id: &str) -> Result<Option<ResourceRecord>> {
    c.cached_row(
        &format!("SELECT {RESOURCE_COLS} FROM resources WHERE id_key = ?1"),
        [id.to_ascii_lowercase()],
        resource_row,
    )
    .optional()
    .map_err(db_err)?
    .map(finish_resource)
    .transpose()
}

pub(super) fn list_resources(c: &mut Connection, group: Option<&str>) -> Result<Vec<ResourceRecord>> {
    let (sql, args) = match group {
        Some(g) => (
            format!("SELECT {RESOURCE_COLS} FROM resources WHERE resource_group = ?1 ORDER BY id_key"),
            vec![g.to_owned()],
        ),
        None => (format!("SELECT {RESOURCE_COLS} FROM resources ORDER BY id_key"), vec![]),
    };
    let mut st = c.prepare_cached(&sql).map_err(db_err)?;
    let rows = st
        .query_map(rusqlite::params_from_iter(args), resource_row)
        .map_err(db_err)?;
    rows.map(|r| r.map_err(db_err).and_then(finish_resource)).collect()
}

pub(super) fn delete_resource(c: &mut Connection, id: &str) -> Result<()> {
    let n = c
        .cached_execute("DELETE FROM resources WHERE id_key = ?1", [id.to_ascii_lowercase()])
        .map_err(db_err)?;
    if n == 0 { Err(StoreError::NotFound) } else { Ok(()) }
}

pub(super) fn delete_principal(c: &mut Connection, object_id: &str) -> Result<()> {
    let n = c
        .cached_execute("DELETE FROM principals WHERE object_id = ?1", [object_id])
        .map_err(db_err)?;
    if n == 0 { Err(StoreError::NotFound) } else { Ok(()) }
}
