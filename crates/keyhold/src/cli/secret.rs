//! `keyhold keyvault secret ...`: the Key Vault data plane at `https://{vault}.{dns-suffix}:{port}`,
//! api-version 7.4. The vault host is pinned to the server's address in the HTTP client.

use std::path::PathBuf;

use anyhow::{Context, bail};
use base64::Engine;
use clap::{Args, Subcommand, ValueEnum};
use reqwest::Method;
use serde_json::{Value, json};

use super::{arm, output::OutputArgs, session::Session};

#[derive(Debug, Args)]
#[command(
    after_help = "Examples:\n  keyhold keyvault secret set --vault-name myvault --name AppSecret --value MySecret\n  keyhold keyvault secret show --vault-name myvault --name AppSecret --query value -o tsv\n  keyhold keyvault secret list --vault-name myvault -o table"
)]
pub struct SecretArgs {
    #[command(subcommand)]
    command: SecretCommand,
}

/// A secret: `--vault-name` and `--name` (with an optional `--version`), or its `--id` URL.
#[derive(Debug, Args)]
struct Target {
    /// The vault's name.
    #[arg(long, required_unless_present = "id")]
    vault_name: Option<String>,
    /// The secret's name.
    #[arg(long, short = 'n', required_unless_present = "id")]
    name: Option<String>,
    /// The secret's version (default: the latest).
    #[arg(long, short = 'v')]
    version: Option<String>,
    /// The secret's id: https://{vault}.{suffix}/secrets/{name}[/{version}].
    #[arg(long, conflicts_with_all = ["vault_name", "name"])]
    id: Option<String>,
}

