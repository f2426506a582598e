//! `keyhold keyvault certificate ...`: the certificates of the Key Vault data plane with az's command
//! names and flags. Like every command it uses only the REST API; `download` writes the public
//! certificate only (the private key is the certificate's secret: `secret download`).

use std::path::PathBuf;

use anyhow::{Context, bail};
use base64::{
    Engine,
    engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD},
};
use clap::{Args, Subcommand, ValueEnum};
use reqwest::Method;
use serde_json::{Value, json};

use super::{
    arm,
    output::OutputArgs,
    secret::{enc, list},
    session::Session,
};

#[derive(Debug, Args)]
#[command(
    after_help = "Examples:\n  keyhold keyvault certificate get-default-policy > policy.json\n  keyhold keyvault certificate create --vault-name myvault --name web --policy @policy.json\n  keyhold keyvault certificate download --vault-name myvault --name web --file web.pem"
)]
pub struct CertificateArgs {
    #[command(subcommand)]
    command: CertificateCommand,
}

/// A certificate: `--vault-name` and `--name` (optionally `--version`), or its `--id` URL.
#[derive(Debug, Args)]
struct Target {
    #[arg(long, required_unless_present = "id")]
    vault_name: Option<String>,
    #[arg(long, short = 'n', required_unless_present = "id")]
    name: Option<String>,
    #[arg(long, short = 'v')]
    version: Option<String>,
    /// https://{vault}.{suffix}/certificates/{name}[/{version}].
    #[arg(long, conflicts_with_all = ["vault_name", "name"])]
    id: Option<String>,
}

#[derive(Debug, Args)]
struct Named {
    #[arg(long)]
    vault_name: String,
    #[arg(long, short = 'n')]
    name: String,
}

