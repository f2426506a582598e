//! Key Vault keys: RSA and EC key pairs generated or imported here, kept as PKCS#8 DER in zeroizing
//! buffers, and the operations Key Vault offers on them (sign a client-supplied digest, verify,
//! encrypt, decrypt, wrap, unwrap), all through aws-lc-rs.
//!
//! Only this module ever sees a private key unsealed; callers get the public half ([`PublicKey`]) and
//! the PKCS#8 bytes only to seal them. RSA1_5 decryption uses implicit rejection: a ciphertext whose
//! padding is wrong yields a pseudo-random plaintext derived from the key and the ciphertext instead of
//! an error, so a padding oracle (Bleichenbacher, Marvin) learns nothing from the answer.

use aws_lc_rs::{
    digest::{self, Digest},
    encoding::AsDer,
    hmac,
    rsa::{
        KeyPair as RsaKeyPair, KeyPairComponents, KeySize, OAEP_SHA1_MGF1SHA1, OAEP_SHA256_MGF1SHA256,
        OaepPrivateDecryptingKey, OaepPublicEncryptingKey, Pkcs1PrivateDecryptingKey, Pkcs1PublicEncryptingKey,
        PrivateDecryptingKey, PublicEncryptingKey, PublicKeyComponents,
    },
    signature::{self, EcdsaKeyPair, EcdsaSigningAlgorithm, EcdsaVerificationAlgorithm, KeyPair, RsaParameters},
};
use zeroize::Zeroizing;

/// What went wrong with a key or an operation; the domain maps each to Azure's error.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    #[error("unsupported key size {0}")]
    UnsupportedSize(u32),
    /// The JWK's members do not form a valid key, or its public and private parts disagree.
    #[error("invalid key: {0}")]
    InvalidKey(&'static str),
    #[error("the algorithm does not fit this key")]
    AlgorithmMismatch,
    #[error("the digest has the wrong length for the algorithm")]
    DigestLength,
    #[error("the plaintext is too long for this key and algorithm")]
    PlaintextTooLong,
    /// Decryption failed (OAEP); never distinguishes why.
    #[error("decryption failed")]
    Decrypt,
    #[error("key generation or the operation failed")]
    Failed,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Curve {
    P256,
    P384,
    P521,
    P256K,
}

impl Curve {
    pub fn parse(name: &str) -> Option<Self> {
        match name {
            "P-256" => Some(Self::P256),
            "P-384" => Some(Self::P384),
            "P-521" => Some(Self::P521),
            "P-256K" | "SECP256K1" => Some(Self::P256K),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Self::P256 => "P-256",
            Self::P384 => "P-384",
            Self::P521 => "P-521",
            Self::P256K => "P-256K",
        }
    }

    /// Length of a coordinate and of the private scalar, in bytes.
    pub fn field_len(self) -> usize {
        match self {
            Self::P256 | Self::P256K => 32,
            Self::P384 => 48,
            Self::P521 => 66,
        }
    }

    fn signing(self) -> &'static EcdsaSigningAlgorithm {
        match self {
            Self::P256 => &signature::ECDSA_P256_SHA256_FIXED_SIGNING,
            Self::P384 => &signature::ECDSA_P384_SHA384_FIXED_SIGNING,
            Self::P521 => &signature::ECDSA_P521_SHA512_FIXED_SIGNING,
            Self::P256K => &signature::ECDSA_P256K1_SHA256_FIXED_SIGNING,
        }
    }

    fn verification(self) -> &'static EcdsaVerificationAlgorithm {
        match self {
            Self::P256 => &signature::ECDSA_P256_SHA256_FIXED,
            Self::P384 => &signature::ECDSA_P384_SHA384_FIXED,
            Self::P521 => &signature::ECDSA_P521_SHA512_FIXED,
            Self::P256K => &signature::ECDSA_P256K1_SHA256_FIXED,
        }
    }
}

/// A key to create: RSA of a size, or EC on a curve.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeySpec {
    Rsa(u32),
    Ec(Curve),
}

