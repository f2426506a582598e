//! `/certificates/contacts` and `/certificates/issuers/...`, merged into the certificates router.

use axum::{
    Json,
    extract::{Path, State},
};
use keyhold_proto::{
    certificates::{CertificateIssuerItem, Contacts, IssuerBundle},
    keyvault::Page,
};

use super::bundle::next_link;
use crate::{
    AppState,
    audit::Routes,
    error::ApiError,
    extract::{ApiVersion, KvJson, ListQuery, VaultCaller},
    vault::{Origin, Vault},
};

pub(super) fn routes() -> Routes<AppState> {
    const CONTACTS: &str = "/certificates/contacts";
    const ISSUER: &str = "/certificates/issuers/{name}";
    Routes::new()
        .get(CONTACTS, "CertificateContactsGet", get_contacts)
        .put(CONTACTS, "CertificateContactsSet", set_contacts)
        .delete(CONTACTS, "CertificateContactsDelete", delete_contacts)
        .get("/certificates/issuers", "CertificateIssuerList", list_issuers)
        .get(ISSUER, "CertificateIssuerGet", get_issuer)
        .put(ISSUER, "CertificateIssuerSet", set_issuer)
        .patch(ISSUER, "CertificateIssuerUpdate", update_issuer)
        .delete(ISSUER, "CertificateIssuerDelete", delete_issuer)
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
