//! `keyhold keyvault key ...`: the keys of the Key Vault data plane with az's command names and flags.
//! Like every command it uses only the REST API; private keys never reach the CLI.

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
    secret::{attrs, enc, list},
    session::Session,
};

#[derive(Debug, Args)]
#[command(
    after_help = "Examples:\n  keyhold keyvault key create --vault-name myvault --name mykey --kty EC --curve P-256\n  keyhold keyvault key encrypt --vault-name myvault --name mykey --algorithm RSA-OAEP --value aGk= --data-type base64"
)]
pub struct KeyArgs {
    #[command(subcommand)]
    command: KeyCommand,
}

/// A key: `--vault-name` and `--name` (optionally `--version`), or its `--id` URL.
#[derive(Debug, Args)]
struct Target {
    #[arg(long, required_unless_present = "id")]
    vault_name: Option<String>,
    #[arg(long, short = 'n', required_unless_present = "id")]
    name: Option<String>,
    #[arg(long, short = 'v')]
    version: Option<String>,
    /// https://{vault}.{suffix}/keys/{name}[/{version}].
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

#[derive(Debug, Clone, Copy, ValueEnum)]
enum DataType {
    Base64,
    Plaintext,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum KeyEncoding {
    #[value(name = "PEM")]
    Pem,
    #[value(name = "DER")]
    Der,
}

#[derive(Debug, Subcommand)]
enum KeyCommand {
    /// Create a key (a new version if it exists).
    #[command(
        after_help = "Example:\n  keyhold keyvault key create --vault-name myvault --name mykey --kty RSA --size 3072 --ops sign verify"
    )]
    Create {
        #[command(flatten)]
        key: Named,
        /// RSA or EC (RSA-HSM / EC-HSM need an HSM, which keyhold is not).
        #[arg(long, default_value = "RSA")]
        kty: String,
        /// RSA key size: 2048, 3072 or 4096.
        #[arg(long)]
        size: Option<u32>,
        /// EC curve: P-256, P-384, P-521, P-256K.
        #[arg(long)]
        curve: Option<String>,
        /// `software` or `hsm` (refused: no HSM).
        #[arg(long)]
        protection: Option<String>,
        #[arg(long, num_args = 1..)]
        ops: Option<Vec<String>>,
        #[arg(long, num_args = 0..)]
        tags: Option<Vec<String>>,
        #[arg(long, num_args = 0..=1, default_missing_value = "true")]
        disabled: Option<bool>,
        #[arg(long)]
        not_before: Option<String>,
        #[arg(long)]
        expires: Option<String>,
    },
    /// Import a private key from a JSON Web Key file (az's --pem-file is not offered: the CLI does
    /// not parse private keys).
    Import {
        #[command(flatten)]
        key: Named,
        /// A JWK with its private members (RSA: n e d p q dp dq qi; EC: crv x y d).
        #[arg(long)]
        jwk_file: PathBuf,
        #[arg(long, num_args = 1..)]
        ops: Option<Vec<String>>,
        #[arg(long, num_args = 0..)]
        tags: Option<Vec<String>>,
    },
    /// Show a key's public part and attributes.
    Show(Target),
    List {
        #[arg(long)]
        vault_name: String,
        #[arg(long)]
        maxresults: Option<u32>,
    },
    ListVersions(Named),
    ListDeleted {
        #[arg(long)]
        vault_name: String,
    },
    ShowDeleted(Named),
    /// Change a version's attributes, operations or tags.
    SetAttributes {
        #[command(flatten)]
        key: Target,
        #[arg(long)]
        enabled: Option<bool>,
        #[arg(long, num_args = 1..)]
        ops: Option<Vec<String>>,
        #[arg(long, num_args = 0..)]
        tags: Option<Vec<String>>,
        #[arg(long)]
        not_before: Option<String>,
        #[arg(long)]
        expires: Option<String>,
    },
    Delete(Named),
    Recover(Named),
    Purge(Named),
    /// Write a protected backup (restorable only into this keyhold instance).
    Backup {
        #[command(flatten)]
        key: Named,
        #[arg(long, short = 'f')]
        file: PathBuf,
    },
    Restore {
        #[arg(long)]
        vault_name: String,
        #[arg(long, short = 'f')]
        file: PathBuf,
    },
    /// A new version of the same type and size.
    Rotate(Named),
    /// The key's rotation policy.
    RotationPolicy {
        #[command(subcommand)]
        command: PolicyCommand,
    },
    Encrypt {
        #[command(flatten)]
        key: Target,
        #[arg(long, short = 'a')]
        algorithm: String,
        #[arg(long)]
        value: String,
        #[arg(long, value_enum, default_value = "base64")]
        data_type: DataType,
    },
    Decrypt {
        #[command(flatten)]
        key: Target,
        #[arg(long, short = 'a')]
        algorithm: String,
        /// The ciphertext, base64.
        #[arg(long)]
        value: String,
        #[arg(long, value_enum, default_value = "base64")]
        data_type: DataType,
    },
    /// Sign a digest (base64) computed by the caller.
    Sign {
        #[command(flatten)]
        key: Target,
        #[arg(long, short = 'a')]
        algorithm: String,
        #[arg(long)]
        digest: String,
    },
    Verify {
        #[command(flatten)]
        key: Target,
        #[arg(long, short = 'a')]
        algorithm: String,
        #[arg(long)]
        digest: String,
        #[arg(long)]
        signature: String,
    },
    /// Write the public key to a file.
    Download {
        #[command(flatten)]
        key: Target,
        #[arg(long, short = 'f')]
        file: PathBuf,
        #[arg(long, short = 'e', value_enum, default_value = "PEM")]
        encoding: KeyEncoding,
    },
    /// Random bytes from the vault (1-128).
    Random {
        #[arg(long)]
        vault_name: String,
        #[arg(long)]
        count: i64,
    },
}

