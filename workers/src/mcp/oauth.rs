//! MCP authorization (OAuth 2.1) for streamable-HTTP servers, through
//! rmcp's `auth`: discovery of the protected resource's and the
//! authorization server's metadata (seeded from a 401's `WWW-Authenticate`
//! challenge when there is one), the client (pre-registered, a Client ID
//! Metadata Document, or dynamic registration), the authorization URL with
//! PKCE, `state` and the `resource` indicator, and the code exchange.
//!
//! Nothing here opens a browser: [`Started::url`] is handed to whoever
//! should visit it (`studio mcp login` through the person's browser, the
//! conformance client through [`follow_to_redirect`]).

use std::error::Error as StdError;

use rmcp::transport::auth::{
    AuthError, AuthorizationManager, AuthorizationRequest, ClientCredentialsConfig, OAuthState,
};
use rmcp::transport::streamable_http_client::{AuthRequiredError, InsufficientScopeError};

/// The name this client registers under (dynamic client registration).
pub const CLIENT_NAME: &str = "AI Studio";

/// Why an authorization could not be done.
#[derive(Debug, thiserror::Error)]
pub enum OAuthError {
    /// rmcp's flow refused or failed (discovery, registration, exchange).
    #[error("{0}")]
    Auth(#[from] AuthError),
    /// The authorization endpoint did not redirect back with a code.
    #[error("the authorization endpoint {0}")]
    NoRedirect(String),
    /// An HTTP request of the flow failed.
    #[error("HTTP: {0}")]
    Http(#[from] reqwest::Error),
}

/// Who the client is to the authorization server, when not registered
/// dynamically.
#[derive(Debug, Clone, Default)]
pub struct ClientIdentity {
    /// A client id issued out of band (or by an earlier registration).
    pub client_id: Option<String>,
    /// Its secret, for a confidential client.
    pub client_secret: Option<String>,
    /// An HTTPS URL of a Client ID Metadata Document (SEP-991), used when
    /// the authorization server supports them.
    pub metadata_url: Option<String>,
}

/// An authorization under way: metadata discovered, client chosen, the
/// URL the person (or the headless "browser") must visit.
pub struct Started {
    /// rmcp's state machine, in its session state.
    state: OAuthState,
    /// The authorization URL (no secret in it: a PKCE challenge and a state).
    pub url: String,
}

/// Starts the authorization-code flow for the MCP server at `server_url`:
/// discovery (from `challenge`, a 401's or 403's `WWW-Authenticate`, when
/// given), the client, and the URL to visit, which redirects to
/// `redirect_uri`. `scopes` empty lets the metadata choose (the
/// challenge's `scope`, else the resource's `scopes_supported`, else none).
pub async fn start(
    server_url: &str,
    challenge: Option<&str>,
    redirect_uri: &str,
    identity: &ClientIdentity,
    scopes: &[String],
) -> Result<Started, OAuthError> {
    crate::provider::http::install_crypto();
    let mut state = OAuthState::new(server_url, None).await?;
    let mut request = AuthorizationRequest::new(redirect_uri).with_client_name(CLIENT_NAME);
    if let Some(challenge) = challenge {
        request = request.with_challenge(challenge);
    }
    // The spec's order: the challenge's scope, else the resource's
    // `scopes_supported` (rmcp would otherwise ask for their union).
    request = if scopes.is_empty() {
        request.with_initial_scope_selection()
    } else {
        request.with_scopes(scopes.iter().cloned())
    };
    if let Some(id) = &identity.client_id {
        request = request.with_preregistered_client(id.clone());
        if let Some(secret) = &identity.client_secret {
            request = request.with_client_secret(secret.clone());
        }
    }
    if let Some(url) = &identity.metadata_url {
        request = request.with_client_metadata_url(url.clone());
    }
    state.start_authorization(request).await?;
    let url = state.get_authorization_url().await?;
    Ok(Started { state, url })
}

impl Started {
    /// Exchanges the code in `callback_url` (the redirect the authorization
    /// server sent the browser to) for tokens, checking `state` and `iss`.
    pub async fn finish(mut self, callback_url: &str) -> Result<AuthorizationManager, OAuthError> {
        self.state.handle_callback_url(callback_url).await?;
        self.state.into_authorization_manager().ok_or_else(|| {
            OAuthError::Auth(AuthError::InternalError(
                "no authorization after the callback".to_owned(),
            ))
        })
    }
}

/// The client-credentials grant (SEP-1046): a confidential client gets a
/// token for itself, with no person and no browser.
pub async fn client_credentials(
    server_url: &str,
    client_id: &str,
    client_secret: &str,
) -> Result<AuthorizationManager, OAuthError> {
    crate::provider::http::install_crypto();
    let mut state = OAuthState::new(server_url, None).await?;
    let config = ClientCredentialsConfig::ClientSecret {
        client_id: client_id.to_owned(),
        client_secret: client_secret.to_owned(),
        scopes: Vec::new(),
        resource: Some(server_url.to_owned()),
    };
    state.authenticate_client_credentials(config).await?;
    state.into_authorization_manager().ok_or_else(|| {
        OAuthError::Auth(AuthError::InternalError(
            "no authorization after the client-credentials grant".to_owned(),
        ))
    })
}

/// A browser that cannot show a page: requests `url` without following
/// redirects and returns the `Location` it redirects to (the callback with
/// the code). What the conformance suite's own reference client does.
pub async fn follow_to_redirect(url: &str) -> Result<String, OAuthError> {
    crate::provider::http::install_crypto();
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()?;
    let response = client.get(url).send().await?;
    let status = response.status();
    response
        .headers()
        .get(reqwest::header::LOCATION)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
        .ok_or_else(|| OAuthError::NoRedirect(format!("answered {status} without a redirect")))
}

/// The `WWW-Authenticate` challenge of a 401 or 403 somewhere in `error`'s
/// chain of sources, if that is what it is.
pub fn challenge_in(error: &(dyn StdError + 'static)) -> Option<String> {
    let mut current = Some(error);
    while let Some(error) = current {
        if let Some(e) = error.downcast_ref::<AuthRequiredError>() {
            return Some(e.www_authenticate_header.clone());
        }
        if let Some(e) = error.downcast_ref::<InsufficientScopeError>() {
            return Some(e.www_authenticate_header.clone());
        }
        current = error.source();
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_challenge_is_found_through_the_sources() {
        let inner = AuthRequiredError::new("Bearer resource_metadata=\"http://x/prm\"".to_owned());
        #[derive(Debug, thiserror::Error)]
        #[error("outer")]
        struct Outer(#[source] AuthRequiredError);
        let outer = Outer(inner);
        assert_eq!(
            challenge_in(&outer).as_deref(),
            Some("Bearer resource_metadata=\"http://x/prm\"")
        );
        let plain = std::io::Error::other("nothing");
        assert_eq!(challenge_in(&plain), None);
    }
}
