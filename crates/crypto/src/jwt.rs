//! JSON Web Tokens: RS256 signing with our keys, and strict parsing for verification. The algorithm is
//! pinned by the caller (RS256 for our tokens, RS256/PS256 for client assertions); `none`, HS* and
//! anything unknown never reach a signature check.

use aws_lc_rs::{
    encoding::AsDer,
    rsa::{KeyPair, KeySize},
    signature::{self, KeyPair as _, RsaPublicKeyComponents, UnparsedPublicKey},
};
use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use serde::{Deserialize, Serialize, de::DeserializeOwned};
use zeroize::Zeroizing;

use crate::CryptoError;

/// The algorithms keyhold accepts anywhere.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Alg {
    Rs256,
    Ps256,
    /// Agents' assertions: ECDSA P-256, signature as JOSE's fixed `r||s`.
    Es256,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Header {
    pub alg: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub typ: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kid: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub x5t: Option<String>,
    #[serde(rename = "x5t#S256", default, skip_serializing_if = "Option::is_none")]
    pub x5t_s256: Option<String>,
}

impl Header {
    pub fn alg(&self) -> Option<Alg> {
        match self.alg.as_str() {
            "RS256" => Some(Alg::Rs256),
            "PS256" => Some(Alg::Ps256),
            "ES256" => Some(Alg::Es256),
            _ => None,
        }
    }
}

/// A token split into its parts, signature not yet checked.
pub struct Unverified<'a> {
    pub header: Header,
    signing_input: &'a str,
    payload: Vec<u8>,
    signature: Vec<u8>,
}

/// The parts are a bearer token, usable as is: `Debug` shows only the header.
impl std::fmt::Debug for Unverified<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Unverified")
            .field("header", &self.header)
            .finish_non_exhaustive()
    }
}

impl<'a> Unverified<'a> {
    pub fn parse(token: &'a str) -> Result<Self, JwtError> {
        let mut parts = token.split('.');
        let (Some(h), Some(p), Some(s), None) = (parts.next(), parts.next(), parts.next(), parts.next()) else {
            return Err(JwtError::Malformed);
        };
        let header: Header = serde_json::from_slice(&b64(h)?).map_err(|_| JwtError::Malformed)?;
        Ok(Self {
            header,
            signing_input: &token[..h.len() + 1 + p.len()],
            payload: b64(p)?,
            signature: b64(s)?,
        })
    }

    /// Checks the signature with `key` under `alg`, then yields the claims.
    pub fn verify<C: DeserializeOwned>(&self, alg: Alg, key: &PublicKey) -> Result<C, JwtError> {
        if self.header.alg() != Some(alg) {
            return Err(JwtError::Algorithm);
        }
        let params: &'static signature::RsaParameters = match alg {
            Alg::Rs256 => &signature::RSA_PKCS1_2048_8192_SHA256,
            Alg::Ps256 => &signature::RSA_PSS_2048_8192_SHA256,
            Alg::Es256 => return Err(JwtError::Algorithm),
        };
        UnparsedPublicKey::new(params, &key.pkcs1)
            .verify(self.signing_input.as_bytes(), &self.signature)
            .map_err(|_| JwtError::Signature)?;
        serde_json::from_slice(&self.payload).map_err(|_| JwtError::Malformed)
    }
}

impl Unverified<'_> {
    /// Checks an ES256 signature against an uncompressed P-256 point, then yields the claims.
    pub fn verify_es256<C: DeserializeOwned>(&self, public_point: &[u8]) -> Result<C, JwtError> {
        if self.header.alg() != Some(Alg::Es256) {
            return Err(JwtError::Algorithm);
        }
        UnparsedPublicKey::new(&signature::ECDSA_P256_SHA256_FIXED, public_point)
            .verify(self.signing_input.as_bytes(), &self.signature)
            .map_err(|_| JwtError::Signature)?;
        serde_json::from_slice(&self.payload).map_err(|_| JwtError::Malformed)
    }
}

/// An agent's own key: generated on the agent, which keeps the private half (PKCS#8, zeroized on drop);
/// the server only ever sees the public point.
pub struct AgentKey {
    pair: signature::EcdsaKeyPair,
    pkcs8: Zeroizing<Vec<u8>>,
}

impl std::fmt::Debug for AgentKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AgentKey(<redacted>)")
    }
}