/// A vault and a secret name, for commands without versions.
#[derive(Debug, Args)]
struct Named {
    #[arg(long)]
    vault_name: String,
    #[arg(long, short = 'n')]
    name: String,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum Encoding {
    #[value(name = "utf-8")]
    Utf8,
    Ascii,
    Base64,
    Hex,
}

#[derive(Debug, Args)]
struct Attributes {
    /// Content type (e.g. 'text/plain').
    #[arg(long)]
    content_type: Option<String>,
    /// Space-separated tags: key[=value].
    #[arg(long, num_args = 0..)]
    tags: Option<Vec<String>>,
    /// Not usable before this UTC time (ISO 8601, e.g. 2030-01-01T00:00:00Z).
    #[arg(long)]
    not_before: Option<String>,
    /// Expires at this UTC time (ISO 8601).
    #[arg(long)]
    expires: Option<String>,
    /// Create the secret disabled.
    #[arg(long, num_args = 0..=1, default_missing_value = "true")]
    disabled: Option<bool>,
}

#[derive(Debug, Subcommand)]
enum SecretCommand {
    /// Create a secret, or a new version of it.
    #[command(after_help = "Examples:
  keyhold keyvault secret set --vault-name myvault --name AppSecret --value MySecret
  keyhold keyvault secret set --vault-name myvault --name cert --file cert.pfx --encoding base64")]
    Set {
        #[command(flatten)]
        secret: Named,
        /// The value.
        #[arg(long, required_unless_present = "file", conflicts_with = "file")]
        value: Option<secrecy::SecretString>,
        /// Read the value from a file.
        #[arg(long, short = 'f')]
        file: Option<PathBuf>,
        /// How to read --file.
        #[arg(long, short = 'e', value_enum, default_value = "utf-8")]
        encoding: Encoding,
        #[command(flatten)]
        attributes: Attributes,
    },
    /// Show a secret and its value.
    #[command(after_help = "Examples:
  keyhold keyvault secret show --vault-name myvault --name AppSecret
  keyhold keyvault secret show --vault-name myvault --name AppSecret --query value -o tsv")]
    Show(Target),
    /// List the secrets of a vault (no values).
    #[command(after_help = "Example:\n  keyhold keyvault secret list --vault-name myvault --query [].id")]
    List {
        #[arg(long)]
        vault_name: String,
        #[arg(long)]
        maxresults: Option<u32>,
    },
    /// List the versions of a secret.
    #[command(after_help = "Example:\n  keyhold keyvault secret list-versions --vault-name myvault --name AppSecret")]
    ListVersions(Named),
    /// Change a secret version's attributes (not its value).
    #[command(
        after_help = "Example:\n  keyhold keyvault secret set-attributes --vault-name myvault --name AppSecret --enabled false"
    )]
    SetAttributes {
        #[command(flatten)]
        secret: Target,
        #[arg(long)]
        enabled: Option<bool>,
        #[arg(long)]
        content_type: Option<String>,
        #[arg(long, num_args = 0..)]
        tags: Option<Vec<String>>,
        #[arg(long)]
        not_before: Option<String>,
        #[arg(long)]
        expires: Option<String>,
    },
    /// Delete a secret (soft delete: it can be recovered until the vault's retention ends).
    #[command(after_help = "Example:\n  keyhold keyvault secret delete --vault-name myvault --name AppSecret")]
    Delete(Named),
    /// Recover a deleted secret.
    #[command(after_help = "Example:\n  keyhold keyvault secret recover --vault-name myvault --name AppSecret")]
    Recover(Named),
    /// Permanently delete a deleted secret.
    #[command(after_help = "Example:\n  keyhold keyvault secret purge --vault-name myvault --name AppSecret")]
    Purge(Named),
    /// Write a protected backup of every version of a secret to a file.
    #[command(
        after_help = "Example:\n  keyhold keyvault secret backup --vault-name myvault --name AppSecret --file AppSecret.bak"
    )]
    Backup {
        #[command(flatten)]
        secret: Named,
        #[arg(long, short = 'f')]
        file: PathBuf,
    },
    /// Restore a secret from a backup file.
    #[command(after_help = "Example:\n  keyhold keyvault secret restore --vault-name myvault --file AppSecret.bak")]
    Restore {
        #[arg(long)]
        vault_name: String,
        #[arg(long, short = 'f')]
        file: PathBuf,
    },
    /// List deleted secrets.
    #[command(after_help = "Example:\n  keyhold keyvault secret list-deleted --vault-name myvault")]
    ListDeleted {
        #[arg(long)]
        vault_name: String,
    },
    /// Show a deleted secret.
    #[command(after_help = "Example:\n  keyhold keyvault secret show-deleted --vault-name myvault --name AppSecret")]
    ShowDeleted(Named),
    /// Write a secret's value to a file.
    #[command(
        after_help = "Example:\n  keyhold keyvault secret download --vault-name myvault --name AppSecret --file value.txt"
    )]
    Download {
        #[command(flatten)]
        secret: Target,
        #[arg(long, short = 'f')]
        file: PathBuf,
        #[arg(long, short = 'e', value_enum, default_value = "utf-8")]
        encoding: Encoding,
    },
}

