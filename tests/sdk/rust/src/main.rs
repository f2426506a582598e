//! One managed-identity scenario with the official Rust Azure SDK, driven by
//! `test_rust_mi.py` (beside this file), which starts keyhold, creates the vault,
//! grants the identity access and runs this program with an environment that is
//! exactly `keyhold env` (+ `SSL_CERT_FILE` pointing at keyhold's CA, + PATH).
//!
//! Nothing here configures a client: `ManagedIdentityCredential::new` picks the
//! App Service source from `IDENTITY_ENDPOINT`/`IDENTITY_HEADER`, TLS trust comes
//! from `SSL_CERT_FILE`, and `SecretClient::new(.., None)` uses default options.
//!
//! Usage: keyhold-rust-sdk-tests VAULT_URL SECRET_NAME SCOPE [client_id=ID | object_id=ID | resource_id=ID]
//!        keyhold-rust-sdk-tests keys VAULT_URL NAME_PREFIX DIGEST_B64URL
//!
//! `keys` (driven by `test_rust_keys.py`) runs the KeyClient scenario in `keys.rs` with the
//! system-assigned identity and prints one JSON line per step.
//!
//! Prints one JSON line: `{"oid":..,"version":..,"value":..}` on success, or
//! `{"error":..,"kind":..,"elapsed_ms":..}` (exit 3) if a token could not be had,
//! or exits 1 with the error on stderr for any other failure.

use std::time::Instant;

use azure_core::credentials::TokenCredential;
use azure_identity::{ManagedIdentityCredential, ManagedIdentityCredentialOptions, UserAssignedId};
use azure_security_keyvault_secrets::{models::SetSecretParameters, SecretClient};
use base64::Engine as _;
use serde_json::{json, Value};

mod keys;

fn claims(token: &str) -> Result<Value, Box<dyn std::error::Error>> {
    let payload = token.split('.').nth(1).ok_or("access token is not a JWT")?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(payload.trim_end_matches('='))?;
    Ok(serde_json::from_slice(&bytes)?)
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("keys") {
        return keys::run(&args[1..]).await;
    }
    let (vault_url, secret_name, scope) = match (args.first(), args.get(1), args.get(2)) {
        (Some(u), Some(n), Some(s)) => (u.clone(), n.clone(), s.clone()),
        _ => return Err("usage: VAULT_URL SECRET_NAME SCOPE [client_id=ID|object_id=ID|resource_id=ID]".into()),
    };
    let user_assigned_id = match args.get(3).map(|a| a.split_once('=')) {
        None => None,
        Some(Some(("client_id", v))) => Some(UserAssignedId::ClientId(v.to_owned())),
        Some(Some(("object_id", v))) => Some(UserAssignedId::ObjectId(v.to_owned())),
        Some(Some(("resource_id", v))) => Some(UserAssignedId::ResourceId(v.to_owned())),
        Some(_) => return Err(format!("bad identity selector {:?}", args[3]).into()),
    };
    let options = ManagedIdentityCredentialOptions {
        user_assigned_id,
        ..Default::default()
    };
    let credential = ManagedIdentityCredential::new(Some(options))?;

    // The token the SecretClient will use (same credential, so the second call is its cache).
    let started = Instant::now();
    let token = match credential.get_token(&[scope.as_str()], None).await {
        Ok(t) => t,
        Err(e) => {
            println!(
                "{}",
                json!({"error": e.to_string(), "kind": format!("{:?}", e.kind()), "elapsed_ms": started.elapsed().as_millis() as u64})
            );
            std::process::exit(3);
        }
    };
    let oid = claims(token.token.secret())?["oid"].clone();

    let client = SecretClient::new(&vault_url, credential.clone(), None)?;
    let value = format!("rust-mi-{secret_name}");
    let params = SetSecretParameters {
        value: Some(value.clone()),
        ..Default::default()
    };
    let set = client
        .set_secret(&secret_name, params.try_into()?, None)
        .await?
        .into_model()?;
    if set.value.as_deref() != Some(value.as_str()) {
        return Err(format!("set_secret returned value {:?}", set.value).into());
    }
    let got = client.get_secret(&secret_name, None).await?.into_model()?;
    println!(
        "{}",
        json!({"oid": oid, "id": set.id, "value": got.value, "got_id": got.id})
    );
    Ok(())
}
