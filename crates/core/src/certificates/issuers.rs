//! A vault's certificate contacts and certificate issuers. An issuer's password is sealed with
//! associated data `["certificate-issuer", vault, name]` and never returned. Issuers whose provider
//! is [`KEYHOLD_CA`] are served by keyhold's own issuing CA; other providers are stored (so
//! configurations written for Azure load) but cannot issue.

use keyhold_proto::certificates::{Contacts, IssuerAttributes, IssuerBundle, IssuerCredentials};
use keyhold_store::{CertificateIssuerRecord, StoreError, VaultRecord};

use super::{Certificates, internal};
use crate::{
    VaultError,
    authz::{Caller, CertificateOp},
    secrets::{Cursor, Listing, validate_secret_name},
};

/// The provider name of keyhold's own per-tenant issuing CA.
pub const KEYHOLD_CA: &str = "KeyholdCA";

fn bad(msg: impl Into<String>) -> VaultError {
    VaultError::BadParameter(msg.into())
}

fn issuer_not_found(name: &str) -> VaultError {
    VaultError::CertificateIssuerNotFound { name: name.to_owned() }
}

fn aad<'a>(vault: &'a str, name: &'a str) -> [&'a str; 3] {
    ["certificate-issuer", vault, name]
}

fn validate_issuer_name(name: &str) -> Result<(), VaultError> {
    validate_secret_name(name).map_err(|_| {
        bad(format!(
            "The request URI contains an invalid name: {name}. Issuer names must be 1-127 characters of 0-9, a-z, A-Z and -."
        ))
    })?;
    if ["self", "unknown"].contains(&name.to_ascii_lowercase().as_str()) {
        return Err(bad(format!("The issuer name '{name}' is reserved.")));
    }
    Ok(())
}

/// The stored (and returned) form: no id, no password.
fn public(mut b: IssuerBundle) -> IssuerBundle {
    b.id = None;
    if let Some(c) = b.credentials.as_mut() {
        c.pwd = None;
    }
    b
}

impl Certificates {
    pub async fn contacts(&self, caller: &Caller, vault: &VaultRecord) -> Result<Contacts, VaultError> {
        self.authz
            .certificate(caller, vault, CertificateOp::ManageContacts, None)
            .await?;
        let stored = self
            .store
            .certificate_contacts(&vault.name)
            .await?
            .ok_or(VaultError::ContactsNotFound)?;
        serde_json::from_value(stored).map_err(internal)
    }

    pub async fn set_contacts(
        &self,
        caller: &Caller,
        vault: &VaultRecord,
        c: Contacts,
    ) -> Result<Contacts, VaultError> {
        self.authz
            .certificate(caller, vault, CertificateOp::ManageContacts, None)
            .await?;
        let list = c.contacts.unwrap_or_default();
        if list.is_empty() {
            return Err(bad("The parameter 'contacts' must hold at least one contact."));
        }
        if list.len() > 64 {
            return Err(bad("A vault may have at most 64 certificate contacts."));
        }
        if let Some(bad_one) = list
            .iter()
            .find(|x| !x.email.as_deref().is_some_and(|e| e.contains('@')))
        {
            return Err(bad(format!(
                "Invalid contact: every contact needs an email address (got {:?}).",
                bad_one.email.as_deref().unwrap_or_default()
            )));
        }
        let contacts = Contacts {
            id: None,
            contacts: Some(list),
        };
        let json = serde_json::to_value(&contacts).map_err(internal)?;
        self.store
            .put_certificate_contacts(&vault.name, &json, self.clock.now())
            .await?;
        Ok(contacts)
    }

    pub async fn delete_contacts(&self, caller: &Caller, vault: &VaultRecord) -> Result<Contacts, VaultError> {
        let current = self.contacts(caller, vault).await?;
        match self.store.delete_certificate_contacts(&vault.name).await {
            Ok(()) => Ok(current),
            Err(StoreError::NotFound) => Err(VaultError::ContactsNotFound),
            Err(e) => Err(e.into()),
        }
    }

