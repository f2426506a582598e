//! JWKs to and from keys: Azure's key types, sizes, curves and `key_ops`, and the base64url members,
//! each refused with `BadParameter` before anything is stored.

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use keyhold_crypto::vault_key::{Curve, KeyError, KeySpec, PrivateKey, PublicKey, RsaPrivateParts};
use keyhold_proto::keys::JsonWebKey;
use serde_json::{Value, json};

use crate::VaultError;

pub const KEY_OPS: &[&str] = &[
    "encrypt",
    "decrypt",
    "sign",
    "verify",
    "wrapKey",
    "unwrapKey",
    "import",
    "export",
];

fn bad(msg: impl Into<String>) -> VaultError {
    VaultError::BadParameter(msg.into())
}

/// Azure's answer for what a Standard vault does not hold: HSM-protected and symmetric keys.
pub fn refuse_unsupported_kty(kty: &str) -> VaultError {
    match kty {
        // Azure's own words on a Standard vault (seen in az and SDK reports): keyhold is not an HSM.
        "RSA-HSM" | "EC-HSM" => bad("Hardware key operation not allowed on standard vault"),
        "oct" | "oct-HSM" => bad(format!("Invalid kty value: {kty}")),
        other => bad(format!(
            "Invalid kty '{other}'. The key type must be one of RSA, EC, RSA-HSM, EC-HSM, oct, oct-HSM."
        )),
    }
}

/// The spec of `POST /keys/{name}/create`.
pub fn create_spec(
    kty: Option<&str>,
    size: Option<u32>,
    exponent: Option<u32>,
    crv: Option<&str>,
) -> Result<KeySpec, VaultError> {
    let kty = kty.ok_or_else(|| bad("The parameter 'kty' is required."))?;
    match kty {
        "RSA" => {
            if crv.is_some() {
                return Err(bad("The parameter 'crv' is not valid for RSA keys."));
            }
            if exponent.is_some_and(|e| e != 65537) {
                return Err(bad("Invalid public exponent: only 65537 is supported."));
            }
            let bits = size.unwrap_or(2048);
            if ![2048, 3072, 4096].contains(&bits) {
                return Err(bad(format!(
                    "Invalid key size {bits}. RSA key sizes must be 2048, 3072 or 4096."
                )));
            }
            Ok(KeySpec::Rsa(bits))
        }
        "EC" => {
            if size.is_some() {
                return Err(bad("The parameter 'key_size' is not valid for EC keys."));
            }
            let name = crv.unwrap_or("P-256");
            let curve = Curve::parse(name).ok_or_else(|| {
                bad(format!(
                    "Invalid curve '{name}'. The curve must be one of P-256, P-384, P-521, P-256K."
                ))
            })?;
            Ok(KeySpec::Ec(curve))
        }
        other => Err(refuse_unsupported_kty(other)),
    }
}

/// `key_ops` as given, or the defaults for the key type; unknown names are refused.
pub fn key_ops(ops: Option<Vec<String>>, spec: KeySpec) -> Result<Vec<String>, VaultError> {
    let Some(ops) = ops else {
        return Ok(match spec {
            KeySpec::Rsa(_) => ["encrypt", "decrypt", "sign", "verify", "wrapKey", "unwrapKey"].as_slice(),
            KeySpec::Ec(_) => ["sign", "verify"].as_slice(),
        }
        .iter()
        .map(|s| (*s).to_owned())
        .collect());
    };
    let mut out = Vec::new();
    for op in ops {
        let known = KEY_OPS
            .iter()
            .find(|k| k.eq_ignore_ascii_case(&op))
            .ok_or_else(|| bad(format!("Invalid key operation '{op}'.")))?;
        if !out.iter().any(|o: &String| o == known) {
            out.push((*known).to_owned());
        }
    }
    Ok(out)
}

pub fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// Decodes base64url (padding tolerated); `what` names the member in the error.
pub fn unb64(value: &str, what: &str) -> Result<Vec<u8>, VaultError> {
    URL_SAFE_NO_PAD
        .decode(value.trim_end_matches('='))
        .map_err(|_| bad(format!("The parameter '{what}' is not valid base64url.")))
}