/// Key Vault's signature algorithms. EC signatures are raw `r‖s`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignAlg {
    Rs256,
    Rs384,
    Rs512,
    Ps256,
    Ps384,
    Ps512,
    Es256,
    Es384,
    Es512,
    Es256K,
}

impl SignAlg {
    pub fn parse(name: &str) -> Option<Self> {
        Some(match name {
            "RS256" => Self::Rs256,
            "RS384" => Self::Rs384,
            "RS512" => Self::Rs512,
            "PS256" => Self::Ps256,
            "PS384" => Self::Ps384,
            "PS512" => Self::Ps512,
            "ES256" => Self::Es256,
            "ES384" => Self::Es384,
            "ES512" => Self::Es512,
            "ES256K" => Self::Es256K,
            _ => return None,
        })
    }

    fn digest(self) -> &'static digest::Algorithm {
        match self {
            Self::Rs256 | Self::Ps256 | Self::Es256 | Self::Es256K => &digest::SHA256,
            Self::Rs384 | Self::Ps384 | Self::Es384 => &digest::SHA384,
            Self::Rs512 | Self::Ps512 | Self::Es512 => &digest::SHA512,
        }
    }

    /// The curve an ECDSA algorithm requires, `None` for RSA algorithms.
    fn curve(self) -> Option<Curve> {
        match self {
            Self::Es256 => Some(Curve::P256),
            Self::Es384 => Some(Curve::P384),
            Self::Es512 => Some(Curve::P521),
            Self::Es256K => Some(Curve::P256K),
            _ => None,
        }
    }

    fn rsa_encoding(self) -> Option<&'static dyn signature::RsaEncoding> {
        Some(match self {
            Self::Rs256 => &signature::RSA_PKCS1_SHA256,
            Self::Rs384 => &signature::RSA_PKCS1_SHA384,
            Self::Rs512 => &signature::RSA_PKCS1_SHA512,
            Self::Ps256 => &signature::RSA_PSS_SHA256,
            Self::Ps384 => &signature::RSA_PSS_SHA384,
            Self::Ps512 => &signature::RSA_PSS_SHA512,
            _ => return None,
        })
    }

    fn rsa_params(self) -> Option<&'static RsaParameters> {
        Some(match self {
            Self::Rs256 => &signature::RSA_PKCS1_2048_8192_SHA256,
            Self::Rs384 => &signature::RSA_PKCS1_2048_8192_SHA384,
            Self::Rs512 => &signature::RSA_PKCS1_2048_8192_SHA512,
            Self::Ps256 => &signature::RSA_PSS_2048_8192_SHA256,
            Self::Ps384 => &signature::RSA_PSS_2048_8192_SHA384,
            Self::Ps512 => &signature::RSA_PSS_2048_8192_SHA512,
            _ => return None,
        })
    }

    fn import_digest(self, digest: &[u8]) -> Result<Digest, KeyError> {
        Digest::import_less_safe(digest, self.digest()).map_err(|_| KeyError::DigestLength)
    }
}

/// Key Vault's RSA encryption (and key-wrapping) algorithms.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EncAlg {
    Rsa15,
    RsaOaep,
    RsaOaep256,
}

impl EncAlg {
    pub fn parse(name: &str) -> Option<Self> {
        match name {
            "RSA1_5" => Some(Self::Rsa15),
            "RSA-OAEP" => Some(Self::RsaOaep),
            "RSA-OAEP-256" => Some(Self::RsaOaep256),
            _ => None,
        }
    }
}

/// The public half, as a JWK carries it (big-endian, no leading zeros for `n`/`e`; fixed-length
/// coordinates for EC).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PublicKey {
    Rsa { n: Vec<u8>, e: Vec<u8> },
    Ec { curve: Curve, x: Vec<u8>, y: Vec<u8> },
}

/// RSA private members of an imported JWK.
pub struct RsaPrivateParts<'a> {
    pub n: &'a [u8],
    pub e: &'a [u8],
    pub d: &'a [u8],
    pub p: &'a [u8],
    pub q: &'a [u8],
    pub dp: &'a [u8],
    pub dq: &'a [u8],
    pub qi: &'a [u8],
}