    /// `PUT` creates or replaces; `PATCH` (`merge`) changes only the members given.
    pub async fn set_issuer(
        &self,
        caller: &Caller,
        vault: &VaultRecord,
        name: &str,
        b: IssuerBundle,
        merge: bool,
    ) -> Result<IssuerBundle, VaultError> {
        self.authz
            .certificate(caller, vault, CertificateOp::SetIssuers, None)
            .await?;
        validate_issuer_name(name)?;
        let now = self.clock.now();
        let existing = self.store.certificate_issuer(&vault.name, name).await?;
        if merge && existing.is_none() {
            return Err(issuer_not_found(name));
        }
        let old: IssuerBundle = match &existing {
            Some(r) if merge => serde_json::from_value(r.issuer.clone()).map_err(internal)?,
            _ => IssuerBundle::default(),
        };
        let provider = b
            .provider
            .clone()
            .or(old.provider.clone())
            .filter(|p| !p.trim().is_empty())
            .ok_or_else(|| bad("The parameter 'provider' is required."))?;
        let pwd = b.credentials.as_ref().and_then(|c| c.pwd.clone());
        let credentials = match (b.credentials.clone(), old.credentials.clone()) {
            (Some(new), Some(o)) if merge => Some(IssuerCredentials {
                account_id: new.account_id.or(o.account_id),
                pwd: None,
            }),
            (new, o) => new.or(o),
        };
        let created = existing.as_ref().map_or(now, |e| e.created);
        let bundle = public(IssuerBundle {
            id: None,
            provider: Some(provider),
            credentials,
            org_details: b.org_details.or(old.org_details),
            attributes: Some(IssuerAttributes {
                enabled: b
                    .attributes
                    .and_then(|a| a.enabled)
                    .or(old.attributes.and_then(|a| a.enabled))
                    .or(Some(true)),
                created: Some(created),
                updated: Some(now),
            }),
        });
        let sealed = match pwd {
            Some(p) => Some(self.keys.seal(&aad(&vault.name, name), p.as_bytes())?),
            None if merge => existing.and_then(|e| e.credentials),
            None => None,
        };
        self.store
            .put_certificate_issuer(&CertificateIssuerRecord {
                vault: vault.name.clone(),
                name: name.to_owned(),
                issuer: serde_json::to_value(&bundle).map_err(internal)?,
                credentials: sealed,
                created,
                updated: now,
            })
            .await?;
        Ok(bundle)
    }

    pub async fn issuer(&self, caller: &Caller, vault: &VaultRecord, name: &str) -> Result<IssuerBundle, VaultError> {
        self.authz
            .certificate(caller, vault, CertificateOp::GetIssuers, None)
            .await?;
        validate_issuer_name(name)?;
        self.issuer_unchecked(vault, name).await
    }

    pub(super) async fn issuer_unchecked(&self, vault: &VaultRecord, name: &str) -> Result<IssuerBundle, VaultError> {
        let r = self
            .store
            .certificate_issuer(&vault.name, name)
            .await?
            .ok_or_else(|| issuer_not_found(name))?;
        serde_json::from_value(r.issuer).map_err(internal)
    }

    pub async fn list_issuers(
        &self,
        caller: &Caller,
        vault: &VaultRecord,
        max: Option<u32>,
        cursor: Option<Cursor>,
    ) -> Result<Listing<(String, IssuerBundle)>, VaultError> {
        self.authz
            .certificate(caller, vault, CertificateOp::ListIssuers, None)
            .await?;
        let page = crate::secrets::page_request(max, cursor)?;
        let rows = self.store.list_certificate_issuers(&vault.name, &page).await?;
        let items = rows
            .into_iter()
            .map(|r| Ok((r.name, serde_json::from_value(r.issuer).map_err(internal)?)))
            .collect::<Result<Vec<_>, VaultError>>()?;
        Ok(crate::secrets::finish_page(items, page.limit, |(n, _)| n.clone()))
    }

    pub async fn delete_issuer(
        &self,
        caller: &Caller,
        vault: &VaultRecord,
        name: &str,
    ) -> Result<IssuerBundle, VaultError> {
        self.authz
            .certificate(caller, vault, CertificateOp::DeleteIssuers, None)
            .await?;
        validate_issuer_name(name)?;
        let current = self.issuer_unchecked(vault, name).await?;
        match self.store.delete_certificate_issuer(&vault.name, name).await {
            Ok(()) => Ok(current),
            Err(StoreError::NotFound) => Err(issuer_not_found(name)),
            Err(e) => Err(e.into()),
        }
    }
}