impl AgentKey {
    pub fn generate() -> Result<Self, CryptoError> {
        let pair = signature::EcdsaKeyPair::generate(&signature::ECDSA_P256_SHA256_FIXED_SIGNING)
            .map_err(|_| CryptoError::KeyGen)?;
        let pkcs8 = Zeroizing::new(pair.to_pkcs8v1().map_err(|_| CryptoError::KeyGen)?.as_ref().to_vec());
        Ok(Self { pair, pkcs8 })
    }

    pub fn from_pkcs8(pkcs8: &[u8]) -> Result<Self, CryptoError> {
        let pair = signature::EcdsaKeyPair::from_pkcs8(&signature::ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8)
            .map_err(|_| CryptoError::Malformed)?;
        Ok(Self {
            pair,
            pkcs8: Zeroizing::new(pkcs8.to_vec()),
        })
    }

    pub fn pkcs8(&self) -> &[u8] {
        &self.pkcs8
    }

    /// The uncompressed public point, base64url.
    pub fn public_point(&self) -> String {
        URL_SAFE_NO_PAD.encode(self.pair.public_key().as_ref())
    }

    /// An ES256 JWT with `kid` naming the agent.
    pub fn sign<C: Serialize>(&self, kid: &str, claims: &C) -> Result<String, CryptoError> {
        let header = Header {
            alg: "ES256".into(),
            typ: Some("JWT".into()),
            kid: Some(kid.to_owned()),
            x5t: None,
            x5t_s256: None,
        };
        let h = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&header).map_err(|_| CryptoError::Signing)?);
        let p = URL_SAFE_NO_PAD.encode(serde_json::to_vec(claims).map_err(|_| CryptoError::Signing)?);
        let input = format!("{h}.{p}");
        let rng = aws_lc_rs::rand::SystemRandom::new();
        let sig = self
            .pair
            .sign(&rng, input.as_bytes())
            .map_err(|_| CryptoError::Signing)?;
        Ok(format!("{input}.{}", URL_SAFE_NO_PAD.encode(sig.as_ref())))
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum JwtError {
    #[error("malformed token")]
    Malformed,
    #[error("algorithm not allowed")]
    Algorithm,
    #[error("signature invalid")]
    Signature,
}

/// An RSA public key in PKCS#1 form (what X.509 SPKI carries and what JWKS `n`/`e` encode).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublicKey {
    pkcs1: Vec<u8>,
}

impl PublicKey {
    pub fn from_pkcs1(der: Vec<u8>) -> Self {
        Self { pkcs1: der }
    }

    pub fn from_components(n: &[u8], e: &[u8]) -> Result<Self, CryptoError> {
        let comps = RsaPublicKeyComponents { n, e };
        let parsed = comps
            .to_parsed_public_key(&signature::RSA_PKCS1_2048_8192_SHA256)
            .map_err(|_| CryptoError::Malformed)?;
        // SPKI DER -> PKCS#1 via x509-parser, so that one form is kept.
        let spki = parsed.as_der().map_err(|_| CryptoError::Malformed)?;
        crate::spki::pkcs1_from_spki(spki.as_ref()).map(Self::from_pkcs1)
    }
}

/// An RS256 signing key. The private key leaves only sealed (`pkcs8` is zeroized on drop).
pub struct SigningKey {
    pub kid: String,
    pair: KeyPair,
    pkcs8: Zeroizing<Vec<u8>>,
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SigningKey({}, <redacted>)", self.kid)
    }
}

impl SigningKey {
    pub fn generate() -> Result<Self, CryptoError> {
        let pair = KeyPair::generate(KeySize::Rsa2048).map_err(|_| CryptoError::KeyGen)?;
        let pkcs8 = Zeroizing::new(pair.as_der().map_err(|_| CryptoError::KeyGen)?.as_ref().to_vec());
        Self::from_pkcs8(&pkcs8)
    }

    pub fn from_pkcs8(pkcs8: &[u8]) -> Result<Self, CryptoError> {
        let pair = KeyPair::from_pkcs8(pkcs8).map_err(|_| CryptoError::Malformed)?;
        let (n, e) = components(&pair);
        // kid: a stable 27-character tag of the public key, the length of Entra's kids.
        let mut material = n.clone();
        material.extend_from_slice(&e);
        let kid = URL_SAFE_NO_PAD.encode(&crate::sha256(&material)[..20]);
        Ok(Self {
            kid,
            pair,
            pkcs8: Zeroizing::new(pkcs8.to_vec()),
        })
    }

    /// PKCS#8 DER, for sealing into the store only.
    pub fn pkcs8(&self) -> &[u8] {
        &self.pkcs8
    }

    /// Public `n` and `e`, base64url, for the JWKS.
    pub fn public_jwk(&self) -> (String, String) {
        let (n, e) = components(&self.pair);
        (URL_SAFE_NO_PAD.encode(n), URL_SAFE_NO_PAD.encode(e))
    }