/// A private key: its kind, its PKCS#8 DER (zeroized on drop) and the key parsed once, so an operation
/// does not pay for parsing and validating it again; `Debug` shows neither.
pub struct PrivateKey {
    spec: KeySpec,
    pkcs8: Zeroizing<Vec<u8>>,
    parsed: Parsed,
}

enum Parsed {
    Rsa(RsaKeyPair),
    Ec(EcdsaKeyPair),
}

fn parse(spec: KeySpec, der: &[u8]) -> Result<Parsed, KeyError> {
    match spec {
        KeySpec::Rsa(_) => RsaKeyPair::from_pkcs8(der)
            .map(Parsed::Rsa)
            .map_err(|_| KeyError::Failed),
        KeySpec::Ec(curve) => EcdsaKeyPair::from_pkcs8(curve.signing(), der)
            .map(Parsed::Ec)
            .map_err(|_| KeyError::Failed),
    }
}

impl std::fmt::Debug for PrivateKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "PrivateKey({:?}, <redacted>)", self.spec)
    }
}

fn rsa_size(bits: u32) -> Result<KeySize, KeyError> {
    match bits {
        2048 => Ok(KeySize::Rsa2048),
        3072 => Ok(KeySize::Rsa3072),
        4096 => Ok(KeySize::Rsa4096),
        other => Err(KeyError::UnsupportedSize(other)),
    }
}

fn strip_zeros(b: &[u8]) -> &[u8] {
    let i = b.iter().position(|&x| x != 0).unwrap_or(b.len().saturating_sub(1));
    &b[i..]
}

/// Left-pads a big-endian integer to `len` bytes; `None` if it is longer.
fn pad(b: &[u8], len: usize) -> Option<Vec<u8>> {
    let b = strip_zeros(b);
    if b.len() > len {
        return None;
    }
    let mut out = vec![0u8; len - b.len()];
    out.extend_from_slice(b);
    Some(out)
}

impl PrivateKey {
    pub fn generate(spec: KeySpec) -> Result<Self, KeyError> {
        let (pkcs8, parsed) = match spec {
            KeySpec::Rsa(bits) => {
                let kp = RsaKeyPair::generate(rsa_size(bits)?).map_err(|_| KeyError::Failed)?;
                let der = Zeroizing::new(kp.as_der().map_err(|_| KeyError::Failed)?.as_ref().to_vec());
                (der, Parsed::Rsa(kp))
            }
            KeySpec::Ec(curve) => {
                let kp = EcdsaKeyPair::generate(curve.signing()).map_err(|_| KeyError::Failed)?;
                let der = Zeroizing::new(kp.to_pkcs8v1().map_err(|_| KeyError::Failed)?.as_ref().to_vec());
                (der, Parsed::Ec(kp))
            }
        };
        Ok(Self { spec, pkcs8, parsed })
    }

    /// An RSA key from JWK members; refused unless every part is consistent (`n = p·q`, CRT values).
    pub fn import_rsa(parts: &RsaPrivateParts<'_>) -> Result<Self, KeyError> {
        let n = strip_zeros(parts.n);
        let bits = (n.len() * 8) as u32 - n.first().map_or(8, |b| b.leading_zeros());
        rsa_size(bits)?;
        let components = KeyPairComponents {
            public_key: PublicKeyComponents {
                n,
                e: strip_zeros(parts.e),
            },
            d: parts.d,
            p: parts.p,
            q: parts.q,
            dP: parts.dp,
            dQ: parts.dq,
            qInv: parts.qi,
        };
        let kp = RsaKeyPair::from_components(&components)
            .map_err(|_| KeyError::InvalidKey("the RSA key's private parts are inconsistent"))?;
        let pkcs8 = Zeroizing::new(kp.as_der().map_err(|_| KeyError::Failed)?.as_ref().to_vec());
        Ok(Self {
            spec: KeySpec::Rsa(bits),
            pkcs8,
            parsed: Parsed::Rsa(kp),
        })
    }

