//! The `keys` subcommand: the official `KeyClient` (azure_security_keyvault_keys 1.0.1) with the
//! system-assigned `ManagedIdentityCredential` (App Service source), default options.
//!
//! Args: VAULT_URL NAME_PREFIX DIGEST_B64URL (a SHA-256 digest computed by the driver).
//! Prints one JSON line per step, `{"step": .., ..}`; any SDK error ends the run with exit 1
//! (the error on stderr), so the last line printed says how far it got.

use azure_identity::ManagedIdentityCredential;
use azure_security_keyvault_keys::{
    models::{
        CreateKeyParameters, CurveName, EncryptionAlgorithm, Key, KeyAttributes, KeyClientEncryptOptions,
        KeyClientSignOptions, KeyClientWrapKeyOptions, KeyOperationParameters, KeyType, SignParameters,
        SignatureAlgorithm, UpdateKeyPropertiesParameters, VerifyParameters,
    },
    KeyClient, ResourceExt as _,
};
use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine as _};
use futures::TryStreamExt as _;
use serde_json::{json, Value};

type Error = Box<dyn std::error::Error>;

fn emit(step: &str, mut v: Value) {
    v["step"] = json!(step);
    println!("{v}");
}

fn b64(v: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(v)
}

fn version(key: &Key) -> Result<String, Error> {
    key.resource_id()?.version.ok_or_else(|| "key id has no version".into())
}

async fn sign_verify(
    client: &KeyClient,
    name: &str,
    version: &str,
    alg: SignatureAlgorithm,
    digest: &[u8],
    sign_versioned: bool,
) -> Result<Value, Error> {
    // Unversioned, the SDK sends POST /keys/{name}//sign (its path template with "" for the version).
    let key_version = sign_versioned.then(|| version.to_owned());
    let signed = client
        .sign(
            name,
            SignParameters {
                algorithm: Some(alg.clone()),
                value: Some(digest.to_vec()),
            }
            .try_into()?,
            Some(KeyClientSignOptions {
                key_version,
                ..Default::default()
            }),
        )
        .await?
        .into_model()?;
    let signature = signed.result.clone().ok_or("sign returned no result")?;
    let verify = |d: Vec<u8>| VerifyParameters {
        algorithm: Some(alg.clone()),
        digest: Some(d),
        signature: Some(signature.clone()),
    };
    let ok = client
        .verify(name, version, verify(digest.to_vec()).try_into()?, None)
        .await?
        .into_model()?;
    let mut other = digest.to_vec();
    other[0] ^= 0xff;
    let bad = client
        .verify(name, version, verify(other).try_into()?, None)
        .await?
        .into_model()?;
    Ok(json!({"kid": signed.kid, "signature": b64(&signature), "verified": ok.value, "verified_modified": bad.value}))
}

