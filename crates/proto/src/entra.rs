//! Entra ID shapes: token responses, OpenID discovery, JWKS, and the JWT claims keyhold issues.

use serde::{Deserialize, Serialize};

/// Client-credentials response. `expires_in` is a JSON number: the Rust SDK parses it as `i64`.
#[derive(Clone, Serialize, Deserialize)]
pub struct TokenResponse {
    pub token_type: String,
    pub expires_in: i64,
    pub ext_expires_in: i64,
    pub access_token: String,
    /// The v1 endpoint (`resource=`) also echoes these, as Entra's v1 endpoint does.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expires_on: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub not_before: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resource: Option<String>,
    /// Delegated (user) grants: the scopes granted, a refresh token and, for `openid`, an id token.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub scope: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub refresh_token: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub id_token: Option<String>,
}

/// `POST /{tenant}/oauth2/v2.0/devicecode`'s answer.
#[derive(Clone, Serialize, Deserialize)]
pub struct DeviceCodeResponse {
    pub device_code: String,
    pub user_code: String,
    pub verification_uri: String,
    pub expires_in: i64,
    pub interval: i64,
    pub message: String,
}

impl std::fmt::Debug for DeviceCodeResponse {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "DeviceCodeResponse({}, device_code <redacted>)", self.user_code)
    }
}

/// The access token is a credential: `Debug` never prints it.
impl std::fmt::Debug for TokenResponse {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenResponse")
            .field("token_type", &self.token_type)
            .field("expires_in", &self.expires_in)
            .field("access_token", &"<redacted>")
            .field("expires_on", &self.expires_on)
            .field("resource", &self.resource)
            .finish_non_exhaustive()
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct OpenIdConfiguration {
    pub issuer: String,
    pub authorization_endpoint: String,
    pub token_endpoint: String,
    pub jwks_uri: String,
    pub device_authorization_endpoint: String,
    /// Entra's front-channel logout (`/oauth2/v2.0/logout`).
    pub end_session_endpoint: String,
    pub response_types_supported: Vec<String>,
    pub subject_types_supported: Vec<String>,
    pub id_token_signing_alg_values_supported: Vec<String>,
    pub token_endpoint_auth_methods_supported: Vec<String>,
    pub grant_types_supported: Vec<String>,
    pub tenant_region_scope: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Jwks {
    pub keys: Vec<Jwk>,
}

/// A public RSA signing key. There is deliberately no field for private members.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Jwk {
    pub kty: String,
    #[serde(rename = "use")]
    pub use_: String,
    pub alg: String,
    pub kid: String,
    pub x5t: String,
    pub n: String,
    pub e: String,
    pub issuer: String,
}

/// Claims of an access token, Entra-shaped.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct AccessClaims {
    pub aud: String,
    pub iss: String,
    pub iat: i64,
    pub nbf: i64,
    pub exp: i64,
    pub appid: String,
    pub appidacr: String,
    pub azp: String,
    pub azpacr: String,
    pub idp: String,
    pub idtyp: String,
    pub oid: String,
    pub sub: String,
    pub tid: String,
    pub uti: String,
    pub ver: String,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub xms_mirid: Option<String>,
    /// A user's token: its sign-in name, display name and delegated scope (`idtyp` is `user`).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub upn: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub scp: Option<String>,
}

/// An OpenID Connect `id_token`'s claims (v2.0).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct IdClaims {
    pub aud: String,
    pub iss: String,
    pub iat: i64,
    pub nbf: i64,
    pub exp: i64,
    pub oid: String,
    pub sub: String,
    pub tid: String,
    pub preferred_username: String,
    pub name: String,
    pub ver: String,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub nonce: Option<String>,
}

#[cfg(test)]
mod debug_tests {
    use super::*;

    #[test]
    fn debug_hides_the_access_token() {
        let resp = TokenResponse {
            token_type: "Bearer".into(),
            expires_in: 3600,
            ext_expires_in: 3600,
            access_token: "eyJ.secret-token.sig".into(),
            expires_on: None,
            not_before: None,
            resource: None,
            scope: None,
            refresh_token: Some("refresh-secret".into()),
            id_token: Some("eyJ.id-secret.sig".into()),
        };
        let shown = format!("{resp:?}");
        assert!(
            !shown.contains("secret-token")
                && !shown.contains("refresh-secret")
                && !shown.contains("id-secret")
                && shown.contains("<redacted>"),
            "{shown}"
        );
    }
}
