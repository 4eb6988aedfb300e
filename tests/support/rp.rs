//! A relying party built with the `openidconnect` crate, as real online services use it.

use openidconnect::core::{
    CoreAuthenticationFlow, CoreClient, CoreIdTokenClaims, CoreJwsSigningAlgorithm,
    CoreProviderMetadata, CoreTokenResponse,
};
use openidconnect::{
    AuthorizationCode, ClientId, ClientSecret, CsrfToken, EndpointMaybeSet, EndpointNotSet,
    EndpointSet, IntrospectionUrl, IssuerUrl, Nonce, OAuth2TokenResponse, PkceCodeChallenge,
    PkceCodeVerifier, RedirectUrl, RevocationUrl, Scope, TokenResponse,
};

pub type RpClient = CoreClient<
    EndpointSet,
    EndpointNotSet,
    EndpointSet,
    EndpointSet,
    EndpointMaybeSet,
    EndpointMaybeSet,
>;

/// An HTTP client for the relying party: no redirects (as openidconnect requires).
pub fn http() -> openidconnect::reqwest::Client {
    openidconnect::reqwest::ClientBuilder::new()
        .redirect(openidconnect::reqwest::redirect::Policy::none())
        .build()
        .expect("http client")
}

pub async fn discover(issuer: &str, http: &openidconnect::reqwest::Client) -> CoreProviderMetadata {
    CoreProviderMetadata::discover_async(IssuerUrl::new(issuer.to_owned()).expect("issuer"), http)
        .await
        .expect("discovery")
}

/// A relying party for one client.
pub struct Rp {
    pub client: RpClient,
    pub http: openidconnect::reqwest::Client,
    pub metadata: CoreProviderMetadata,
}

/// One authorization request in flight.
pub struct Pending {
    pub url: String,
    pub state: CsrfToken,
    pub nonce: Nonce,
    pub verifier: PkceCodeVerifier,
}

impl Rp {
    pub async fn new(
        issuer: &str,
        client_id: &str,
        secret: Option<&str>,
        redirect: &str,
        alg: Option<CoreJwsSigningAlgorithm>,
    ) -> Rp {
        let http = http();
        let metadata = discover(issuer, &http).await;
        let client = CoreClient::from_provider_metadata(
            metadata.clone(),
            ClientId::new(client_id.to_owned()),
            secret.map(|s| ClientSecret::new(s.to_owned())),
        )
        .set_redirect_uri(RedirectUrl::new(redirect.to_owned()).expect("redirect"))
        .set_revocation_url(RevocationUrl::new(format!("{issuer}/revoke")).expect("url"))
        .set_introspection_url(IntrospectionUrl::new(format!("{issuer}/introspect")).expect("url"));
        let _ = alg;
        Rp {
            client,
            http,
            metadata,
        }
    }

    /// An authorization request with PKCE (S256) and a nonce; `extra` adds parameters.
    pub fn authorize(&self, scopes: &[&str], extra: &[(&str, &str)]) -> Pending {
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let mut req = self
            .client
            .authorize_url(
                CoreAuthenticationFlow::AuthorizationCode,
                CsrfToken::new_random,
                Nonce::new_random,
            )
            .set_pkce_challenge(challenge);
        for s in scopes {
            req = req.add_scope(Scope::new((*s).to_owned()));
        }
        for (k, v) in extra {
            req = req.add_extra_param(*k, *v);
        }
        let (url, state, nonce) = req.url();
        Pending {
            url: url.to_string(),
            state,
            nonce,
            verifier,
        }
    }

    /// Exchanges the code, verifying the ID token (signature, issuer, audience, nonce, expiry).
    pub async fn exchange(
        &self,
        pending: Pending,
        code: &str,
        alg: CoreJwsSigningAlgorithm,
    ) -> (CoreTokenResponse, CoreIdTokenClaims) {
        let tokens = self
            .client
            .exchange_code(AuthorizationCode::new(code.to_owned()))
            .expect("token endpoint")
            .set_pkce_verifier(pending.verifier)
            .request_async(&self.http)
            .await
            .expect("token response");
        let verifier = self.client.id_token_verifier().set_allowed_algs(vec![alg]);
        let claims = tokens
            .id_token()
            .expect("an ID token")
            .claims(&verifier, &pending.nonce)
            .expect("a valid ID token")
            .clone();
        assert!(!tokens.access_token().secret().is_empty());
        (tokens, claims)
    }
}
