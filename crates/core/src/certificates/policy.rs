//! Certificate policies: Azure's default policy, the merge of a PATCH into a stored policy, and the
//! validation that turns a policy into what to issue (key spec, X.509 content, secret format).

use keyhold_crypto::{
    certificate::{CertSpec, KEY_USAGES},
    vault_key::{Curve, KeySpec},
};
use keyhold_proto::certificates::{
    Action, CertificatePolicy, IssuerParameters, KeyProperties, LifetimeAction, PolicyAttributes, SecretProperties,
    SubjectAlternativeNames, Trigger, X509CertificateProperties,
};

use crate::{VaultError, vault_keys::jwk};

pub const PKCS12: &str = "application/x-pkcs12";
pub const PEM: &str = "application/x-pem-file";
pub const SELF_ISSUER: &str = "Self";
pub const UNKNOWN_ISSUER: &str = "Unknown";
const SERVER_AUTH: &str = "1.3.6.1.5.5.7.3.1";
const CLIENT_AUTH: &str = "1.3.6.1.5.5.7.3.2";

fn bad(msg: impl Into<String>) -> VaultError {
    VaultError::BadParameter(msg.into())
}

/// Azure's default policy (what `CertificatePolicy.get_default()` asks for, and what a create
/// without a policy gets): self-signed RSA 2048, exportable, PKCS#12, `CN=DefaultPolicy`, 12 months,
/// renewed at 80 % of its lifetime.
pub fn default_policy() -> CertificatePolicy {
    CertificatePolicy {
        issuer: Some(IssuerParameters {
            name: Some(SELF_ISSUER.into()),
            ..IssuerParameters::default()
        }),
        x509_props: Some(X509CertificateProperties {
            subject: Some("CN=DefaultPolicy".into()),
            ..X509CertificateProperties::default()
        }),
        ..CertificatePolicy::default()
    }
}

/// What a valid policy issues.
#[derive(Debug, Clone)]
pub struct Issuance {
    pub key: KeySpec,
    pub exportable: bool,
    pub reuse_key: bool,
    pub content_type: String,
    pub issuer: String,
    pub cert: CertSpec,
}

/// Overlays the sections a PATCH names onto `base` (Key Vault merges per section).
pub fn merge(base: CertificatePolicy, patch: CertificatePolicy) -> CertificatePolicy {
    fn pick<T>(new: Option<T>, old: Option<T>) -> Option<T> {
        new.or(old)
    }
    let key_props = match (patch.key_props, base.key_props) {
        (Some(n), Some(o)) => Some(KeyProperties {
            exportable: pick(n.exportable, o.exportable),
            kty: pick(n.kty, o.kty),
            key_size: pick(n.key_size, o.key_size),
            reuse_key: pick(n.reuse_key, o.reuse_key),
            crv: pick(n.crv, o.crv),
        }),
        (n, o) => pick(n, o),
    };
    let x509_props = match (patch.x509_props, base.x509_props) {
        (Some(n), Some(o)) => Some(X509CertificateProperties {
            subject: pick(n.subject, o.subject),
            ekus: pick(n.ekus, o.ekus),
            sans: pick(n.sans, o.sans),
            key_usage: pick(n.key_usage, o.key_usage),
            validity_months: pick(n.validity_months, o.validity_months),
            basic_constraints: pick(n.basic_constraints, o.basic_constraints),
        }),
        (n, o) => pick(n, o),
    };
    let issuer = match (patch.issuer, base.issuer) {
        (Some(n), Some(o)) => Some(IssuerParameters {
            name: pick(n.name, o.name),
            cty: pick(n.cty, o.cty),
            cert_transparency: pick(n.cert_transparency, o.cert_transparency),
        }),
        (n, o) => pick(n, o),
    };
    let attributes = match (patch.attributes, base.attributes) {
        (Some(n), Some(o)) => Some(PolicyAttributes {
            enabled: pick(n.enabled, o.enabled),
            created: o.created,
            updated: o.updated,
        }),
        (n, o) => pick(n, o),
    };
    CertificatePolicy {
        id: None,
        key_props,
        secret_props: pick(patch.secret_props, base.secret_props),
        x509_props,
        lifetime_actions: pick(patch.lifetime_actions, base.lifetime_actions),
        issuer,
        attributes,
    }
}