pub async fn run(s: &Session, args: SecretArgs, out: &OutputArgs) -> anyhow::Result<()> {
    let result = match args.command {
        SecretCommand::Set {
            secret,
            value,
            file,
            encoding,
            attributes,
        } => {
            let value = match (value, file) {
                (Some(v), _) => secrecy::ExposeSecret::expose_secret(&v).to_owned(),
                (None, Some(f)) => read_value(&f, encoding)?,
                (None, None) => bail!("the following arguments are required: --value or --file"),
            };
            let mut body = json!({"value": value});
            if let Some(c) = attributes.content_type {
                body["contentType"] = json!(c);
            }
            if let Some(t) = attributes.tags {
                body["tags"] = arm::tags(&t);
            }
            body["attributes"] = attrs(
                attributes.disabled.map(|d| !d),
                attributes.not_before,
                attributes.expires,
            )?;
            s.vault(Method::PUT, &secret.vault_name, &secret_path(&secret.name), Some(&body))
                .await?
        }
        SecretCommand::Show(t) => get(s, &t).await?,
        SecretCommand::List { vault_name, maxresults } => {
            let query = maxresults.map(|m| format!("?maxresults={m}")).unwrap_or_default();
            list(s, &vault_name, &format!("/secrets{query}")).await?
        }
        SecretCommand::ListVersions(n) => list(s, &n.vault_name, &format!("{}/versions", secret_path(&n.name))).await?,
        SecretCommand::SetAttributes {
            secret,
            enabled,
            content_type,
            tags,
            not_before,
            expires,
        } => {
            let (vault, path) = locate(&secret)?;
            let mut body = json!({"attributes": attrs(enabled, not_before, expires)?});
            if let Some(c) = content_type {
                body["contentType"] = json!(c);
            }
            if let Some(t) = tags {
                body["tags"] = arm::tags(&t);
            }
            s.vault(Method::PATCH, &vault, &path, Some(&body)).await?
        }
        SecretCommand::Delete(n) => {
            s.vault(Method::DELETE, &n.vault_name, &secret_path(&n.name), None)
                .await?
        }
        SecretCommand::Recover(n) => deleted(s, Method::POST, &n, "/recover").await?,
        SecretCommand::Purge(n) => deleted(s, Method::DELETE, &n, "").await?,
        SecretCommand::ShowDeleted(n) => deleted(s, Method::GET, &n, "").await?,
        SecretCommand::ListDeleted { vault_name } => list(s, &vault_name, "/deletedsecrets").await?,
        SecretCommand::Backup { secret, file } => {
            let b = s
                .vault(
                    Method::POST,
                    &secret.vault_name,
                    &format!("{}/backup", secret_path(&secret.name)),
                    None,
                )
                .await?;
            let blob = b["value"].as_str().context("the backup answer has no value")?;
            let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(blob.trim_end_matches('='))
                .context("the backup is not base64url")?;
            std::fs::write(&file, bytes).with_context(|| format!("cannot write {}", file.display()))?;
            Value::Null
        }
        SecretCommand::Restore { vault_name, file } => {
            let bytes = std::fs::read(&file).with_context(|| format!("cannot read {}", file.display()))?;
            let blob = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes);
            s.vault(
                Method::POST,
                &vault_name,
                "/secrets/restore",
                Some(&json!({"value": blob})),
            )
            .await?
        }
        SecretCommand::Download { secret, file, encoding } => {
            if file.exists() {
                bail!("File {} already exists.", file.display());
            }
            let v = get(s, &secret).await?;
            let value = v["value"].as_str().unwrap_or_default();
            let bytes = match encoding {
                Encoding::Utf8 | Encoding::Ascii => value.as_bytes().to_vec(),
                Encoding::Base64 => base64::engine::general_purpose::STANDARD
                    .decode(value)
                    .context("the secret's value is not base64")?,
                Encoding::Hex => hex_decode(value)?,
            };
            std::fs::write(&file, bytes).with_context(|| format!("cannot write {}", file.display()))?;
            Value::Null
        }
    };
    out.print(result)
}

pub(super) fn enc(segment: &str) -> String {
    url::form_urlencoded::byte_serialize(segment.as_bytes()).collect()
}

fn secret_path(name: &str) -> String {
    format!("/secrets/{}", enc(name))
}

/// `(vault, /secrets/{name}[/{version}])` of a `Target`.
fn locate(t: &Target) -> anyhow::Result<(String, String)> {
    if let Some(id) = &t.id {
        let u = url::Url::parse(id).with_context(|| format!("--id '{id}' is not a URL"))?;
        let vault = u
            .host_str()
            .and_then(|h| h.split('.').next())
            .context("--id has no vault host")?
            .to_owned();
        let path = u.path().trim_end_matches('/').to_owned();
        if !path.starts_with("/secrets/") {
            bail!("--id must be a secret id: https://{{vault}}.{{suffix}}/secrets/{{name}}[/{{version}}]");
        }
        return Ok((vault, path));
    }
    let vault = t.vault_name.clone().context("--vault-name is required")?;
    let name = t.name.clone().context("--name is required")?;
    let mut path = secret_path(&name);
    if let Some(v) = &t.version {
        path.push('/');
        path.push_str(&enc(v));
    }
    Ok((vault, path))
}

