//! The authorization endpoint (OIDC Core §3.1.2; RFC 6749 §4.1.1; RFC 9700 §2.1).
//!
//! Validation order matters: until the client and its redirect URI are known to be genuine, an
//! error is shown to the user on a page and never sent anywhere (OIDC Core §3.1.2.6, RFC 9700
//! §4.1 — no open redirector). After that, errors go back to the client with `state` and `iss`.

use konto_core::Level;
use konto_core::client::{Client, GrantType};
use konto_core::login::LoginRequest;
use konto_core::pkce;
use konto_core::scope::{self, Scopes};
use serde::{Deserialize, Serialize};

use crate::claims::{ClaimsRequest, registered_claims};
use crate::error::{ErrorCode, OAuthError};
use crate::params::Params;
use crate::provider::Provider;
use crate::response::{AuthorizationResponse, ResponseMode};
use crate::tokens::IdTokenHint;

const MAX_STATE: usize = 2048;
const MAX_NONCE: usize = 512;
const MAX_LOGIN_HINT: usize = 256;
const MAX_ACTING_FOR: usize = 128;

/// The OIDC side of a login in progress, kept with the flow until the code is issued.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OidcFlow {
    pub client_id: String,
    pub redirect_uri: String,
    pub response_mode: ResponseMode,
    pub state: Option<String>,
    pub nonce: Option<String>,
    pub scope: String,
    pub code_challenge: Option<String>,
    pub claims: Option<ClaimsRequest>,
    /// The subject of a valid `id_token_hint`: with `prompt=none` the session must be this user's.
    pub id_token_hint_sub: Option<String>,
}

/// A validated authorization request.
#[derive(Debug, Clone)]
pub struct AuthorizationRequest {
    pub client: Client,
    pub flow: OidcFlow,
    pub login: LoginRequest,
}

/// Why an authorization request cannot go on.
#[derive(Debug, Clone)]
pub enum AuthorizeError {
    /// The client or its redirect URI is not genuine: tell the user, send nothing.
    Page(OAuthError),
    /// Tell the client, at its registered redirect URI.
    Redirect(AuthorizationResponse),
}

impl Provider {
    /// An error response to a validated redirect URI.
    pub fn error_response(
        &self,
        redirect_uri: &str,
        mode: ResponseMode,
        state: Option<&str>,
        error: &OAuthError,
    ) -> AuthorizationResponse {
        let mut params = vec![
            ("error".to_owned(), error.code.as_str().to_owned()),
            ("error_description".to_owned(), error.description.clone()),
        ];
        if let Some(s) = state {
            params.push(("state".to_owned(), s.to_owned()));
        }
        params.push(("iss".to_owned(), self.config.issuer.clone()));
        AuthorizationResponse {
            redirect_uri: redirect_uri.to_owned(),
            mode,
            params,
        }
    }

    /// An error for a flow in progress (`login_required`, `access_denied`, …).
    pub fn flow_error(
        &self,
        flow: &OidcFlow,
        code: ErrorCode,
        description: &str,
    ) -> AuthorizationResponse {
        self.error_response(
            &flow.redirect_uri,
            flow.response_mode,
            flow.state.as_deref(),
            &OAuthError::new(code, description),
        )
    }