#[derive(Debug, Args)]
struct Vault {
    #[arg(long)]
    vault_name: String,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum CertEncoding {
    #[value(name = "PEM")]
    Pem,
    #[value(name = "DER")]
    Der,
}

#[derive(Debug, Subcommand)]
enum CertificateCommand {
    /// Create a certificate (a new version if it exists) and wait for it to be issued.
    Create {
        #[command(flatten)]
        cert: Named,
        /// The policy: JSON, or @file (see get-default-policy). Without it: the stored policy, or
        /// Azure's default.
        #[arg(long, short = 'p')]
        policy: Option<String>,
        #[arg(long, num_args = 0..=1, default_missing_value = "true")]
        disabled: Option<bool>,
        #[arg(long, num_args = 0..)]
        tags: Option<Vec<String>>,
    },
    /// Import a certificate with its private key: PKCS#12 (.pfx) or PEM.
    Import {
        #[command(flatten)]
        cert: Named,
        #[arg(long, short = 'f')]
        file: PathBuf,
        /// The PKCS#12 file's password.
        #[arg(long)]
        password: Option<String>,
        #[arg(long, short = 'p')]
        policy: Option<String>,
        #[arg(long, num_args = 0..=1, default_missing_value = "true")]
        disabled: Option<bool>,
        #[arg(long, num_args = 0..)]
        tags: Option<Vec<String>>,
    },
    Show(Target),
    List {
        #[command(flatten)]
        vault: Vault,
        #[arg(long)]
        maxresults: Option<u32>,
    },
    ListVersions(Named),
    ListDeleted(Vault),
    ShowDeleted(Named),
    /// Change a version's `enabled`, its tags, or the certificate's policy.
    SetAttributes {
        #[command(flatten)]
        cert: Target,
        #[arg(long)]
        enabled: Option<bool>,
        #[arg(long, num_args = 0..)]
        tags: Option<Vec<String>>,
        #[arg(long, short = 'p')]
        policy: Option<String>,
    },
    /// Soft-delete a certificate with its key and secret.
    Delete(Named),
    Recover(Named),
    Purge(Named),
    Backup {
        #[command(flatten)]
        cert: Named,
        #[arg(long, short = 'f')]
        file: PathBuf,
    },
    Restore {
        #[command(flatten)]
        vault: Vault,
        #[arg(long, short = 'f')]
        file: PathBuf,
    },
    /// Write the public certificate (PEM or DER) to a file.
    Download {
        #[command(flatten)]
        cert: Target,
        #[arg(long, short = 'f')]
        file: PathBuf,
        #[arg(long, short = 'e', value_enum, default_value = "PEM")]
        encoding: CertEncoding,
    },
    /// Print Azure's default policy, to edit and pass to `create --policy @file`.
    GetDefaultPolicy,
    /// The pending create operation.
    Pending {
        #[command(subcommand)]
        command: PendingCommand,
    },
    /// The vault's certificate contacts.
    Contact {
        #[command(subcommand)]
        command: ContactCommand,
    },
    /// The vault's certificate issuers (provider `KeyholdCA` is keyhold's own issuing CA).
    Issuer {
        #[command(subcommand)]
        command: IssuerCommand,
    },
}

#[derive(Debug, Subcommand)]
enum PendingCommand {
    Show(Named),
    /// Complete an issuer-`Unknown` request with the certificate (chain) signed elsewhere.
    Merge {
        #[command(flatten)]
        cert: Named,
        /// PEM (one or more certificates, leaf first) or DER.
        #[arg(long, short = 'f')]
        file: PathBuf,
        #[arg(long, num_args = 0..=1, default_missing_value = "true")]
        disabled: Option<bool>,
        #[arg(long, num_args = 0..)]
        tags: Option<Vec<String>>,
    },
    Delete(Named),
}

#[derive(Debug, Subcommand)]
enum ContactCommand {
    Add {
        #[command(flatten)]
        vault: Vault,
        #[arg(long)]
        email: String,
        #[arg(long)]
        name: Option<String>,
        #[arg(long)]
        phone: Option<String>,
    },
    List(Vault),
    Delete {
        #[command(flatten)]
        vault: Vault,
        #[arg(long)]
        email: String,
    },
}

#[derive(Debug, Args)]
struct IssuerNamed {
    #[arg(long)]
    vault_name: String,
    #[arg(long)]
    issuer_name: String,
}

#[derive(Debug, Subcommand)]
enum IssuerCommand {
    Create {
        #[command(flatten)]
        issuer: IssuerNamed,
        /// `KeyholdCA` for keyhold's own issuing CA.
        #[arg(long)]
        provider_name: String,
        #[arg(long)]
        account_id: Option<String>,
        #[arg(long)]
        password: Option<String>,
        #[arg(long)]
        organization_id: Option<String>,
        #[arg(long, num_args = 0..=1, default_missing_value = "true")]
        disabled: Option<bool>,
    },
    Show(IssuerNamed),
    List(Vault),
    Update {
        #[command(flatten)]
        issuer: IssuerNamed,
        #[arg(long)]
        provider_name: Option<String>,
        #[arg(long)]
        account_id: Option<String>,
        #[arg(long)]
        password: Option<String>,
        #[arg(long)]
        organization_id: Option<String>,
        #[arg(long)]
        enabled: Option<bool>,
    },
    Delete(IssuerNamed),
}

fn cert_path(name: &str) -> String {
    format!("/certificates/{}", enc(name))
}

/// `(vault, /certificates/{name}[/{version}])` of a `Target`.
fn locate(t: &Target) -> anyhow::Result<(String, String)> {
    if let Some(id) = &t.id {
        let u = url::Url::parse(id).with_context(|| format!("--id '{id}' is not a URL"))?;
        let vault = u
            .host_str()
            .and_then(|h| h.split('.').next())
            .context("--id has no vault host")?
            .to_owned();
        let path = u.path().trim_end_matches('/').to_owned();
        if !path.starts_with("/certificates/") {
            bail!("--id must be a certificate id: https://{{vault}}.{{suffix}}/certificates/{{name}}[/{{version}}]");
        }
        return Ok((vault, path));
    }
    let vault = t.vault_name.clone().context("--vault-name is required")?;
    let name = t.name.clone().context("--name is required")?;
    let mut path = cert_path(&name);
    if let Some(v) = &t.version {
        path.push('/');
        path.push_str(&enc(v));
    }
    Ok((vault, path))
}

/// `--policy`: JSON text or `@file`.
fn policy_arg(raw: &str) -> anyhow::Result<Value> {
    let text = match raw.strip_prefix('@') {
        Some(file) => std::fs::read_to_string(file).with_context(|| format!("cannot read {file}"))?,
        None => raw.to_owned(),
    };
    serde_json::from_str(&text).context("--policy is not JSON")
}

/// Azure's default policy in the REST API's shape.
fn default_policy() -> Value {
    json!({
        "issuer": {"name": "Self"},
        "key_props": {"exportable": true, "kty": "RSA", "key_size": 2048, "reuse_key": true},
        "lifetime_actions": [{"action": {"action_type": "AutoRenew"}, "trigger": {"days_before_expiry": 90}}],
        "secret_props": {"contentType": "application/x-pkcs12"},
        "x509_props": {
            "key_usage": ["cRLSign", "dataEncipherment", "digitalSignature", "keyEncipherment", "keyAgreement", "keyCertSign"],
            "subject": "CN=CLIGetDefaultPolicy",
            "validity_months": 12
        }
    })
}

/// DER certificates from a PEM (several, in order) or DER file.
fn certificates_from(bytes: &[u8]) -> anyhow::Result<Vec<Vec<u8>>> {
    let Ok(text) = std::str::from_utf8(bytes) else {
        return Ok(vec![bytes.to_vec()]);
    };
    if !text.contains("-----BEGIN CERTIFICATE-----") {
        return Ok(vec![bytes.to_vec()]);
    }
    text.split("-----BEGIN CERTIFICATE-----")
        .skip(1)
        .map(|rest| {
            let body: String = rest
                .split("-----END CERTIFICATE-----")
                .next()
                .unwrap_or_default()
                .chars()
                .filter(|c| !c.is_ascii_whitespace())
                .collect();
            STANDARD
                .decode(body)
                .context("a certificate in --file is not valid PEM")
        })
        .collect()
}

fn pem_of(der: &[u8]) -> String {
    let b64 = STANDARD.encode(der);
    let mut out = String::from("-----BEGIN CERTIFICATE-----\n");
    for chunk in b64.as_bytes().chunks(64) {
        out.push_str(&String::from_utf8_lossy(chunk));
        out.push('\n');
    }
    out.push_str("-----END CERTIFICATE-----\n");
    out
}

/// Polls the pending operation until it leaves `inProgress` (issuer `Unknown` answers at once).
async fn wait(s: &Session, vault: &str, name: &str, op: Value) -> anyhow::Result<Value> {
    let mut op = op;
    for _ in 0..600 {
        let unknown = op["issuer"]["name"]
            .as_str()
            .is_some_and(|n| n.eq_ignore_ascii_case("unknown"));
        if op["status"] != "inProgress" || unknown {
            break;
        }
        op = s
            .vault(Method::GET, vault, &format!("{}/pending", cert_path(name)), None)
            .await?;
        if op["status"] == "inProgress" {
            tokio::time::sleep(std::time::Duration::from_millis(500)).await;
        }
    }
    if op["status"] == "completed" {
        return s.vault(Method::GET, vault, &cert_path(name), None).await;
    }
    Ok(op)
}

pub async fn run(s: &Session, args: CertificateArgs, out: &OutputArgs) -> anyhow::Result<()> {
    let result = match args.command {
        CertificateCommand::Create {
            cert,
            policy,
            disabled,
            tags,
        } => {
            let mut body = json!({});
            if let Some(p) = policy {
                body["policy"] = policy_arg(&p)?;
            }
            if let Some(d) = disabled {
                body["attributes"] = json!({"enabled": !d});
            }
            if let Some(t) = tags {
                body["tags"] = arm::tags(&t);
            }
            let path = format!("{}/create", cert_path(&cert.name));
            let op = s.vault(Method::POST, &cert.vault_name, &path, Some(&body)).await?;
            wait(s, &cert.vault_name, &cert.name, op).await?
        }
        CertificateCommand::Import {
            cert,
            file,
            password,
            policy,
            disabled,
            tags,
        } => {
            let bytes = std::fs::read(&file).with_context(|| format!("cannot read {}", file.display()))?;
            let value = match std::str::from_utf8(&bytes) {
                Ok(text) if text.contains("-----BEGIN") => text.to_owned(),
                _ => STANDARD.encode(&bytes),
            };
            let mut body = json!({"value": value});
            if let Some(p) = password {
                body["pwd"] = json!(p);
            }
            if let Some(p) = policy {
                body["policy"] = policy_arg(&p)?;
            }
            if let Some(d) = disabled {
                body["attributes"] = json!({"enabled": !d});
            }
            if let Some(t) = tags {
                body["tags"] = arm::tags(&t);
            }
            let path = format!("{}/import", cert_path(&cert.name));
            s.vault(Method::POST, &cert.vault_name, &path, Some(&body)).await?
        }
        CertificateCommand::Show(t) => {
            let (vault, path) = locate(&t)?;
            s.vault(Method::GET, &vault, &path, None).await?
        }
        CertificateCommand::List { vault, maxresults } => {
            let query = maxresults.map(|m| format!("?maxresults={m}")).unwrap_or_default();
            list(s, &vault.vault_name, &format!("/certificates{query}")).await?
        }
        CertificateCommand::ListVersions(n) => {
            list(s, &n.vault_name, &format!("{}/versions", cert_path(&n.name))).await?
        }
        CertificateCommand::ListDeleted(v) => list(s, &v.vault_name, "/deletedcertificates").await?,
        CertificateCommand::ShowDeleted(n) => {
            let path = format!("/deletedcertificates/{}", enc(&n.name));
            s.vault(Method::GET, &n.vault_name, &path, None).await?
        }
        CertificateCommand::SetAttributes {
            cert,
            enabled,
            tags,
            policy,
        } => {
            let (vault, path) = locate(&cert)?;
            let mut body = json!({});
            if let Some(e) = enabled {
                body["attributes"] = json!({"enabled": e});
            }
            if let Some(t) = tags {
                body["tags"] = arm::tags(&t);
            }
            if let Some(p) = policy {
                body["policy"] = policy_arg(&p)?;
            }
            s.vault(Method::PATCH, &vault, &path, Some(&body)).await?
        }
        CertificateCommand::Delete(n) => {
            s.vault(Method::DELETE, &n.vault_name, &cert_path(&n.name), None)
                .await?
        }
        CertificateCommand::Recover(n) => {
            let path = format!("/deletedcertificates/{}/recover", enc(&n.name));
            s.vault(Method::POST, &n.vault_name, &path, None).await?
        }
        CertificateCommand::Purge(n) => {
            let path = format!("/deletedcertificates/{}", enc(&n.name));
            s.vault(Method::DELETE, &n.vault_name, &path, None).await?;
            Value::Null
        }
        CertificateCommand::Backup { cert, file } => {
            let path = format!("{}/backup", cert_path(&cert.name));
            let b = s.vault(Method::POST, &cert.vault_name, &path, None).await?;
            let blob = b["value"].as_str().context("the backup answer has no value")?;
            let bytes = URL_SAFE_NO_PAD
                .decode(blob.trim_end_matches('='))
                .context("the backup is not base64url")?;
            std::fs::write(&file, bytes).with_context(|| format!("cannot write {}", file.display()))?;
            Value::Null
        }
        CertificateCommand::Restore { vault, file } => {
            let bytes = std::fs::read(&file).with_context(|| format!("cannot read {}", file.display()))?;
            let body = json!({"value": URL_SAFE_NO_PAD.encode(bytes)});
            s.vault(Method::POST, &vault.vault_name, "/certificates/restore", Some(&body))
                .await?
        }
        CertificateCommand::Download { cert, file, encoding } => {
            let (vault, path) = locate(&cert)?;
            let c = s.vault(Method::GET, &vault, &path, None).await?;
            let der = STANDARD
                .decode(c["cer"].as_str().context("the certificate has no cer")?)
                .context("cer is not base64")?;
            let bytes = match encoding {
                CertEncoding::Der => der,
                CertEncoding::Pem => pem_of(&der).into_bytes(),
            };
            std::fs::write(&file, bytes).with_context(|| format!("cannot write {}", file.display()))?;
            Value::Null
        }
        CertificateCommand::GetDefaultPolicy => default_policy(),
        CertificateCommand::Pending { command } => pending(s, command).await?,
        CertificateCommand::Contact { command } => contact(s, command).await?,
        CertificateCommand::Issuer { command } => issuer(s, command).await?,
    };
    out.print(result)
}

async fn pending(s: &Session, command: PendingCommand) -> anyhow::Result<Value> {
    match command {
        PendingCommand::Show(n) => {
            let path = format!("{}/pending", cert_path(&n.name));
            s.vault(Method::GET, &n.vault_name, &path, None).await
        }
        PendingCommand::Merge {
            cert,
            file,
            disabled,
            tags,
        } => {
            let bytes = std::fs::read(&file).with_context(|| format!("cannot read {}", file.display()))?;
            let x5c: Vec<String> = certificates_from(&bytes)?.iter().map(|d| STANDARD.encode(d)).collect();
            let mut body = json!({"x5c": x5c});
            if let Some(d) = disabled {
                body["attributes"] = json!({"enabled": !d});
            }
            if let Some(t) = tags {
                body["tags"] = arm::tags(&t);
            }
            let path = format!("{}/pending/merge", cert_path(&cert.name));
            s.vault(Method::POST, &cert.vault_name, &path, Some(&body)).await
        }
        PendingCommand::Delete(n) => {
            let path = format!("{}/pending", cert_path(&n.name));
            s.vault(Method::DELETE, &n.vault_name, &path, None).await
        }
    }
}

/// The current contacts, or none (the vault's answer for none is a 404).
async fn current_contacts(s: &Session, vault: &str) -> anyhow::Result<Vec<Value>> {
    match s.vault(Method::GET, vault, "/certificates/contacts", None).await {
        Ok(c) => Ok(c["contacts"].as_array().cloned().unwrap_or_default()),
        Err(e) if e.to_string().contains("ContactsNotFound") => Ok(Vec::new()),
        Err(e) => Err(e),
    }
}

async fn contact(s: &Session, command: ContactCommand) -> anyhow::Result<Value> {
    match command {
        ContactCommand::Add {
            vault,
            email,
            name,
            phone,
        } => {
            let mut contacts = current_contacts(s, &vault.vault_name).await?;
            contacts.retain(|c| c["email"].as_str() != Some(email.as_str()));
            let mut c = json!({"email": email});
            if let Some(n) = name {
                c["name"] = json!(n);
            }
            if let Some(p) = phone {
                c["phone"] = json!(p);
            }
            contacts.push(c);
            let body = json!({"contacts": contacts});
            s.vault(Method::PUT, &vault.vault_name, "/certificates/contacts", Some(&body))
                .await
        }
        ContactCommand::List(v) => {
            s.vault(Method::GET, &v.vault_name, "/certificates/contacts", None)
                .await
        }
        ContactCommand::Delete { vault, email } => {
            let mut contacts = current_contacts(s, &vault.vault_name).await?;
            let before = contacts.len();
            contacts.retain(|c| c["email"].as_str() != Some(email.as_str()));
            if contacts.len() == before {
                bail!(
                    "no certificate contact with email {email} in vault {}",
                    vault.vault_name
                );
            }
            if contacts.is_empty() {
                s.vault(Method::DELETE, &vault.vault_name, "/certificates/contacts", None)
                    .await
            } else {
                let body = json!({"contacts": contacts});
                s.vault(Method::PUT, &vault.vault_name, "/certificates/contacts", Some(&body))
                    .await
            }
        }
    }
}

fn issuer_body(
    provider: Option<String>,
    account_id: Option<String>,
    password: Option<String>,
    organization_id: Option<String>,
    enabled: Option<bool>,
) -> Value {
    let mut b = json!({});
    if let Some(p) = provider {
        b["provider"] = json!(p);
    }
    if account_id.is_some() || password.is_some() {
        b["credentials"] = json!({"account_id": account_id, "pwd": password});
    }
    if let Some(o) = organization_id {
        b["org_details"] = json!({"id": o});
    }
    if let Some(e) = enabled {
        b["attributes"] = json!({"enabled": e});
    }
    b
}

async fn issuer(s: &Session, command: IssuerCommand) -> anyhow::Result<Value> {
    let path = |name: &str| format!("/certificates/issuers/{}", enc(name));
    match command {
        IssuerCommand::Create {
            issuer,
            provider_name,
            account_id,
            password,
            organization_id,
            disabled,
        } => {
            let body = issuer_body(
                Some(provider_name),
                account_id,
                password,
                organization_id,
                disabled.map(|d| !d),
            );
            s.vault(Method::PUT, &issuer.vault_name, &path(&issuer.issuer_name), Some(&body))
                .await
        }
        IssuerCommand::Show(i) => s.vault(Method::GET, &i.vault_name, &path(&i.issuer_name), None).await,
        IssuerCommand::List(v) => list(s, &v.vault_name, "/certificates/issuers").await,
        IssuerCommand::Update {
            issuer,
            provider_name,
            account_id,
            password,
            organization_id,
            enabled,
        } => {
            let body = issuer_body(provider_name, account_id, password, organization_id, enabled);
            s.vault(
                Method::PATCH,
                &issuer.vault_name,
                &path(&issuer.issuer_name),
                Some(&body),
            )
            .await
        }
        IssuerCommand::Delete(i) => {
            s.vault(Method::DELETE, &i.vault_name, &path(&i.issuer_name), None)
                .await
        }
    }
}
