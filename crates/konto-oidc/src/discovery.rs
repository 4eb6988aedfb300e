//! OpenID Connect Discovery 1.0 §3: what konto supports, truthfully.

use konto_core::client::{SigningAlg, TokenEndpointAuthMethod};
use konto_core::level::AcrCodec;
use konto_core::scope;
use serde_json::{Value, json};

use crate::provider::OidcConfig;

pub(crate) fn document(config: &OidcConfig, acr: &AcrCodec) -> Value {
    let algs: Vec<&str> = SigningAlg::ALL.iter().map(|a| a.as_str()).collect();
    let auth_methods: Vec<&str> = TokenEndpointAuthMethod::ALL
        .iter()
        .map(|m| m.as_str())
        .collect();
    let confidential_methods: Vec<&str> = TokenEndpointAuthMethod::ALL
        .iter()
        .filter(|m| **m != TokenEndpointAuthMethod::None)
        .map(|m| m.as_str())
        .collect();
    json!({
        "issuer": config.issuer,
        "authorization_endpoint": config.endpoint("/authorize"),
        "token_endpoint": config.endpoint("/token"),
        "userinfo_endpoint": config.endpoint("/userinfo"),
        "jwks_uri": config.endpoint("/jwks"),
        "end_session_endpoint": config.endpoint("/logout"),
        "revocation_endpoint": config.endpoint("/revoke"),
        "introspection_endpoint": config.endpoint("/introspect"),
        "scopes_supported": scope::SUPPORTED,
        "response_types_supported": ["code"],
        "response_modes_supported": ["query", "form_post"],
        "grant_types_supported": ["authorization_code", "refresh_token", "client_credentials"],
        "subject_types_supported": ["pairwise", "public"],
        "id_token_signing_alg_values_supported": algs,
        "token_endpoint_auth_methods_supported": auth_methods,
        "token_endpoint_auth_signing_alg_values_supported": ["RS256", "PS256", "ES256", "EdDSA"],
        "revocation_endpoint_auth_methods_supported": confidential_methods.iter().chain(["none"].iter()).collect::<Vec<_>>(),
        "introspection_endpoint_auth_methods_supported": confidential_methods,
        "code_challenge_methods_supported": ["S256"],
        "claims_supported": scope::supported_claims(),
        "claims_parameter_supported": true,
        "request_parameter_supported": false,
        "request_uri_parameter_supported": false,
        "acr_values_supported": acr.supported_values(),
        "prompt_values_supported": ["none", "login", "consent", "select_account"],
        "ui_locales_supported": ["de", "en"],
        "claim_types_supported": ["normal"],
        "authorization_response_iss_parameter_supported": true,
        "frontchannel_logout_supported": false,
        "backchannel_logout_supported": false,
    })
}