    /// Validates an authorization request. `accept_language` feeds the page language after
    /// `ui_locales`.
    pub async fn validate_authorization(
        &self,
        params: &Params,
        accept_language: &[String],
    ) -> Result<AuthorizationRequest, AuthorizeError> {
        let page = |e: OAuthError| AuthorizeError::Page(e);
        let client_id = params
            .get_bounded("client_id", 256)
            .map_err(page)?
            .ok_or_else(|| page(OAuthError::invalid_request("missing parameter client_id")))?;
        let client = match self.store.client(client_id).await {
            Ok(Some(c)) => c,
            Ok(None) => return Err(page(OAuthError::invalid_client("unknown client_id"))),
            Err(e) => return Err(page(e.into())),
        };
        let redirect_uri = params.get("redirect_uri").ok_or_else(|| {
            page(OAuthError::invalid_request(
                "missing parameter redirect_uri",
            ))
        })?;
        // RFC 9700 §4.1.3: exact string match against the registered URIs
        if !client.has_redirect_uri(redirect_uri) {
            return Err(page(OAuthError::invalid_request(
                "redirect_uri is not registered for this client",
            )));
        }
        let redirect_uri = redirect_uri.to_owned();

        // From here on the client is told.
        let (mode, mode_error) = match params.get("response_mode") {
            None => (ResponseMode::Query, None),
            Some(m) => match ResponseMode::parse(m) {
                Some(mode) => (mode, None),
                None => (
                    ResponseMode::Query,
                    Some(OAuthError::invalid_request("unsupported response_mode")),
                ),
            },
        };
        let state = match params.get("state") {
            Some(s) if s.len() > MAX_STATE => {
                return Err(AuthorizeError::Redirect(self.error_response(
                    &redirect_uri,
                    mode,
                    None,
                    &OAuthError::invalid_request("state is too long"),
                )));
            }
            s => s.map(str::to_owned),
        };
        let to_client = |e: OAuthError| {
            AuthorizeError::Redirect(self.error_response(&redirect_uri, mode, state.as_deref(), &e))
        };
        if let Some(e) = mode_error {
            return Err(to_client(e));
        }
        match self.check_request(
            params,
            &client,
            &redirect_uri,
            mode,
            state.clone(),
            accept_language,
        ) {
            Ok(req) => {
                let mut req = req;
                if let Some(hint) = params.get("id_token_hint") {
                    match self.id_token_hint(hint, &client) {
                        Ok(h) => req.flow.id_token_hint_sub = Some(h.sub),
                        Err(e) => return Err(to_client(e)),
                    }
                }
                Ok(req)
            }
            Err(e) => Err(to_client(e)),
        }
    }