    pub fn public_key(&self) -> Result<PublicKey, CryptoError> {
        let (n, e) = components(&self.pair);
        PublicKey::from_components(&n, &e)
    }

    /// Signs `claims` as an RS256 JWT with our `kid` (and `x5t`, as Entra sends both).
    pub fn sign<C: Serialize>(&self, claims: &C) -> Result<String, CryptoError> {
        let header = Header {
            alg: "RS256".into(),
            typ: Some("JWT".into()),
            kid: Some(self.kid.clone()),
            x5t: Some(self.kid.clone()),
            x5t_s256: None,
        };
        let h = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&header).map_err(|_| CryptoError::Signing)?);
        let p = URL_SAFE_NO_PAD.encode(serde_json::to_vec(claims).map_err(|_| CryptoError::Signing)?);
        let input = format!("{h}.{p}");
        let rng = aws_lc_rs::rand::SystemRandom::new();
        let mut sig = vec![0u8; self.pair.public_modulus_len()];
        self.pair
            .sign(&signature::RSA_PKCS1_SHA256, &rng, input.as_bytes(), &mut sig)
            .map_err(|_| CryptoError::Signing)?;
        Ok(format!("{input}.{}", URL_SAFE_NO_PAD.encode(sig)))
    }
}

fn components(pair: &KeyPair) -> (Vec<u8>, Vec<u8>) {
    let public = pair.public_key();
    (
        public.modulus().big_endian_without_leading_zero().to_vec(),
        public.exponent().big_endian_without_leading_zero().to_vec(),
    )
}

fn b64(s: &str) -> Result<Vec<u8>, JwtError> {
    // Tolerate '=' padding (MSAL Python pads x5t; be equally lenient on segments).
    URL_SAFE_NO_PAD
        .decode(s.trim_end_matches('='))
        .map_err(|_| JwtError::Malformed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Serialize, Deserialize, PartialEq, Debug)]
    struct C {
        sub: String,
    }

    #[test]
    fn debug_of_an_unverified_token_hides_it() -> Result<(), Box<dyn std::error::Error>> {
        let key = SigningKey::generate()?;
        let token = key.sign(&C { sub: "a".into() })?;
        let shown = format!("{:?}", Unverified::parse(&token)?);
        let signature = token.rsplit('.').next().unwrap_or_default();
        assert!(!shown.contains(signature), "{shown}");
        assert!(!shown.contains(token.split('.').nth(1).unwrap_or_default()), "{shown}");
        Ok(())
    }

    #[test]
    fn sign_then_verify_and_reject_tampering() -> Result<(), Box<dyn std::error::Error>> {
        let key = SigningKey::generate()?;
        let token = key.sign(&C { sub: "a".into() })?;
        let pk = key.public_key()?;
        let claims: C = Unverified::parse(&token)?.verify(Alg::Rs256, &pk)?;
        assert_eq!(claims.sub, "a");
        let forged = {
            let mut parts: Vec<&str> = token.split('.').collect();
            let body = URL_SAFE_NO_PAD.encode(br#"{"sub":"b"}"#);
            parts[1] = &body;
            parts.join(".")
        };
        assert_eq!(
            Unverified::parse(&forged)?.verify::<C>(Alg::Rs256, &pk).err(),
            Some(JwtError::Signature)
        );
        assert_eq!(
            Unverified::parse(&token)?.verify::<C>(Alg::Ps256, &pk).err(),
            Some(JwtError::Algorithm)
        );
        let reloaded = SigningKey::from_pkcs8(key.pkcs8())?;
        assert_eq!(reloaded.kid, key.kid);
        Ok(())
    }

    #[test]
    fn agent_keys_sign_es256_that_only_their_point_verifies() -> Result<(), Box<dyn std::error::Error>> {
        let key = AgentKey::generate()?;
        let token = key.sign("agent-1", &C { sub: "a".into() })?;
        let point = URL_SAFE_NO_PAD.decode(key.public_point())?;
        let parsed = Unverified::parse(&token)?;
        assert_eq!(parsed.verify_es256::<C>(&point)?.sub, "a");
        let other = URL_SAFE_NO_PAD.decode(AgentKey::generate()?.public_point())?;
        assert_eq!(parsed.verify_es256::<C>(&other).err(), Some(JwtError::Signature));
        assert_eq!(AgentKey::from_pkcs8(key.pkcs8())?.public_point(), key.public_point());
        Ok(())
    }
}