#[derive(Debug, Subcommand)]
enum PolicyCommand {
    Show(Named),
    /// Set the policy from JSON (a file path or the JSON itself).
    Update {
        #[command(flatten)]
        key: Named,
        #[arg(long)]
        value: String,
    },
}

pub async fn run(s: &Session, args: KeyArgs, out: &OutputArgs) -> anyhow::Result<()> {
    let result = match args.command {
        KeyCommand::Create {
            key,
            kty,
            size,
            curve,
            protection,
            ops,
            tags,
            disabled,
            not_before,
            expires,
        } => {
            let kty = match protection.as_deref() {
                Some("hsm") if !kty.ends_with("-HSM") => format!("{kty}-HSM"),
                _ => kty,
            };
            let mut body = json!({"kty": kty, "attributes": attrs(disabled.map(|d| !d), not_before, expires)?});
            if let Some(size) = size {
                body["key_size"] = json!(size);
            }
            if let Some(c) = curve {
                body["crv"] = json!(c);
            }
            if let Some(o) = ops {
                body["key_ops"] = json!(o);
            }
            if let Some(t) = tags {
                body["tags"] = arm::tags(&t);
            }
            s.vault(
                Method::POST,
                &key.vault_name,
                &format!("{}/create", key_path(&key.name)),
                Some(&body),
            )
            .await?
        }
        KeyCommand::Import {
            key,
            jwk_file,
            ops,
            tags,
        } => {
            let text =
                std::fs::read_to_string(&jwk_file).with_context(|| format!("cannot read {}", jwk_file.display()))?;
            let mut jwk: Value = serde_json::from_str(&text).context("--jwk-file is not JSON")?;
            if let Some(o) = ops {
                jwk["key_ops"] = json!(o);
            }
            let mut body = json!({"key": jwk});
            if let Some(t) = tags {
                body["tags"] = arm::tags(&t);
            }
            s.vault(Method::PUT, &key.vault_name, &key_path(&key.name), Some(&body))
                .await?
        }
        KeyCommand::Show(t) => {
            let (vault, path) = locate(&t)?;
            s.vault(Method::GET, &vault, &path, None).await?
        }
        KeyCommand::List { vault_name, maxresults } => {
            let query = maxresults.map(|m| format!("?maxresults={m}")).unwrap_or_default();
            list(s, &vault_name, &format!("/keys{query}")).await?
        }
        KeyCommand::ListVersions(n) => list(s, &n.vault_name, &format!("{}/versions", key_path(&n.name))).await?,
        KeyCommand::ListDeleted { vault_name } => list(s, &vault_name, "/deletedkeys").await?,
        KeyCommand::ShowDeleted(n) => deleted(s, Method::GET, &n, "").await?,
        KeyCommand::SetAttributes {
            key,
            enabled,
            ops,
            tags,
            not_before,
            expires,
        } => {
            let (vault, path) = locate(&key)?;
            let mut body = json!({"attributes": attrs(enabled, not_before, expires)?});
            if let Some(o) = ops {
                body["key_ops"] = json!(o);
            }
            if let Some(t) = tags {
                body["tags"] = arm::tags(&t);
            }
            s.vault(Method::PATCH, &vault, &path, Some(&body)).await?
        }
        KeyCommand::Delete(n) => s.vault(Method::DELETE, &n.vault_name, &key_path(&n.name), None).await?,
        KeyCommand::Recover(n) => deleted(s, Method::POST, &n, "/recover").await?,
        KeyCommand::Purge(n) => deleted(s, Method::DELETE, &n, "").await?,
        KeyCommand::Backup { key, file } => {
            let b = s
                .vault(
                    Method::POST,
                    &key.vault_name,
                    &format!("{}/backup", key_path(&key.name)),
                    None,
                )
                .await?;
            let blob = b["value"].as_str().context("the backup answer has no value")?;
            let bytes = URL_SAFE_NO_PAD
                .decode(blob.trim_end_matches('='))
                .context("the backup is not base64url")?;
            std::fs::write(&file, bytes).with_context(|| format!("cannot write {}", file.display()))?;
            Value::Null
        }
        KeyCommand::Restore { vault_name, file } => {
            let bytes = std::fs::read(&file).with_context(|| format!("cannot read {}", file.display()))?;
            let body = json!({"value": URL_SAFE_NO_PAD.encode(bytes)});
            s.vault(Method::POST, &vault_name, "/keys/restore", Some(&body)).await?
        }
        KeyCommand::Rotate(n) => {
            s.vault(
                Method::POST,
                &n.vault_name,
                &format!("{}/rotate", key_path(&n.name)),
                None,
            )
            .await?
        }
        KeyCommand::RotationPolicy { command } => match command {
            PolicyCommand::Show(n) => {
                s.vault(
                    Method::GET,
                    &n.vault_name,
                    &format!("{}/rotationpolicy", key_path(&n.name)),
                    None,
                )
                .await?
            }
            PolicyCommand::Update { key, value } => {
                let text = match std::fs::read_to_string(value.trim_start_matches('@')) {
                    Ok(t) => t,
                    Err(_) => value.clone(),
                };
                let body: Value = serde_json::from_str(&text).context("--value is neither a JSON file nor JSON")?;
                s.vault(
                    Method::PUT,
                    &key.vault_name,
                    &format!("{}/rotationpolicy", key_path(&key.name)),
                    Some(&body),
                )
                .await?
            }
        },
        KeyCommand::Encrypt {
            key,
            algorithm,
            value,
            data_type,
        } => {
            let plain = match data_type {
                DataType::Base64 => STANDARD.decode(value.trim()).context("--value is not base64")?,
                DataType::Plaintext => value.into_bytes(),
            };
            let r = op(
                s,
                &key,
                "encrypt",
                json!({"alg": algorithm, "value": URL_SAFE_NO_PAD.encode(plain)}),
            )
            .await?;
            json!({"algorithm": algorithm, "kid": r["kid"], "result": to_std(&r["value"])?})
        }
        KeyCommand::Decrypt {
            key,
            algorithm,
            value,
            data_type,
        } => {
            let ct = STANDARD.decode(value.trim()).context("--value is not base64")?;
            let r = op(
                s,
                &key,
                "decrypt",
                json!({"alg": algorithm, "value": URL_SAFE_NO_PAD.encode(ct)}),
            )
            .await?;
            let plain = URL_SAFE_NO_PAD
                .decode(r["value"].as_str().unwrap_or_default())
                .context("the answer is not base64url")?;
            let result = match data_type {
                DataType::Base64 => json!(STANDARD.encode(plain)),
                DataType::Plaintext => json!(String::from_utf8_lossy(&plain)),
            };
            json!({"algorithm": algorithm, "kid": r["kid"], "result": result})
        }
        KeyCommand::Sign { key, algorithm, digest } => {
            let d = STANDARD.decode(digest.trim()).context("--digest is not base64")?;
            let r = op(
                s,
                &key,
                "sign",
                json!({"alg": algorithm, "value": URL_SAFE_NO_PAD.encode(d)}),
            )
            .await?;
            json!({"algorithm": algorithm, "kid": r["kid"], "signature": to_std(&r["value"])?})
        }
        KeyCommand::Verify {
            key,
            algorithm,
            digest,
            signature,
        } => {
            let d = STANDARD.decode(digest.trim()).context("--digest is not base64")?;
            let sig = STANDARD.decode(signature.trim()).context("--signature is not base64")?;
            let body =
                json!({"alg": algorithm, "digest": URL_SAFE_NO_PAD.encode(d), "value": URL_SAFE_NO_PAD.encode(sig)});
            let r = op(s, &key, "verify", body).await?;
            json!({"algorithm": algorithm, "isValid": r["value"]})
        }
        KeyCommand::Download { key, file, encoding } => {
            if file.exists() {
                bail!("File {} already exists.", file.display());
            }
            let (vault, path) = locate(&key)?;
            let k = s.vault(Method::GET, &vault, &path, None).await?;
            let der = spki(&k["key"])?;
            let bytes = match encoding {
                KeyEncoding::Der => der,
                KeyEncoding::Pem => pem(&der).into_bytes(),
            };
            std::fs::write(&file, bytes).with_context(|| format!("cannot write {}", file.display()))?;
            Value::Null
        }
        KeyCommand::Random { vault_name, count } => {
            let r = s
                .vault(Method::POST, &vault_name, "/rng", Some(&json!({"count": count})))
                .await?;
            json!({"value": to_std(&r["value"])?})
        }
    };
    out.print(result)
}