fn list(v: &Option<Vec<String>>) -> Vec<String> {
    v.clone().unwrap_or_default()
}

/// Validates `p` and fills in Azure's defaults; returns the policy to store and what it issues.
pub fn normalize(p: CertificatePolicy, now: i64) -> Result<(CertificatePolicy, Issuance), VaultError> {
    normalize_as(p, now, true)
}

/// As [`normalize`] for an imported certificate, whose X.509 content is what it is: the subject
/// and names are kept as the certificate has them, not checked as something to issue.
pub fn normalize_imported(p: CertificatePolicy, now: i64) -> Result<(CertificatePolicy, Issuance), VaultError> {
    normalize_as(p, now, false)
}

fn normalize_as(p: CertificatePolicy, now: i64, issuing: bool) -> Result<(CertificatePolicy, Issuance), VaultError> {
    let kp = p.key_props.unwrap_or_default();
    let kty = kp.kty.clone().unwrap_or_else(|| "RSA".into());
    let spec = match kty.as_str() {
        "RSA" => jwk::create_spec(Some("RSA"), Some(kp.key_size.unwrap_or(2048)), None, None)?,
        "EC" => jwk::create_spec(Some("EC"), None, None, Some(kp.crv.as_deref().unwrap_or("P-256")))?,
        other => return Err(jwk::refuse_unsupported_kty(other)),
    };
    if issuing && spec == KeySpec::Ec(Curve::P256K) {
        return Err(bad(
            "Certificates with keys on curve P-256K are not supported; use P-256, P-384 or P-521.",
        ));
    }
    let key_props = KeyProperties {
        exportable: Some(kp.exportable.unwrap_or(true)),
        kty: Some(kty),
        key_size: match spec {
            KeySpec::Rsa(bits) => Some(bits),
            KeySpec::Ec(_) => None,
        },
        reuse_key: Some(kp.reuse_key.unwrap_or(false)),
        crv: match spec {
            KeySpec::Ec(c) => Some(c.name().to_owned()),
            KeySpec::Rsa(_) => None,
        },
    };

    let content_type = p
        .secret_props
        .and_then(|s| s.content_type)
        .unwrap_or_else(|| PKCS12.into());
    if content_type != PKCS12 && content_type != PEM {
        return Err(bad(format!(
            "Invalid content type '{content_type}'. It must be 'application/x-pkcs12' or 'application/x-pem-file'."
        )));
    }

    let x = p.x509_props.unwrap_or_default();
    let sans = x.sans.clone().unwrap_or_default();
    let subject = x.subject.clone().unwrap_or_default();
    let no_sans = [
        &sans.dns_names,
        &sans.emails,
        &sans.upns,
        &sans.uris,
        &sans.ip_addresses,
    ]
    .iter()
    .all(|l| l.as_ref().is_none_or(Vec::is_empty));
    if subject.trim().is_empty() && no_sans {
        return Err(bad(
            "The policy's x509_props must have a subject or subject alternative names.",
        ));
    }
    let validity_months = x.validity_months.unwrap_or(12);
    if !(1..=1200).contains(&validity_months) {
        return Err(bad("Invalid validity_months: it must be between 1 and 1200."));
    }
    let key_usage = x.key_usage.clone().unwrap_or_else(|| match spec {
        KeySpec::Rsa(_) => vec!["digitalSignature".into(), "keyEncipherment".into()],
        KeySpec::Ec(_) => vec!["digitalSignature".into()],
    });
    if let Some(bad_usage) = key_usage.iter().find(|u| !KEY_USAGES.contains(&u.as_str())) {
        return Err(bad(format!("Invalid key usage '{bad_usage}'.")));
    }
    let ekus = x
        .ekus
        .clone()
        .unwrap_or_else(|| vec![SERVER_AUTH.into(), CLIENT_AUTH.into()]);
    if let Some(e) = ekus
        .iter()
        .find(|e| e.split('.').count() < 2 || e.split('.').any(|a| a.parse::<u64>().is_err()))
    {
        return Err(bad(format!(
            "Invalid enhanced key usage '{e}': it must be a dotted OID."
        )));
    }
    let cert = CertSpec {
        // A certificate named only by its SANs gets an empty subject, which X.509 allows; rcgen
        // needs one attribute, so the first DNS name stands in.
        subject: if subject.trim().is_empty() {
            format!(
                "CN={}",
                list(&sans.dns_names)
                    .first()
                    .or(list(&sans.emails).first())
                    .or(list(&sans.upns).first())
                    .cloned()
                    .unwrap_or_default()
            )
        } else {
            subject.clone()
        },
        dns_names: list(&sans.dns_names),
        emails: list(&sans.emails),
        upns: list(&sans.upns),
        uris: list(&sans.uris),
        ip_addresses: list(&sans.ip_addresses),
        ekus: ekus.clone(),
        key_usage: key_usage.clone(),
        validity_months,
    };
    if issuing {
        keyhold_crypto::certificate::params(&cert, now).map_err(|e| bad(e.to_string()))?;
    }

    let lifetime_actions = match p.lifetime_actions {
        None => vec![LifetimeAction {
            trigger: Some(Trigger {
                lifetime_percentage: Some(80),
                days_before_expiry: None,
            }),
            action: Some(Action {
                action_type: Some("AutoRenew".into()),
            }),
        }],
        Some(actions) => {
            if actions.len() > 1 {
                return Err(bad("A certificate policy may have at most one lifetime action."));
            }
            for a in &actions {
                let t = a.trigger.clone().unwrap_or_default();
                match (t.lifetime_percentage, t.days_before_expiry) {
                    (Some(p), None) if (1..=99).contains(&p) => {}
                    (None, Some(d)) if d >= 1 && d <= validity_months * 27 => {}
                    (Some(_), Some(_)) => {
                        return Err(bad(
                            "A lifetime action's trigger must have either lifetime_percentage or days_before_expiry, not both.",
                        ));
                    }
                    _ => {
                        return Err(bad(format!(
                            "Invalid lifetime action trigger: lifetime_percentage must be between 1 and 99, days_before_expiry between 1 and {}.",
                            validity_months * 27
                        )));
                    }
                }
                match a.action.as_ref().and_then(|x| x.action_type.as_deref()) {
                    Some("AutoRenew" | "EmailContacts") => {}
                    other => {
                        return Err(bad(format!(
                            "Invalid lifetime action type '{}': it must be AutoRenew or EmailContacts.",
                            other.unwrap_or_default()
                        )));
                    }
                }
            }
            actions
        }
    };

    let issuer = p.issuer.unwrap_or_default();
    let issuer_name = issuer.name.clone().unwrap_or_else(|| UNKNOWN_ISSUER.into());
    if issuer_name.is_empty() {
        return Err(bad("The policy's issuer name must not be empty."));
    }
    let attrs = p.attributes.unwrap_or_default();
    let stored = CertificatePolicy {
        id: None,
        key_props: Some(key_props),
        secret_props: Some(SecretProperties {
            content_type: Some(content_type.clone()),
        }),
        x509_props: Some(X509CertificateProperties {
            subject: Some(subject),
            ekus: Some(ekus),
            sans: (!no_sans).then_some(SubjectAlternativeNames {
                emails: sans.emails.filter(|v| !v.is_empty()),
                dns_names: sans.dns_names.filter(|v| !v.is_empty()),
                upns: sans.upns.filter(|v| !v.is_empty()),
                uris: sans.uris.filter(|v| !v.is_empty()),
                ip_addresses: sans.ip_addresses.filter(|v| !v.is_empty()),
            }),
            key_usage: Some(key_usage),
            validity_months: Some(validity_months),
            basic_constraints: x.basic_constraints,
        }),
        lifetime_actions: Some(lifetime_actions),
        issuer: Some(IssuerParameters {
            name: Some(issuer_name.clone()),
            ..issuer
        }),
        attributes: Some(PolicyAttributes {
            enabled: Some(attrs.enabled.unwrap_or(true)),
            created: Some(attrs.created.unwrap_or(now)),
            updated: Some(now),
        }),
    };
    Ok((
        stored,
        Issuance {
            key: spec,
            exportable: kp.exportable.unwrap_or(true),
            reuse_key: kp.reuse_key.unwrap_or(false),
            content_type,
            issuer: issuer_name,
            cert,
        },
    ))
}

