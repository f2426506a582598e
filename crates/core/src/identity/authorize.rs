//! The browser sign-in: Entra's authorization-code flow with PKCE (S256). The authorize request is
//! checked twice, when the sign-in page is shown and when it is posted, since the page's hidden
//! fields come back from the browser. Where the client or its redirect URI is wrong the person is
//! shown the error and nothing is redirected (a redirect would hand the code to whoever named the
//! URI); other failures go back to the client's redirect URI as OAuth errors.

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use keyhold_crypto::{ct_eq, random, sha256};
use keyhold_store::AuthCodeRecord;
use secrecy::{ExposeSecret, SecretString};

use super::{
    Identity, Source,
    signin::{UserTokens, hash_hex, public_client_id},
};
use crate::AuthError;

/// An authorization code lives ten minutes, as Entra's.
const CODE_SECS: i64 = 600;

/// The Azure portal's client id: keyhold's console signs people in as it, and its one redirect URI
/// is the console's own callback at one of this service's origins.
pub const CONSOLE_CLIENT_ID: &str = "c44b4083-3bb0-49c1-b47d-974e53cbdf3c";

/// The console's callback path, under the service's origin.
pub const CONSOLE_CALLBACK: &str = "/signin-oidc";

pub(super) fn is_console_client(client_id: &str) -> bool {
    client_id.eq_ignore_ascii_case(CONSOLE_CLIENT_ID)
}

/// A client that signs people in: one of Microsoft's public clients, or the console.
pub(super) fn signs_in_people(client_id: &str) -> bool {
    is_console_client(client_id) || public_client_id(client_id).is_some()
}

/// A checked authorize request: what the sign-in page carries and the code will be bound to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthorizeRequest {
    pub client_id: String,
    pub redirect_uri: String,
    pub scope: String,
    pub state: Option<String>,
    pub code_challenge: String,
    pub nonce: Option<String>,
    /// How the answer goes back: `query` (a redirect) or `form_post` (a page that posts it), as the
    /// client asked; az asks for `form_post`.
    pub form_post: bool,
}

/// The authorize request's parameters as they arrived.
#[derive(Debug, Default)]
pub struct AuthorizeParams<'a> {
    pub client_id: Option<&'a str>,
    pub redirect_uri: Option<&'a str>,
    pub response_type: Option<&'a str>,
    pub scope: Option<&'a str>,
    pub state: Option<&'a str>,
    pub code_challenge: Option<&'a str>,
    pub code_challenge_method: Option<&'a str>,
    pub nonce: Option<&'a str>,
    pub response_mode: Option<&'a str>,
}

/// Why an authorize request failed, and whether the client may be told through its redirect URI.
#[derive(Debug)]
pub enum AuthorizeError {
    /// Shown to the person only: the client or redirect URI cannot be trusted.
    Page(String),
    /// Sent back to the (checked) redirect URI as `error` and `error_description`.
    Redirect {
        request: Box<AuthorizeRequest>,
        error: &'static str,
        description: String,
    },
    /// A sign-in that should be retried on the page (wrong password, disabled user, throttled).
    SignIn(AuthError),
    Internal(String),
}

/// A loopback redirect (`http://localhost[:port][/path]`, `http://127.0.0.1…`, RFC 8252: any port)
/// or Entra's native-client page: the redirect URIs Microsoft's public clients are registered with.
pub(super) fn allowed_redirect(uri: &str) -> bool {
    if uri == "https://login.microsoftonline.com/common/oauth2/nativeclient" {
        return true;
    }
    match url::Url::parse(uri) {
        Ok(u) => {
            u.scheme() == "http"
                && matches!(u.host_str(), Some("localhost" | "127.0.0.1" | "[::1]"))
                && u.username().is_empty()
                && u.password().is_none()
                && u.fragment().is_none()
        }
        Err(_) => false,
    }
}

/// `BASE64URL(SHA256(verifier))`, compared in constant time.
fn pkce_matches(verifier: &str, challenge: &str) -> bool {
    let computed = URL_SAFE_NO_PAD.encode(sha256(verifier.as_bytes()));
    ct_eq(computed.as_bytes(), challenge.as_bytes())
}

impl Identity {
    /// `<origin>/signin-oidc` at one of this service's own origins (a foreign `Host` cannot make one).
    pub fn is_console_callback(&self, uri: &str) -> bool {
        uri.strip_suffix(CONSOLE_CALLBACK)
            .is_some_and(|origin| !origin.is_empty() && self.config.own_origin(origin) == origin)
    }