fn key_path(name: &str) -> String {
    format!("/keys/{}", enc(name))
}

fn locate(t: &Target) -> anyhow::Result<(String, String)> {
    if let Some(id) = &t.id {
        let u = url::Url::parse(id).with_context(|| format!("--id '{id}' is not a URL"))?;
        let vault = u
            .host_str()
            .and_then(|h| h.split('.').next())
            .context("--id has no vault host")?
            .to_owned();
        let path = u.path().trim_end_matches('/').to_owned();
        if !path.starts_with("/keys/") {
            bail!("--id must be a key id: https://{{vault}}.{{suffix}}/keys/{{name}}[/{{version}}]");
        }
        return Ok((vault, path));
    }
    let vault = t.vault_name.clone().context("--vault-name is required")?;
    let name = t.name.clone().context("--name is required")?;
    let mut path = key_path(&name);
    if let Some(v) = &t.version {
        path.push('/');
        path.push_str(&enc(v));
    }
    Ok((vault, path))
}

async fn op(s: &Session, t: &Target, name: &str, body: Value) -> anyhow::Result<Value> {
    let (vault, path) = locate(t)?;
    s.vault(Method::POST, &vault, &format!("{path}/{name}"), Some(&body))
        .await
}

async fn deleted(s: &Session, method: Method, n: &Named, suffix: &str) -> anyhow::Result<Value> {
    s.vault(
        method,
        &n.vault_name,
        &format!("/deletedkeys/{}{suffix}", enc(&n.name)),
        None,
    )
    .await
}