/// The policy Key Vault gives an imported certificate that came without one: its own content,
/// issuer `Unknown`, and the key as it is.
pub fn of_certificate(content: &CertSpec) -> CertificatePolicy {
    let some = |v: &Vec<String>| (!v.is_empty()).then(|| v.clone());
    CertificatePolicy {
        x509_props: Some(X509CertificateProperties {
            subject: Some(content.subject.clone()),
            ekus: Some(content.ekus.clone()),
            sans: Some(SubjectAlternativeNames {
                emails: some(&content.emails),
                dns_names: some(&content.dns_names),
                upns: some(&content.upns),
                uris: some(&content.uris),
                ip_addresses: some(&content.ip_addresses),
            }),
            key_usage: Some(content.key_usage.clone()),
            validity_months: Some(content.validity_months.min(1200)),
            basic_constraints: None,
        }),
        issuer: Some(IssuerParameters {
            name: Some(UNKNOWN_ISSUER.into()),
            ..IssuerParameters::default()
        }),
        lifetime_actions: Some(vec![LifetimeAction {
            trigger: Some(Trigger {
                lifetime_percentage: Some(80),
                days_before_expiry: None,
            }),
            action: Some(Action {
                action_type: Some("EmailContacts".into()),
            }),
        }]),
        ..CertificatePolicy::default()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn the_default_policy_is_azures() {
        let (p, i) = normalize(default_policy(), 100).unwrap();
        assert_eq!(i.key, KeySpec::Rsa(2048));
        assert_eq!(i.content_type, PKCS12);
        assert_eq!(i.issuer, "Self");
        assert!(i.exportable && !i.reuse_key);
        let x = p.x509_props.unwrap();
        assert_eq!(x.subject.as_deref(), Some("CN=DefaultPolicy"));
        assert_eq!(x.validity_months, Some(12));
        assert_eq!(x.ekus.unwrap(), [SERVER_AUTH, CLIENT_AUTH]);
        let la = &p.lifetime_actions.unwrap()[0];
        assert_eq!(la.trigger.as_ref().unwrap().lifetime_percentage, Some(80));
        assert_eq!(la.action.as_ref().unwrap().action_type.as_deref(), Some("AutoRenew"));
    }

    #[test]
    fn bad_policies_are_refused() {
        let with = |f: &dyn Fn(&mut CertificatePolicy)| {
            let mut p = default_policy();
            f(&mut p);
            normalize(p, 0)
        };
        assert!(
            with(&|p| p.secret_props = Some(SecretProperties {
                content_type: Some("text/plain".into())
            }))
            .is_err()
        );
        assert!(
            with(&|p| p.key_props = Some(KeyProperties {
                kty: Some("oct".into()),
                ..Default::default()
            }))
            .is_err()
        );
        assert!(
            with(&|p| p.key_props = Some(KeyProperties {
                key_size: Some(1024),
                ..Default::default()
            }))
            .is_err()
        );
        assert!(with(&|p| p.x509_props = Some(X509CertificateProperties::default())).is_err());
        assert!(with(&|p| p.x509_props.as_mut().unwrap().validity_months = Some(0)).is_err());
        assert!(with(&|p| p.x509_props.as_mut().unwrap().key_usage = Some(vec!["everything".into()])).is_err());
        assert!(with(&|p| p.x509_props.as_mut().unwrap().subject = Some("garbage".into())).is_err());
        assert!(
            with(&|p| {
                p.lifetime_actions = Some(vec![LifetimeAction {
                    trigger: Some(Trigger {
                        lifetime_percentage: Some(100),
                        days_before_expiry: None,
                    }),
                    action: Some(Action {
                        action_type: Some("AutoRenew".into()),
                    }),
                }])
            })
            .is_err()
        );
        let merged = merge(
            normalize(default_policy(), 0).unwrap().0,
            CertificatePolicy {
                secret_props: Some(SecretProperties {
                    content_type: Some(PEM.into()),
                }),
                ..Default::default()
            },
        );
        assert_eq!(normalize(merged, 0).unwrap().1.content_type, PEM);
    }
}