    /// Checks an authorize request.
    pub fn check_authorize(&self, p: &AuthorizeParams<'_>) -> Result<AuthorizeRequest, AuthorizeError> {
        let client_id = p.client_id.filter(|c| !c.is_empty()).ok_or_else(|| {
            AuthorizeError::Page(
                "AADSTS900144: The request body must contain the following parameter: 'client_id'.".into(),
            )
        })?;
        let console = is_console_client(client_id);
        if !signs_in_people(client_id) {
            return Err(AuthorizeError::Page(format!(
                "AADSTS700016: Application with identifier '{client_id}' was not found in the directory '{}'.",
                self.tenant_id
            )));
        }
        let registered = |r: &str| {
            if console {
                self.is_console_callback(r)
            } else {
                allowed_redirect(r)
            }
        };
        let redirect_uri = p.redirect_uri.filter(|r| registered(r)).ok_or_else(|| {
            AuthorizeError::Page(format!(
                "AADSTS50011: The redirect URI '{}' specified in the request does not match the redirect URIs configured for the application '{client_id}'.",
                p.redirect_uri.unwrap_or_default()
            ))
        })?;
        let mut request = AuthorizeRequest {
            client_id: client_id.to_owned(),
            redirect_uri: redirect_uri.to_owned(),
            scope: p.scope.unwrap_or_default().to_owned(),
            state: p.state.map(str::to_owned),
            code_challenge: String::new(),
            nonce: p.nonce.map(str::to_owned),
            form_post: p.response_mode == Some("form_post"),
        };
        let fail = |request: &AuthorizeRequest, error: &'static str, description: String| AuthorizeError::Redirect {
            request: Box::new(request.clone()),
            error,
            description,
        };
        if !matches!(p.response_mode, None | Some("query" | "form_post")) {
            return Err(fail(
                &request,
                "invalid_request",
                "AADSTS900144: response_mode must be 'query' or 'form_post'.".into(),
            ));
        }
        if p.response_type != Some("code") {
            return Err(fail(
                &request,
                "unsupported_response_type",
                "AADSTS700054: response_type must be 'code'.".into(),
            ));
        }
        if self.delegated_resource(&request.scope).is_err() {
            return Err(fail(
                &request,
                "invalid_scope",
                format!(
                    "AADSTS70011: The provided value for the input parameter 'scope' is not valid: '{}'.",
                    request.scope
                ),
            ));
        }
        match (p.code_challenge, p.code_challenge_method) {
            (Some(c), Some("S256")) if (43..=128).contains(&c.len()) => request.code_challenge = c.to_owned(),
            _ => {
                return Err(fail(
                    &request,
                    "invalid_request",
                    "AADSTS9002325: Proof Key for Code Exchange is required: send code_challenge with code_challenge_method S256.".into(),
                ));
            }
        }
        Ok(request)
    }

    /// The person signed in on the page: a code for the client, bound to its redirect and challenge.
    pub async fn authorize(
        &self,
        request: &AuthorizeRequest,
        user_principal_name: &str,
        password: &SecretString,
        source: Source,
    ) -> Result<SecretString, AuthorizeError> {
        let user = self
            .password_sign_in(user_principal_name, password, source)
            .await
            .map_err(|e| match e {
                AuthError::Internal(d) => AuthorizeError::Internal(d),
                other => AuthorizeError::SignIn(other),
            })?;
        let code = SecretString::from(random::token(32).map_err(|e| AuthorizeError::Internal(e.to_string()))?);
        let now = self.clock.now();
        self.store
            .put_auth_code(&AuthCodeRecord {
                hash: hash_hex(code.expose_secret()),
                object_id: user.principal.object_id,
                client_id: request.client_id.clone(),
                redirect_uri: request.redirect_uri.clone(),
                code_challenge: request.code_challenge.clone(),
                scope: request.scope.clone(),
                nonce: request.nonce.clone(),
                created: now,
                expires: now + CODE_SECS,
            })
            .await
            .map_err(|e| AuthorizeError::Internal(e.to_string()))?;
        Ok(code)
    }

    /// `grant_type=authorization_code`: the code works once, for the client and redirect URI it was
    /// issued to, with the verifier of its challenge.
    pub async fn redeem_auth_code(
        &self,
        client_id: &str,
        code: &str,
        redirect_uri: &str,
        code_verifier: &str,
    ) -> Result<UserTokens, AuthError> {
        let issued = self
            .store
            .take_auth_code(&hash_hex(code), self.clock.now())
            .await?
            .ok_or_else(|| AuthError::InvalidGrant("AADSTS70008: The provided authorization code or refresh token has expired, was revoked or was already redeemed.".into()))?;
        if !issued.client_id.eq_ignore_ascii_case(client_id) {
            return Err(AuthError::InvalidGrant(
                "AADSTS70000: The code was issued to another client.".into(),
            ));
        }
        if issued.redirect_uri != redirect_uri {
            return Err(AuthError::InvalidGrant(
                "AADSTS70000: The redirect URI does not match the one the code was issued for.".into(),
            ));
        }
        if !pkce_matches(code_verifier, &issued.code_challenge) {
            return Err(AuthError::InvalidGrant(
                "AADSTS501481: The Code_Verifier does not match the code_challenge supplied in the authorization request.".into(),
            ));
        }
        let user = self.active_user(&issued.object_id, None).await?;
        self.user_tokens_with_nonce(&user, client_id, &issued.scope, issued.nonce.as_deref())
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_loopback_and_the_native_client_page_are_redirects() {
        for ok in [
            "http://localhost",
            "http://localhost:51234",
            "http://localhost:51234/callback?x=1",
            "http://127.0.0.1:8400/",
            "https://login.microsoftonline.com/common/oauth2/nativeclient",
        ] {
            assert!(allowed_redirect(ok), "{ok}");
        }
        for bad in [
            "https://localhost:51234",
            "http://localhost.evil.example/",
            "http://evil.example/",
            "http://user@localhost/",
            "http://localhost/#frag",
            "javascript:alert(1)",
            "",
        ] {
            assert!(!allowed_redirect(bad), "{bad}");
        }
    }

    #[test]
    fn the_verifier_must_hash_to_the_challenge() {
        // RFC 7636 appendix B.
        let verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
        assert!(pkce_matches(verifier, "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"));
        assert!(!pkce_matches(
            "another-verifier-of-forty-three-characters-xx",
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        ));
    }
}