async fn get(s: &Session, t: &Target) -> anyhow::Result<Value> {
    let (vault, path) = locate(t)?;
    s.vault(Method::GET, &vault, &path, None).await
}

/// Recover, purge and show of a deleted secret differ only in method and path suffix.
async fn deleted(s: &Session, method: Method, n: &Named, suffix: &str) -> anyhow::Result<Value> {
    s.vault(
        method,
        &n.vault_name,
        &format!("/deletedsecrets/{}{suffix}", enc(&n.name)),
        None,
    )
    .await
}

/// Every page of a Key Vault list, following `nextLink`.
pub(super) async fn list(s: &Session, vault: &str, path: &str) -> anyhow::Result<Value> {
    let mut items = Vec::new();
    let mut page = s.vault(Method::GET, vault, path, None).await?;
    loop {
        if let Some(v) = page["value"].as_array() {
            items.extend(v.iter().cloned());
        }
        match page["nextLink"].as_str() {
            Some(next) if !next.is_empty() => {
                let next = next.to_owned();
                page = s.vault_at(Method::GET, vault, &next, None).await?;
            }
            _ => break,
        }
    }
    Ok(Value::Array(items))
}

pub(super) fn attrs(
    enabled: Option<bool>,
    not_before: Option<String>,
    expires: Option<String>,
) -> anyhow::Result<Value> {
    let mut a = json!({});
    if let Some(e) = enabled {
        a["enabled"] = json!(e);
    }
    if let Some(n) = not_before {
        a["nbf"] = json!(unix(&n, "--not-before")?);
    }
    if let Some(x) = expires {
        a["exp"] = json!(unix(&x, "--expires")?);
    }
    Ok(a)
}

/// An ISO 8601 time (a bare date is midnight UTC) as Unix seconds.
fn unix(raw: &str, flag: &str) -> anyhow::Result<i64> {
    use time::format_description::well_known::Rfc3339;
    let full = if raw.len() == 10 {
        format!("{raw}T00:00:00Z")
    } else if raw.ends_with('Z') || raw.contains('+') || raw.get(10..).is_some_and(|t| t.contains('-')) {
        raw.to_owned()
    } else {
        format!("{raw}Z")
    };
    time::OffsetDateTime::parse(&full, &Rfc3339)
        .map(|t| t.unix_timestamp())
        .with_context(|| format!("{flag} '{raw}' is not an ISO 8601 time such as 2030-01-01T00:00:00Z"))
}

fn read_value(file: &PathBuf, encoding: Encoding) -> anyhow::Result<String> {
    let bytes = std::fs::read(file).with_context(|| format!("cannot read {}", file.display()))?;
    Ok(match encoding {
        Encoding::Utf8 => String::from_utf8(bytes).context("the file is not UTF-8: use --encoding base64")?,
        Encoding::Ascii => {
            if !bytes.is_ascii() {
                bail!("the file is not ASCII");
            }
            String::from_utf8(bytes)?
        }
        Encoding::Base64 => base64::engine::general_purpose::STANDARD.encode(bytes),
        Encoding::Hex => bytes.iter().map(|b| format!("{b:02x}")).collect(),
    })
}

fn hex_decode(s: &str) -> anyhow::Result<Vec<u8>> {
    if !s.len().is_multiple_of(2) {
        bail!("the secret's value is not hex");
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).context("the secret's value is not hex"))
        .collect()
}