    /// An EC key from JWK members; refused unless `d` is the private scalar of `(x, y)`.
    pub fn import_ec(curve: Curve, d: &[u8], x: &[u8], y: &[u8]) -> Result<Self, KeyError> {
        let len = curve.field_len();
        let bad = KeyError::InvalidKey("the EC key's coordinates or private scalar are invalid");
        let d = Zeroizing::new(pad(d, len).ok_or(bad.clone())?);
        let (x, y) = (pad(x, len).ok_or(bad.clone())?, pad(y, len).ok_or(bad.clone())?);
        let mut point = vec![4u8];
        point.extend_from_slice(&x);
        point.extend_from_slice(&y);
        let kp = EcdsaKeyPair::from_private_key_and_public_key(curve.signing(), &d, &point).map_err(|_| bad)?;
        let pkcs8 = Zeroizing::new(kp.to_pkcs8v1().map_err(|_| KeyError::Failed)?.as_ref().to_vec());
        Ok(Self {
            spec: KeySpec::Ec(curve),
            pkcs8,
            parsed: Parsed::Ec(kp),
        })
    }

    /// A key as stored (PKCS#8 DER, after unsealing).
    pub fn from_pkcs8(spec: KeySpec, der: Zeroizing<Vec<u8>>) -> Result<Self, KeyError> {
        let parsed = parse(spec, &der)?;
        Ok(Self {
            spec,
            pkcs8: der,
            parsed,
        })
    }

    /// PKCS#8 DER, only to be sealed.
    pub fn pkcs8(&self) -> &[u8] {
        &self.pkcs8
    }

    pub fn spec(&self) -> KeySpec {
        self.spec
    }

    fn rsa(&self) -> Result<&RsaKeyPair, KeyError> {
        match &self.parsed {
            Parsed::Rsa(kp) => Ok(kp),
            Parsed::Ec(_) => Err(KeyError::AlgorithmMismatch),
        }
    }

    fn ec(&self, _curve: Curve) -> Result<&EcdsaKeyPair, KeyError> {
        match &self.parsed {
            Parsed::Ec(kp) => Ok(kp),
            Parsed::Rsa(_) => Err(KeyError::AlgorithmMismatch),
        }
    }

    pub fn public(&self) -> Result<PublicKey, KeyError> {
        match self.spec {
            KeySpec::Rsa(_) => {
                let kp = self.rsa()?;
                let pk = kp.public_key();
                Ok(PublicKey::Rsa {
                    n: pk.modulus().big_endian_without_leading_zero().to_vec(),
                    e: pk.exponent().big_endian_without_leading_zero().to_vec(),
                })
            }
            KeySpec::Ec(curve) => {
                let kp = self.ec(curve)?;
                let point = kp.public_key().as_ref();
                let len = curve.field_len();
                if point.len() != 1 + 2 * len {
                    return Err(KeyError::Failed);
                }
                Ok(PublicKey::Ec {
                    curve,
                    x: point[1..=len].to_vec(),
                    y: point[1 + len..].to_vec(),
                })
            }
        }
    }

    /// Signs a digest the client computed; its length must match the algorithm's hash.
    pub fn sign(&self, alg: SignAlg, digest: &[u8]) -> Result<Vec<u8>, KeyError> {
        let digest = alg.import_digest(digest)?;
        match (self.spec, alg.curve(), alg.rsa_encoding()) {
            (KeySpec::Rsa(_), None, Some(encoding)) => {
                let kp = self.rsa()?;
                let mut sig = vec![0u8; kp.public_modulus_len()];
                kp.sign_digest(encoding, &digest, &mut sig)
                    .map_err(|_| KeyError::Failed)?;
                Ok(sig)
            }
            (KeySpec::Ec(curve), Some(want), None) if curve == want => {
                let sig = self.ec(curve)?.sign_digest(&digest).map_err(|_| KeyError::Failed)?;
                Ok(sig.as_ref().to_vec())
            }
            _ => Err(KeyError::AlgorithmMismatch),
        }
    }

