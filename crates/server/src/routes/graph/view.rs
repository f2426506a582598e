//! Directory objects in Graph's shapes.

use keyhold_core::{
    clock::{parse_rfc3339, rfc3339},
    directory::{DirectoryApplication, DirectoryError, DirectoryPrincipal, NewPassword},
};
use keyhold_proto::graph::{
    Application, KeyCredential, Organization, PasswordCredential, ServicePrincipal, User, VerifiedDomain,
};
use keyhold_store::{PrincipalKind, UserRecord};
use secrecy::ExposeSecret;

use crate::AppState;

pub(super) fn service_principal(s: &AppState, p: &DirectoryPrincipal) -> ServicePrincipal {
    let r = &p.record;
    let app_id = r.app_id.clone().unwrap_or_default();
    let managed = r.kind == PrincipalKind::ManagedIdentity;
    ServicePrincipal {
        odata_type: None,
        id: r.object_id.clone(),
        account_enabled: true,
        app_id,
        app_display_name: (!managed).then(|| r.display_name.clone()),
        app_owner_organization_id: (!managed).then(|| s.core.tenant_id.clone()),
        display_name: r.display_name.clone(),
        created_date_time: Some(rfc3339(r.created)),
        service_principal_type: if managed { "ManagedIdentity" } else { "Application" }.into(),
        service_principal_names: p.names.clone(),
        alternative_names: Vec::new(),
        sign_in_audience: (!managed).then(|| "AzureADMyOrg".into()),
        tags: Vec::new(),
        password_credentials: Vec::new(),
        key_credentials: Vec::new(),
    }
}

pub(super) fn user(u: &UserRecord) -> User {
    User {
        odata_type: None,
        id: u.principal.object_id.clone(),
        account_enabled: u.enabled,
        display_name: u.principal.display_name.clone(),
        user_principal_name: u.user_principal_name.clone(),
        mail: None,
        created_date_time: Some(rfc3339(u.principal.created)),
        user_type: "Member".into(),
    }
}

pub(super) fn application(s: &AppState, a: &DirectoryApplication) -> Application {
    let r = &a.principal.record;
    Application {
        odata_type: None,
        id: a.principal.application_id.clone().unwrap_or_default(),
        app_id: r.app_id.clone().unwrap_or_default(),
        display_name: r.display_name.clone(),
        created_date_time: Some(rfc3339(r.created)),
        publisher_domain: Some(s.core.config.dns_suffix.clone()),
        sign_in_audience: "AzureADMyOrg".into(),
        identifier_uris: Vec::new(),
        password_credentials: a
            .secrets
            .iter()
            .map(|c| PasswordCredential {
                custom_key_identifier: None,
                display_name: None,
                end_date_time: Some(rfc3339(c.expires)),
                hint: Some(c.hint.clone()),
                key_id: c.key_id.clone(),
                secret_text: None,
                start_date_time: Some(rfc3339(c.created)),
            })
            .collect(),
        key_credentials: a
            .certificates
            .iter()
            .map(|c| KeyCredential {
                custom_key_identifier: Some(c.x5t.clone()),
                display_name: None,
                end_date_time: Some(rfc3339(c.not_after)),
                key_id: c.key_id.clone(),
                kind: "AsymmetricX509Cert".into(),
                usage: "Verify".into(),
            })
            .collect(),
    }
}

/// `addPassword`'s answer: the one time the secret is shown.
pub(super) fn new_password(new: NewPassword, display_name: Option<String>) -> PasswordCredential {
    PasswordCredential {
        custom_key_identifier: None,
        display_name,
        end_date_time: Some(rfc3339(new.record.expires)),
        hint: Some(new.record.hint.clone()),
        key_id: new.record.key_id.clone(),
        secret_text: Some(new.secret.expose_secret().to_owned()),
        start_date_time: Some(rfc3339(new.record.created)),
    }
}

pub(super) fn organization(s: &AppState) -> Organization {
    Organization {
        id: s.core.tenant_id.clone(),
        display_name: "keyhold".into(),
        tenant_type: "AAD".into(),
        verified_domains: vec![VerifiedDomain {
            name: s.core.config.dns_suffix.clone(),
            is_default: true,
            is_initial: true,
            kind: "Managed".into(),
            capabilities: "None".into(),
        }],
    }
}

pub(super) fn parse_time(text: &str) -> Result<i64, DirectoryError> {
    parse_rfc3339(text).ok_or_else(|| DirectoryError::BadRequest {
        code: "Request_BadRequest",
        message: format!("Invalid value specified for property 'endDateTime': '{text}'."),
    })
}
