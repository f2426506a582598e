//! The cryptographic operations, each checked in Azure's order: permission, key found, enabled,
//! `key_ops`, time window, then the algorithm against the key. Azure's time rule: encrypt, wrapKey
//! and sign are refused outside `nbf`/`exp`; decrypt, unwrapKey and verify still work, so data protected
//! before expiry stays readable.

use std::sync::Arc;

use keyhold_crypto::vault_key::{EncAlg, KeyError, PrivateKey, SignAlg};
use keyhold_store::{KeyVersionRecord, VaultRecord};
use zeroize::Zeroizing;

use super::{VaultKeys, aad, jwk, spec_of, validate_key_name};
use crate::{
    VaultError,
    authz::{Caller, KeyOp},
};

/// encrypt, decrypt, wrapKey, unwrapKey.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EncryptOp {
    Encrypt,
    Decrypt,
    WrapKey,
    UnwrapKey,
}

impl EncryptOp {
    fn key_op(self) -> KeyOp {
        match self {
            Self::Encrypt => KeyOp::Encrypt,
            Self::Decrypt => KeyOp::Decrypt,
            Self::WrapKey => KeyOp::WrapKey,
            Self::UnwrapKey => KeyOp::UnwrapKey,
        }
    }
}

/// The version used and the bytes produced (a plaintext for decrypt and unwrap, zeroized on drop).
pub struct OpResult {
    pub record: KeyVersionRecord,
    pub value: Zeroizing<Vec<u8>>,
}

fn bad(msg: impl Into<String>) -> VaultError {
    VaultError::BadParameter(msg.into())
}

fn op_error(e: KeyError, alg: &str) -> VaultError {
    match e {
        KeyError::AlgorithmMismatch => bad(format!("Invalid algorithm '{alg}' for this key type or curve.")),
        KeyError::DigestLength => bad(format!("Invalid digest length for algorithm '{alg}'.")),
        KeyError::PlaintextTooLong => bad(format!(
            "The plaintext is too long for algorithm '{alg}' and this key size."
        )),
        KeyError::Decrypt => bad("The ciphertext could not be decrypted with this key and algorithm."),
        KeyError::InvalidKey(why) => bad(why),
        KeyError::UnsupportedSize(_) | KeyError::Failed => VaultError::Internal(e.to_string()),
    }
}

impl VaultKeys {
    /// Authorizes `op` and finds the version it runs on, checking `enabled`, `key_ops` and (for the
    /// operations that produce protected data) the validity window.
    async fn usable(
        &self,
        caller: &Caller,
        vault: &VaultRecord,
        name: &str,
        version: Option<&str>,
        op: KeyOp,
    ) -> Result<KeyVersionRecord, VaultError> {
        self.authz.key(caller, vault, op, Some(name)).await?;
        validate_key_name(name)?;
        let record = self.record(vault, name, version).await?;
        let wire = op.permission();
        if !record.enabled {
            return Err(VaultError::KeyOperationForbidden(format!(
                "Operation {wire} is not allowed on a disabled key."
            )));
        }
        if !record.key_ops.iter().any(|o| o.eq_ignore_ascii_case(wire)) {
            return Err(VaultError::KeyOperationForbidden(format!(
                "Operation {wire} is not permitted on this key."
            )));
        }
        if matches!(op, KeyOp::Encrypt | KeyOp::WrapKey | KeyOp::Sign) {
            let now = self.clock.now();
            if record.nbf.is_some_and(|nbf| now < nbf) {
                return Err(VaultError::KeyOperationForbidden(format!(
                    "Operation {wire} is not allowed on a key that is not yet valid."
                )));
            }
            if record.exp.is_some_and(|exp| now >= exp) {
                return Err(VaultError::KeyOperationForbidden(format!(
                    "Operation {wire} is not allowed on an expired key."
                )));
            }
        }
        Ok(record)
    }

    /// The parsed private key of `r`, from the cache when it was parsed from exactly `r.private`
    /// (the caller has checked the permission and the row's current attributes).
    async fn private(&self, r: &KeyVersionRecord) -> Result<Arc<PrivateKey>, VaultError> {
        if let Some(key) = self.parsed.get(r) {
            return Ok(key);
        }
        let der = self.keys.open(&aad(&r.vault, &r.name, &r.version), &r.private).await?;
        let key = Arc::new(PrivateKey::from_pkcs8(spec_of(r)?, der).map_err(|_| VaultError::Integrity)?);
        self.parsed.insert(r, key.clone());
        Ok(key)
    }

    pub async fn sign(
        &self,
        caller: &Caller,
        vault: &VaultRecord,
        name: &str,
        version: Option<&str>,
        alg: &str,
        digest: &str,
    ) -> Result<OpResult, VaultError> {
        let sign_alg = SignAlg::parse(alg).ok_or_else(|| bad(format!("Invalid algorithm '{alg}'.")))?;
        let digest = jwk::unb64(digest, "value")?;
        let record = self.usable(caller, vault, name, version, KeyOp::Sign).await?;
        let key = self.private(&record).await?;
        let sig = key.sign(sign_alg, &digest).map_err(|e| op_error(e, alg))?;
        Ok(OpResult {
            record,
            value: Zeroizing::new(sig),
        })
    }

    /// A bad signature is `Ok(false)`, never an error.
    #[allow(clippy::too_many_arguments)] // the wire's members, each parsed here once
    pub async fn verify(
        &self,
        caller: &Caller,
        vault: &VaultRecord,
        name: &str,
        version: Option<&str>,
        alg: &str,
        digest: &str,
        signature: &str,
    ) -> Result<bool, VaultError> {
        let sign_alg = SignAlg::parse(alg).ok_or_else(|| bad(format!("Invalid algorithm '{alg}'.")))?;
        let digest = jwk::unb64(digest, "digest")?;
        let signature = jwk::unb64(signature, "value")?;
        let record = self.usable(caller, vault, name, version, KeyOp::Verify).await?;
        let public = jwk::public_from_jwk(&record.public_jwk)?;
        public
            .verify(sign_alg, &digest, &signature)
            .map_err(|e| op_error(e, alg))
    }

    #[allow(clippy::too_many_arguments)] // the wire's members, each parsed here once
    pub async fn crypt(
        &self,
        caller: &Caller,
        vault: &VaultRecord,
        name: &str,
        version: Option<&str>,
        op: EncryptOp,
        alg: &str,
        value: &str,
    ) -> Result<OpResult, VaultError> {
        let enc = EncAlg::parse(alg).ok_or_else(|| {
            bad(format!(
                "Invalid algorithm '{alg}'. keyhold supports RSA1_5, RSA-OAEP and RSA-OAEP-256 on RSA keys."
            ))
        })?;
        let input = Zeroizing::new(jwk::unb64(value, "value")?);
        let record = self.usable(caller, vault, name, version, op.key_op()).await?;
        let value = match op {
            EncryptOp::Encrypt | EncryptOp::WrapKey => {
                let public = jwk::public_from_jwk(&record.public_jwk)?;
                Zeroizing::new(public.encrypt(enc, &input).map_err(|e| op_error(e, alg))?)
            }
            EncryptOp::Decrypt | EncryptOp::UnwrapKey => {
                let key = self.private(&record).await?;
                key.decrypt(enc, &input).map_err(|e| op_error(e, alg))?
            }
        };
        Ok(OpResult { record, value })
    }
}
