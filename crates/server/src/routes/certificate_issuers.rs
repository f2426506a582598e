//! `/certificates/contacts` and `/certificates/issuers/...`, merged into the certificates router.

use axum::{
    Json, Router,
    extract::{Path, State},
    routing::get,
};
use keyhold_proto::{
    certificates::{CertificateIssuerItem, Contacts, IssuerBundle},
    keyvault::Page,
};

use super::bundle::next_link;
use crate::{
    AppState,
    error::ApiError,
    extract::{ApiVersion, KvJson, ListQuery, VaultCaller},
    vault::{Origin, Vault},
};

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route(
            "/certificates/contacts",
            get(get_contacts).put(set_contacts).delete(delete_contacts),
        )
        .route("/certificates/issuers", get(list_issuers))
        .route(
            "/certificates/issuers/{name}",
            get(get_issuer)
                .put(set_issuer)
                .patch(update_issuer)
                .delete(delete_issuer),
        )
}

type Result<T> = std::result::Result<Json<T>, ApiError>;

fn contacts_body(origin: &str, mut c: Contacts) -> Contacts {
    c.id = Some(format!("{origin}/certificates/contacts"));
    c
}

fn issuer_body(origin: &str, name: &str, mut b: IssuerBundle) -> IssuerBundle {
    b.id = Some(format!("{origin}/certificates/issuers/{name}"));
    b
}

async fn get_contacts(
    caller: VaultCaller,
    State(s): State<AppState>,
    Vault(vault): Vault,
    Origin(origin): Origin,
    _: ApiVersion,
) -> Result<Contacts> {
    let c = s.core.certificates.contacts(&caller.caller(), &vault).await?;
    Ok(Json(contacts_body(&origin, c)))
}

async fn set_contacts(
    caller: VaultCaller,
    State(s): State<AppState>,
    Vault(vault): Vault,
    Origin(origin): Origin,
    _: ApiVersion,
    KvJson(body): KvJson<Contacts>,
) -> Result<Contacts> {
    let c = s.core.certificates.set_contacts(&caller.caller(), &vault, body).await?;
    Ok(Json(contacts_body(&origin, c)))
}

async fn delete_contacts(
    caller: VaultCaller,
    State(s): State<AppState>,
    Vault(vault): Vault,
    Origin(origin): Origin,
    _: ApiVersion,
) -> Result<Contacts> {
    let c = s.core.certificates.delete_contacts(&caller.caller(), &vault).await?;
    Ok(Json(contacts_body(&origin, c)))
}

async fn list_issuers(
    caller: VaultCaller,
    State(s): State<AppState>,
    Vault(vault): Vault,
    Origin(origin): Origin,
    api: ApiVersion,
    q: ListQuery,
) -> Result<Page<CertificateIssuerItem>> {
    let page = s
        .core
        .certificates
        .list_issuers(&caller.caller(), &vault, q.max, q.cursor)
        .await?;
    Ok(Json(Page {
        value: page
            .items
            .into_iter()
            .map(|(name, b)| CertificateIssuerItem {
                id: format!("{origin}/certificates/issuers/{name}"),
                provider: b.provider,
            })
            .collect(),
        next_link: next_link(&origin, "/certificates/issuers", &api, q.max, page.next),
    }))
}

async fn get_issuer(
    caller: VaultCaller,
    State(s): State<AppState>,
    Vault(vault): Vault,
    Origin(origin): Origin,
    _: ApiVersion,
    Path(name): Path<String>,
) -> Result<IssuerBundle> {
    let b = s.core.certificates.issuer(&caller.caller(), &vault, &name).await?;
    Ok(Json(issuer_body(&origin, &name, b)))
}

async fn set_issuer(
    caller: VaultCaller,
    State(s): State<AppState>,
    Vault(vault): Vault,
    Origin(origin): Origin,
    _: ApiVersion,
    Path(name): Path<String>,
    KvJson(body): KvJson<IssuerBundle>,
) -> Result<IssuerBundle> {
    let b = s
        .core
        .certificates
        .set_issuer(&caller.caller(), &vault, &name, body, false)
        .await?;
    Ok(Json(issuer_body(&origin, &name, b)))
}

async fn update_issuer(
    caller: VaultCaller,
    State(s): State<AppState>,
    Vault(vault): Vault,
    Origin(origin): Origin,
    _: ApiVersion,
    Path(name): Path<String>,
    KvJson(body): KvJson<IssuerBundle>,
) -> Result<IssuerBundle> {
    let b = s
        .core
        .certificates
        .set_issuer(&caller.caller(), &vault, &name, body, true)
        .await?;
    Ok(Json(issuer_body(&origin, &name, b)))
}

async fn delete_issuer(
    caller: VaultCaller,
    State(s): State<AppState>,
    Vault(vault): Vault,
    Origin(origin): Origin,
    _: ApiVersion,
    Path(name): Path<String>,
) -> Result<IssuerBundle> {
    let b = s
        .core
        .certificates
        .delete_issuer(&caller.caller(), &vault, &name)
        .await?;
    Ok(Json(issuer_body(&origin, &name, b)))
}