    /// Decrypts (or unwraps) with an RSA key. RSA1_5 never fails on bad padding (see the module docs).
    pub fn decrypt(&self, alg: EncAlg, ciphertext: &[u8]) -> Result<Zeroizing<Vec<u8>>, KeyError> {
        let KeySpec::Rsa(_) = self.spec else {
            return Err(KeyError::AlgorithmMismatch);
        };
        let private = PrivateDecryptingKey::from_pkcs8(&self.pkcs8).map_err(|_| KeyError::Failed)?;
        let size = private.key_size_bytes();
        if ciphertext.len() != size {
            return Err(KeyError::Decrypt);
        }
        let mut out = Zeroizing::new(vec![0u8; size]);
        match alg {
            EncAlg::Rsa15 => {
                // Both results are computed every time so the work done does not depend on the padding.
                let synthetic = self.implicit_rejection(ciphertext, size)?;
                let key = Pkcs1PrivateDecryptingKey::new(private).map_err(|_| KeyError::Failed)?;
                let res = key.decrypt(ciphertext, &mut out).map(|p| p.len());
                match res {
                    Ok(len) => {
                        out.truncate(len);
                        Ok(out)
                    }
                    Err(_) => Ok(synthetic),
                }
            }
            EncAlg::RsaOaep | EncAlg::RsaOaep256 => {
                let oaep = if alg == EncAlg::RsaOaep {
                    &OAEP_SHA1_MGF1SHA1
                } else {
                    &OAEP_SHA256_MGF1SHA256
                };
                let key = OaepPrivateDecryptingKey::new(private).map_err(|_| KeyError::Failed)?;
                let len = key
                    .decrypt(oaep, ciphertext, &mut out, None)
                    .map_err(|_| KeyError::Decrypt)?
                    .len();
                out.truncate(len);
                Ok(out)
            }
        }
    }

    /// A deterministic pseudo-random message for a ciphertext that does not decrypt, derived with
    /// HMAC-SHA256 from a secret of this key, as in draft-irtf-cfrg-rsa-guidance's implicit rejection.
    fn implicit_rejection(&self, ciphertext: &[u8], size: usize) -> Result<Zeroizing<Vec<u8>>, KeyError> {
        let kdk = hmac::sign(
            &hmac::Key::new(hmac::HMAC_SHA256, b"keyhold RSA1_5 implicit rejection"),
            &self.pkcs8,
        );
        let key = hmac::Key::new(hmac::HMAC_SHA256, kdk.as_ref());
        let mut stream = Zeroizing::new(Vec::with_capacity(size + 32));
        let mut counter = 0u32;
        while stream.len() < size + 2 {
            let mut ctx = hmac::Context::with_key(&key);
            ctx.update(&counter.to_be_bytes());
            ctx.update(ciphertext);
            stream.extend_from_slice(ctx.sign().as_ref());
            counter += 1;
        }
        // A plausible length: at most the largest PKCS#1 v1.5 message for this key (size − 11).
        let max = size - 11;
        let len = (usize::from(stream[0]) << 8 | usize::from(stream[1])) % (max + 1);
        Ok(Zeroizing::new(stream[2..2 + len].to_vec()))
    }
}

impl PublicKey {
    pub fn spec(&self) -> KeySpec {
        match self {
            Self::Rsa { n, .. } => {
                let n = strip_zeros(n);
                KeySpec::Rsa((n.len() * 8) as u32 - n.first().map_or(8, |b| b.leading_zeros()))
            }
            Self::Ec { curve, .. } => KeySpec::Ec(*curve),
        }
    }