pub async fn run(args: &[String]) -> Result<(), Error> {
    let (vault_url, prefix, digest) = match args {
        [u, p, d, ..] => (u.as_str(), p.as_str(), URL_SAFE_NO_PAD.decode(d)?),
        _ => return Err("usage: keys VAULT_URL NAME_PREFIX DIGEST_B64URL".into()),
    };
    let credential = ManagedIdentityCredential::new(None)?;
    let client = KeyClient::new(vault_url, credential, None)?;
    let rsa_name = format!("{prefix}-rsa");
    let ec_name = format!("{prefix}-ec");

    // create
    let rsa = client
        .create_key(
            &rsa_name,
            CreateKeyParameters {
                kty: Some(KeyType::Rsa),
                key_size: Some(2048),
                ..Default::default()
            }
            .try_into()?,
            None,
        )
        .await?
        .into_model()?;
    let ec = client
        .create_key(
            &ec_name,
            CreateKeyParameters {
                kty: Some(KeyType::Ec),
                curve: Some(CurveName::P256),
                ..Default::default()
            }
            .try_into()?,
            None,
        )
        .await?
        .into_model()?;
    let (rsa_v, ec_v) = (version(&rsa)?, version(&ec)?);
    emit(
        "create",
        json!({"rsa": serde_json::to_value(&rsa.key)?, "ec": serde_json::to_value(&ec.key)?}),
    );

    // get (latest version)
    let got_rsa = client.get_key(&rsa_name, None).await?.into_model()?;
    let got_ec = client.get_key(&ec_name, None).await?.into_model()?;
    emit(
        "get",
        json!({
            "rsa": serde_json::to_value(&got_rsa.key)?,
            "ec": serde_json::to_value(&got_ec.key)?,
            "rsa_enabled": got_rsa.attributes.as_ref().and_then(|a| a.enabled),
        }),
    );

    // sign (RS256 naming the version, ES256 the latest) + verify through the service
    emit(
        "sign_rs256",
        sign_verify(&client, &rsa_name, &rsa_v, SignatureAlgorithm::Rs256, &digest, true).await?,
    );
    emit(
        "sign_es256",
        sign_verify(&client, &ec_name, &ec_v, SignatureAlgorithm::Es256, &digest, false).await?,
    );

    // encrypt/decrypt RSA-OAEP-256
    let plaintext = b"keyhold rust sdk plaintext".to_vec();
    let enc = client
        .encrypt(
            &rsa_name,
            KeyOperationParameters {
                algorithm: Some(EncryptionAlgorithm::RsaOaep256),
                value: Some(plaintext.clone()),
                ..Default::default()
            }
            .try_into()?,
            Some(KeyClientEncryptOptions {
                key_version: Some(rsa_v.clone()),
                ..Default::default()
            }),
        )
        .await?
        .into_model()?;
    let ciphertext = enc.result.clone().ok_or("encrypt returned no result")?;
    let dec = client
        .decrypt(
            &rsa_name,
            &rsa_v,
            KeyOperationParameters {
                algorithm: Some(EncryptionAlgorithm::RsaOaep256),
                value: Some(ciphertext.clone()),
                ..Default::default()
            }
            .try_into()?,
            None,
        )
        .await?
        .into_model()?;
    emit(
        "encrypt_decrypt",
        json!({"kid": enc.kid, "ciphertext_len": ciphertext.len(), "round_trip": dec.result.as_deref() == Some(&plaintext[..])}),
    );

    // wrap/unwrap a 32-byte key
    let cek: Vec<u8> = (0u8..32).map(|i| i.wrapping_mul(7).wrapping_add(3)).collect();
    let wrapped = client
        .wrap_key(
            &rsa_name,
            KeyOperationParameters {
                algorithm: Some(EncryptionAlgorithm::RsaOaep256),
                value: Some(cek.clone()),
                ..Default::default()
            }
            .try_into()?,
            Some(KeyClientWrapKeyOptions {
                key_version: Some(rsa_v.clone()),
                ..Default::default()
            }),
        )
        .await?
        .into_model()?;
    let wrapped_key = wrapped.result.clone().ok_or("wrapKey returned no result")?;
    let unwrapped = client
        .unwrap_key(
            &rsa_name,
            &rsa_v,
            KeyOperationParameters {
                algorithm: Some(EncryptionAlgorithm::RsaOaep256),
                value: Some(wrapped_key.clone()),
                ..Default::default()
            }
            .try_into()?,
            None,
        )
        .await?
        .into_model()?;
    emit(
        "wrap_unwrap",
        json!({"wrapped_len": wrapped_key.len(), "round_trip": unwrapped.result.as_deref() == Some(&cek[..])}),
    );

    // list (all pages)
    let mut names = Vec::new();
    let mut pager = client.list_key_properties(None)?;
    while let Some(props) = pager.try_next().await? {
        names.push(props.resource_id()?.name);
    }
    emit("list", json!({"names": names}));

    // rotate the EC key: a new version
    let rotated = client.rotate_key(&ec_name, None).await?.into_model()?;
    let mut versions = Vec::new();
    let mut pager = client.list_key_properties_versions(&ec_name, None)?;
    while let Some(props) = pager.try_next().await? {
        versions.push(props.resource_id()?.version);
    }
    emit(
        "rotate",
        json!({"old": ec_v, "new": version(&rotated)?, "versions": versions}),
    );

    // update attributes: disable the RSA key (latest version)
    let updated = client
        .update_key_properties(
            &rsa_name,
            UpdateKeyPropertiesParameters {
                key_attributes: Some(KeyAttributes {
                    enabled: Some(false),
                    ..Default::default()
                }),
                ..Default::default()
            }
            .try_into()?,
            None,
        )
        .await?
        .into_model()?;
    let after = client.get_key(&rsa_name, None).await?.into_model()?;
    emit(
        "update",
        json!({
            "enabled": updated.attributes.as_ref().and_then(|a| a.enabled),
            "get_enabled": after.attributes.as_ref().and_then(|a| a.enabled),
            "version": version(&updated)?,
        }),
    );

    // delete both
    let mut deleted = Vec::new();
    for name in [&rsa_name, &ec_name] {
        let d = client.delete_key(name, None).await?.into_model()?;
        deleted.push(
            json!({"name": name, "kid": d.key.as_ref().and_then(|k| k.kid.clone()), "recovery_id": d.recovery_id}),
        );
    }
    emit("delete", json!({"deleted": deleted}));
    Ok(())
}