fn member<'a>(v: &'a Option<String>, what: &str) -> Result<&'a str, VaultError> {
    v.as_deref()
        .ok_or_else(|| bad(format!("The JSON Web Key is missing the member '{what}'.")))
}

/// An imported JWK's private key; the public and private parts must agree.
pub fn import(jwk: &JsonWebKey) -> Result<PrivateKey, VaultError> {
    let kty = jwk
        .kty
        .as_deref()
        .ok_or_else(|| bad("The JSON Web Key must have a 'kty'."))?;
    let invalid = |e: KeyError| match e {
        KeyError::UnsupportedSize(bits) => bad(format!(
            "Invalid key size {bits}. RSA key sizes must be 2048, 3072 or 4096."
        )),
        KeyError::InvalidKey(why) => bad(format!("The JSON Web Key is invalid: {why}.")),
        other => VaultError::Internal(other.to_string()),
    };
    match kty {
        "RSA" => {
            let get = |v: &Option<String>, w: &str| -> Result<zeroize::Zeroizing<Vec<u8>>, VaultError> {
                Ok(zeroize::Zeroizing::new(unb64(member(v, w)?, w)?))
            };
            let (n, e, d) = (get(&jwk.n, "n")?, get(&jwk.e, "e")?, get(&jwk.d, "d")?);
            let (p, q) = (get(&jwk.p, "p")?, get(&jwk.q, "q")?);
            let (dp, dq, qi) = (get(&jwk.dp, "dp")?, get(&jwk.dq, "dq")?, get(&jwk.qi, "qi")?);
            PrivateKey::import_rsa(&RsaPrivateParts {
                n: &n,
                e: &e,
                d: &d,
                p: &p,
                q: &q,
                dp: &dp,
                dq: &dq,
                qi: &qi,
            })
            .map_err(invalid)
        }
        "EC" => {
            let name = member(&jwk.crv, "crv")?;
            let curve = Curve::parse(name).ok_or_else(|| {
                bad(format!(
                    "Invalid curve '{name}'. The curve must be one of P-256, P-384, P-521, P-256K."
                ))
            })?;
            let d = zeroize::Zeroizing::new(unb64(member(&jwk.d, "d")?, "d")?);
            let x = unb64(member(&jwk.x, "x")?, "x")?;
            let y = unb64(member(&jwk.y, "y")?, "y")?;
            PrivateKey::import_ec(curve, &d, &x, &y).map_err(invalid)
        }
        other => Err(refuse_unsupported_kty(other)),
    }
}

/// The stored public JWK (kty and public members only).
pub fn public_jwk(public: &PublicKey) -> Value {
    match public {
        PublicKey::Rsa { n, e } => json!({"kty": "RSA", "n": b64(n), "e": b64(e)}),
        PublicKey::Ec { curve, x, y } => json!({"kty": "EC", "crv": curve.name(), "x": b64(x), "y": b64(y)}),
    }
}

/// The public key back from its stored JWK.
pub fn public_from_jwk(v: &Value) -> Result<PublicKey, VaultError> {
    let s = |k: &str| -> Result<Vec<u8>, VaultError> {
        let text = v.get(k).and_then(Value::as_str).ok_or(VaultError::Integrity)?;
        URL_SAFE_NO_PAD.decode(text).map_err(|_| VaultError::Integrity)
    };
    match v.get("kty").and_then(Value::as_str) {
        Some("RSA") => Ok(PublicKey::Rsa { n: s("n")?, e: s("e")? }),
        Some("EC") => {
            let curve = v
                .get("crv")
                .and_then(Value::as_str)
                .and_then(Curve::parse)
                .ok_or(VaultError::Integrity)?;
            Ok(PublicKey::Ec {
                curve,
                x: s("x")?,
                y: s("y")?,
            })
        }
        _ => Err(VaultError::Integrity),
    }
}