    /// Whether `sig` is a valid signature of `digest`. A bad signature is `Ok(false)`; only a digest of
    /// the wrong length or an algorithm that does not fit the key is an error.
    pub fn verify(&self, alg: SignAlg, digest: &[u8], sig: &[u8]) -> Result<bool, KeyError> {
        let digest = alg.import_digest(digest)?;
        match (self, alg.curve(), alg.rsa_params()) {
            (Self::Rsa { n, e }, None, Some(params)) => {
                let components = PublicKeyComponents {
                    n: n.as_slice(),
                    e: e.as_slice(),
                };
                let Ok(parsed) = components.to_parsed_public_key(params) else {
                    return Ok(false);
                };
                Ok(parsed.verify_digest_sig(&digest, sig).is_ok())
            }
            (Self::Ec { curve, x, y }, Some(want), None) if *curve == want => {
                let mut point = vec![4u8];
                point.extend_from_slice(x);
                point.extend_from_slice(y);
                let key = signature::UnparsedPublicKey::new(curve.verification(), point);
                Ok(key.verify_digest(&digest, sig).is_ok())
            }
            _ => Err(KeyError::AlgorithmMismatch),
        }
    }

    /// SubjectPublicKeyInfo DER, for `keyvault key download`.
    pub fn spki_der(&self) -> Result<Vec<u8>, KeyError> {
        match self {
            Self::Rsa { n, e } => {
                let components = PublicKeyComponents {
                    n: n.as_slice(),
                    e: e.as_slice(),
                };
                Ok(components.as_der().map_err(|_| KeyError::Failed)?.as_ref().to_vec())
            }
            Self::Ec { curve, x, y } => {
                let mut point = vec![4u8];
                point.extend_from_slice(x);
                point.extend_from_slice(y);
                let parsed = signature::ParsedPublicKey::new(curve.verification(), &point)
                    .map_err(|_| KeyError::InvalidKey("the EC point is not on its curve"))?;
                Ok(parsed.as_der().map_err(|_| KeyError::Failed)?.as_ref().to_vec())
            }
        }
    }

    /// Encrypts (or wraps) with an RSA public key.
    pub fn encrypt(&self, alg: EncAlg, plaintext: &[u8]) -> Result<Vec<u8>, KeyError> {
        let Self::Rsa { n, e } = self else {
            return Err(KeyError::AlgorithmMismatch);
        };
        let components = PublicKeyComponents {
            n: n.as_slice(),
            e: e.as_slice(),
        };
        let public: PublicEncryptingKey = components.try_into().map_err(|_| KeyError::Failed)?;
        let size = public.key_size_bytes();
        let mut out = vec![0u8; size];
        let len = match alg {
            EncAlg::Rsa15 => {
                if plaintext.len() > size - 11 {
                    return Err(KeyError::PlaintextTooLong);
                }
                let key = Pkcs1PublicEncryptingKey::new(public).map_err(|_| KeyError::Failed)?;
                key.encrypt(plaintext, &mut out).map_err(|_| KeyError::Failed)?.len()
            }
            EncAlg::RsaOaep | EncAlg::RsaOaep256 => {
                let oaep = if alg == EncAlg::RsaOaep {
                    &OAEP_SHA1_MGF1SHA1
                } else {
                    &OAEP_SHA256_MGF1SHA256
                };
                let key = OaepPublicEncryptingKey::new(public).map_err(|_| KeyError::Failed)?;
                if plaintext.len() > key.max_plaintext_size(oaep) {
                    return Err(KeyError::PlaintextTooLong);
                }
                key.encrypt(oaep, plaintext, &mut out, None)
                    .map_err(|_| KeyError::Failed)?
                    .len()
            }
        };
        out.truncate(len);
        Ok(out)
    }
}