    fn check_request(
        &self,
        params: &Params,
        client: &Client,
        redirect_uri: &str,
        mode: ResponseMode,
        state: Option<String>,
        accept_language: &[String],
    ) -> Result<AuthorizationRequest, OAuthError> {
        if params.contains("request") {
            return Err(OAuthError::new(
                ErrorCode::RequestNotSupported,
                "request objects are not supported",
            ));
        }
        if params.contains("request_uri") {
            return Err(OAuthError::new(
                ErrorCode::RequestUriNotSupported,
                "request_uri is not supported",
            ));
        }
        match params.get("response_type") {
            None => {
                return Err(OAuthError::invalid_request(
                    "missing parameter response_type",
                ));
            }
            Some("code") => {}
            Some(_) => {
                return Err(OAuthError::new(
                    ErrorCode::UnsupportedResponseType,
                    "only response_type=code is supported",
                ));
            }
        }
        if !client.allows_grant(GrantType::AuthorizationCode) {
            return Err(OAuthError::new(
                ErrorCode::UnauthorizedClient,
                "this client may not use the authorization code grant",
            ));
        }
        let scopes = Scopes::parse(params.get("scope").unwrap_or(""))
            .map_err(|e| OAuthError::new(ErrorCode::InvalidScope, e.to_string()))?;
        if let Some(unknown) = scopes.first_unknown(&scope::SUPPORTED) {
            return Err(OAuthError::new(
                ErrorCode::InvalidScope,
                format!("unknown scope {unknown}"),
            ));
        }
        let allowed: Vec<&str> = client.party.scopes.iter().map(String::as_str).collect();
        if let Some(denied) = scopes.first_unknown(&allowed) {
            return Err(OAuthError::new(
                ErrorCode::InvalidScope,
                format!("scope {denied} is not allowed for this client"),
            ));
        }
        if scopes.is_empty() {
            return Err(OAuthError::new(
                ErrorCode::InvalidScope,
                "scope is required",
            ));
        }

        // PKCE (RFC 7636; RFC 9700 §2.1.1): S256 only, mandatory for public clients and by default
        let code_challenge = match params.get("code_challenge") {
            Some(c) => {
                pkce::check_challenge(c, params.get("code_challenge_method"))
                    .map_err(|e| OAuthError::invalid_request(e.to_string()))?;
                Some(c.to_owned())
            }
            None if client.pkce_required() => {
                return Err(OAuthError::invalid_request(
                    "code_challenge is required (PKCE with S256)",
                ));
            }
            None => None,
        };
        let nonce = params.get_bounded("nonce", MAX_NONCE)?.map(str::to_owned);

        let prompt: Vec<&str> = params
            .get("prompt")
            .unwrap_or("")
            .split(' ')
            .filter(|p| !p.is_empty())
            .collect();
        for p in &prompt {
            if !matches!(*p, "none" | "login" | "consent" | "select_account") {
                return Err(OAuthError::invalid_request(format!(
                    "unsupported prompt value {p}"
                )));
            }
        }
        // OIDC Core §3.1.2.1: none with any other value is an error
        if prompt.contains(&"none") && prompt.len() > 1 {
            return Err(OAuthError::invalid_request(
                "prompt=none cannot be combined with other values",
            ));
        }
        let max_age = match params.get("max_age") {
            None => None,
            // digits only: Rust's parser would also take a leading `+`
            Some(v) if !v.is_empty() && v.len() <= 10 && v.bytes().all(|b| b.is_ascii_digit()) => {
                v.parse::<u64>().ok()
            }
            Some(_) => {
                return Err(OAuthError::invalid_request(
                    "max_age must be a non-negative integer",
                ));
            }
        };

        // The minimum level: the client's own, raised by acr_values and an essential acr claim.
        let mut min_level = client.party.min_level;
        if let Some(values) = params.get("acr_values") {
            let mut lowest: Option<Level> = None;
            for v in values.split(' ').filter(|v| !v.is_empty()) {
                let level = self
                    .acr
                    .parse(v)
                    .map_err(|_| OAuthError::invalid_request(format!("unknown acr value {v}")))?;
                lowest = Some(lowest.map_or(level, |l| l.min(level)));
            }
            if let Some(l) = lowest {
                min_level = min_level.max(l);
            }
        }
        // OIDC Core §5.5: claims beyond the client's registration are not released, so they are
        // neither asked for on the consent page nor kept with the grant
        let claims = match params.get("claims") {
            None => None,
            Some(json) => Some(ClaimsRequest::parse(json)?.within(&registered_claims(client))),
        };
        if let Some(c) = &claims
            && let Some(l) = c.essential_acr(&self.acr)?
        {
            min_level = min_level.max(l);
        }

        let mut ui_locales: Vec<String> = params
            .get("ui_locales")
            .unwrap_or("")
            .split(' ')
            .filter(|l| !l.is_empty() && l.len() <= 35)
            .take(8)
            .map(str::to_owned)
            .collect();
        ui_locales.extend(accept_language.iter().take(8).cloned());
        let login_hint = params
            .get_bounded("login_hint", MAX_LOGIN_HINT)?
            .map(str::to_owned);

        // konto's parameter: the party (its subject as this client knows it) the user should act
        // for; only with the representation scope, which only registered clients may ask for
        let acting_for = params
            .get_bounded("acting_for", MAX_ACTING_FOR)?
            .map(str::to_owned);
        if acting_for.is_some() && !scopes.contains(scope::REPRESENTATION) {
            return Err(OAuthError::invalid_request(
                "acting_for needs the representation scope",
            ));
        }
        let legal_representative_required = claims
            .as_ref()
            .is_some_and(ClaimsRequest::legal_representative_required);
        if legal_representative_required && !scopes.contains(scope::REPRESENTATION) {
            return Err(OAuthError::invalid_request(
                "a legal representative can be required only with the representation scope",
            ));
        }
        let claim_names = claims
            .as_ref()
            .map(ClaimsRequest::names)
            .unwrap_or_default();
        let login = LoginRequest {
            client_id: client.party.id.clone(),
            min_level,
            force_login: prompt.contains(&"login") || prompt.contains(&"select_account"),
            max_age,
            passive: prompt.contains(&"none"),
            force_consent: prompt.contains(&"consent"),
            login_hint,
            ui_locales,
            scopes: scopes.iter().map(str::to_owned).collect(),
            claims: claim_names,
            temporary_allowed: client.party.allow_temporary_login,
            acting_for,
            legal_representative_required,
            authenticators: None,
        };
        let flow = OidcFlow {
            client_id: client.party.id.clone(),
            redirect_uri: redirect_uri.to_owned(),
            response_mode: mode,
            state,
            nonce,
            scope: scopes.to_scope_string(),
            code_challenge,
            claims,
            id_token_hint_sub: None,
        };
        Ok(AuthorizationRequest {
            client: client.clone(),
            flow,
            login,
        })
    }

    fn id_token_hint(&self, hint: &str, client: &Client) -> Result<IdTokenHint, OAuthError> {
        let h = self.verify_id_token_hint(hint).map_err(|_| {
            OAuthError::invalid_request("id_token_hint is not an ID token konto issued")
        })?;
        if !h.aud.iter().any(|a| a == &client.party.id) {
            return Err(OAuthError::invalid_request(
                "id_token_hint was issued to another client",
            ));
        }
        Ok(h)
    }
}