/// az prints operation results in standard base64.
fn to_std(v: &Value) -> anyhow::Result<Value> {
    let bytes = URL_SAFE_NO_PAD
        .decode(v.as_str().unwrap_or_default().trim_end_matches('='))
        .context("the answer is not base64url")?;
    Ok(json!(STANDARD.encode(bytes)))
}

fn spki(jwk: &Value) -> anyhow::Result<Vec<u8>> {
    use keyhold_crypto::vault_key::{Curve, PublicKey};
    let member = |k: &str| -> anyhow::Result<Vec<u8>> {
        URL_SAFE_NO_PAD
            .decode(jwk[k].as_str().with_context(|| format!("the key has no '{k}'"))?)
            .with_context(|| format!("the key's '{k}' is not base64url"))
    };
    let public = match jwk["kty"].as_str() {
        Some("RSA") => PublicKey::Rsa {
            n: member("n")?,
            e: member("e")?,
        },
        Some("EC") => PublicKey::Ec {
            curve: jwk["crv"].as_str().and_then(Curve::parse).context("unknown curve")?,
            x: member("x")?,
            y: member("y")?,
        },
        other => bail!("cannot download a key of type {other:?}"),
    };
    public.spki_der().map_err(|e| anyhow::anyhow!("{e}"))
}

fn pem(der: &[u8]) -> String {
    let b64 = STANDARD.encode(der);
    let mut out = String::from("-----BEGIN PUBLIC KEY-----\n");
    for chunk in b64.as_bytes().chunks(64) {
        out.push_str(&String::from_utf8_lossy(chunk));
        out.push('\n');
    }
    out.push_str("-----END PUBLIC KEY-----\n");
    out
}