/// `n` random bytes from the system RNG (`POST /rng`).
pub fn random_bytes(n: usize) -> Result<Vec<u8>, KeyError> {
    let mut out = vec![0u8; n];
    aws_lc_rs::rand::fill(&mut out).map_err(|_| KeyError::Failed)?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sha(alg: &'static digest::Algorithm, m: &[u8]) -> Vec<u8> {
        digest::digest(alg, m).as_ref().to_vec()
    }

    #[test]
    fn rsa_sign_verify_and_encrypt_round_trip() -> Result<(), KeyError> {
        let key = PrivateKey::generate(KeySpec::Rsa(2048))?;
        let public = key.public()?;
        assert_eq!(public.spec(), KeySpec::Rsa(2048));
        for alg in [SignAlg::Rs256, SignAlg::Ps256, SignAlg::Ps512, SignAlg::Rs384] {
            let d = sha(alg.digest(), b"hello");
            let sig = key.sign(alg, &d)?;
            assert!(public.verify(alg, &d, &sig)?);
            let mut bad = sig.clone();
            bad[10] ^= 1;
            assert!(!public.verify(alg, &d, &bad)?);
        }
        assert_eq!(key.sign(SignAlg::Rs256, &[0u8; 20]), Err(KeyError::DigestLength));
        assert_eq!(key.sign(SignAlg::Es256, &[0u8; 32]), Err(KeyError::AlgorithmMismatch));
        for alg in [EncAlg::Rsa15, EncAlg::RsaOaep, EncAlg::RsaOaep256] {
            let ct = public.encrypt(alg, b"secret message")?;
            assert_eq!(key.decrypt(alg, &ct)?.as_slice(), b"secret message");
        }
        Ok(())
    }

    #[test]
    fn rsa1_5_bad_padding_is_a_stable_pseudo_random_answer() -> Result<(), KeyError> {
        let key = PrivateKey::generate(KeySpec::Rsa(2048))?;
        let junk = vec![0x42u8; 256];
        let a = key.decrypt(EncAlg::Rsa15, &junk)?;
        let b = key.decrypt(EncAlg::Rsa15, &junk)?;
        assert_eq!(a, b);
        assert_eq!(key.decrypt(EncAlg::RsaOaep, &junk), Err(KeyError::Decrypt));
        Ok(())
    }

    #[test]
    fn ec_curves_sign_raw_r_s() -> Result<(), KeyError> {
        for (curve, alg) in [
            (Curve::P256, SignAlg::Es256),
            (Curve::P384, SignAlg::Es384),
            (Curve::P521, SignAlg::Es512),
            (Curve::P256K, SignAlg::Es256K),
        ] {
            let key = PrivateKey::generate(KeySpec::Ec(curve))?;
            let public = key.public()?;
            let d = sha(alg.digest(), b"msg");
            let sig = key.sign(alg, &d)?;
            assert_eq!(sig.len(), 2 * curve.field_len());
            assert!(public.verify(alg, &d, &sig)?);
            assert!(!public.verify(alg, &sha(alg.digest(), b"other"), &sig)?);
            // Round trip through PKCS#8 as the store does.
            let again = PrivateKey::from_pkcs8(key.spec(), Zeroizing::new(key.pkcs8().to_vec()))?;
            assert_eq!(again.public()?, public);
        }
        Ok(())
    }

    #[test]
    fn ec_import_checks_the_private_scalar_matches() -> Result<(), KeyError> {
        let a = PrivateKey::generate(KeySpec::Ec(Curve::P256))?;
        let b = PrivateKey::generate(KeySpec::Ec(Curve::P256))?;
        let PublicKey::Ec { x, y, .. } = a.public()? else {
            return Err(KeyError::Failed);
        };
        // The scalar of `b` with the point of `a` is refused.
        let good = PrivateKey::import_ec(Curve::P256, &scalar(&a), &x, &y)?;
        assert_eq!(good.public()?, a.public()?);
        assert!(matches!(
            PrivateKey::import_ec(Curve::P256, &scalar(&b), &x, &y),
            Err(KeyError::InvalidKey(_))
        ));
        Ok(())
    }

    fn scalar(k: &PrivateKey) -> Vec<u8> {
        use aws_lc_rs::encoding::{AsBigEndian, EcPrivateKeyBin};
        let KeySpec::Ec(curve) = k.spec else { return vec![] };
        let kp = k.ec(curve).ok();
        kp.and_then(|kp| {
            let bin: Option<EcPrivateKeyBin<'static>> = kp.private_key().as_be_bytes().ok();
            bin.map(|b| b.as_ref().to_vec())
        })
        .unwrap_or_default()
    }
}
