//! Signing a person out: Entra's front-channel logout (`/oauth2/v2.0/logout`), which here has no
//! browser session to end (every sign-in asks for the password) and only decides where the browser
//! may be sent afterwards, and keyhold's own revocation of one refresh token by the client holding it
//! (Entra has no such endpoint; its clients simply forget their tokens).

use super::{
    Identity,
    authorize::{allowed_redirect, signs_in_people},
    signin::hash_hex,
};
use crate::AuthError;

impl Identity {
    /// Where a logout may send the browser: only a redirect URI the browser sign-in would answer to
    /// (loopback, or Entra's native-client page), never a URI anyone could name.
    pub fn post_logout_redirect<'a>(&self, uri: Option<&'a str>) -> Option<&'a str> {
        uri.filter(|u| allowed_redirect(u))
    }

    /// Revokes the one refresh token presented (no other of the user's), for a client that signs
    /// people in (Microsoft's public clients, and the console at sign-out). Whoever holds such a
    /// refresh token could redeem it, so revoking it is never more than its holder could do,
    /// whichever of those clients it was issued to. An unknown, spent or expired token is no error
    /// (RFC 7009 §2.2): there is nothing left to revoke. The user whose token it was, if it was one.
    pub async fn revoke_refresh_token(
        &self,
        client_id: &str,
        refresh_token: &str,
    ) -> Result<Option<String>, AuthError> {
        if !signs_in_people(client_id) {
            return Err(AuthError::UnknownClient(client_id.to_owned()));
        }
        let spent = self
            .store
            .take_refresh_token(&hash_hex(refresh_token), self.clock.now())
            .await?;
        Ok(spent.map(|t| t.object_id))
    }
}
