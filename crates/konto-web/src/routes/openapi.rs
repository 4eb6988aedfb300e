//! The OpenAPI 3.1 document of konto's JSON APIs (`GET /openapi.json`), generated from the
//! handlers' `#[utoipa::path]` annotations and the engine's wire types, so that it changes with
//! the code.
//!
//! The responses konto builds as typed structs ([`TokenResponse`], [`IntrospectionResponse`],
//! [`MandateCheckResponse`], [`ErrorResponse`]) are described by their own derive. Form bodies
//! are described by the schema-only types below: the engine reads parameters by name
//! (`konto_oidc::Params`), each once. Userinfo, the discovery document and the JWKS are open
//! objects: their known members are listed and any other member is allowed.
//!
//! Pages, login steps and the browser's forms are not part of the document: they are HTML for
//! people, not an API.

use std::sync::Arc;

use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use konto_oidc::{
    ErrorResponse, IntrospectionResponse, MandateCheckResponse, PartyRef, TokenResponse,
};
use utoipa::openapi::schema::{AdditionalProperties, ObjectBuilder, Schema};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{RefOr, Server};
use utoipa::{Modify, OpenApi, ToSchema};

use crate::app::App;

/// Names of the security schemes (OpenAPI `components.securitySchemes`).
const CLIENT_SECRET_BASIC: &str = "client_secret_basic";
const ACCESS_TOKEN: &str = "access_token";

#[derive(OpenApi)]
#[openapi(
    info(
        title = "konto",
        description = "The JSON APIs of konto, an OpenID Provider for public services: the \
            OAuth 2.0 and OpenID Connect endpoints, konto's mandate check, and health. Clients \
            authenticate as registered (client_secret_basic, client_secret_post, \
            private_key_jwt, or none for public clients); credentials sent in the form body \
            are described there.",
        license(name = "EUPL-1.2", identifier = "EUPL-1.2")
    ),
    paths(
        super::oidc::discovery,
        super::oidc::jwks,
        super::oidc::token,
        super::oidc::introspect,
        super::oidc::revoke,
        super::oidc::userinfo,
        super::oidc::check_mandate,
        super::postbox::send,
        super::postbox::status,
        super::postbox::record_state,
        super::postbox::user_inbox,
        super::postbox::user_message,
        super::postbox::user_attachment,
        super::bundid_postbox::put_message,
        super::bundid_postbox::post_state,
        super::misc::healthz,
        super::misc::readyz,
        openapi_json,
    ),
    components(schemas(
        TokenRequest,
        IntrospectionRequest,
        RevocationRequest,
        MandateCheckRequest,
        super::postbox::SendRequest,
        super::postbox::SendReceipt,
        super::postbox::PostboxError,
        super::postbox::MessageStatusResponse,
        super::postbox::StateRequest,
        super::postbox::StateReceipt,
        super::postbox::InboxMessage,
        super::postbox::InboxAttachment,
        UserinfoRequest,
        ClientAuthentication,
        TokenResponse,
        IntrospectionResponse,
        MandateCheckResponse,
        PartyRef,
        ErrorResponse,
        UserinfoResponse,
        DiscoveryDocument,
        JwkSet,
    )),
    modifiers(&Components),
    tags(
        (name = "oauth", description = "OAuth 2.0 and OpenID Connect endpoints for clients"),
        (name = "konto", description = "konto's own APIs for relying parties"),
        (name = "postbox", description = "The postbox: services deliver and report, people read"),
        (name = "operations", description = "Health and the API description"),
    )
)]
pub(crate) struct ApiDoc;

/// Security schemes, and the open objects whose further members are allowed.
struct Components;

/// Schemas that describe open-ended JSON objects: members beyond the listed ones are allowed.
const OPEN_OBJECTS: [&str; 3] = ["UserinfoResponse", "DiscoveryDocument", "JwkSet"];

impl Modify for Components {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            CLIENT_SECRET_BASIC,
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Basic)
                    .description(Some(
                        "client_secret_basic (RFC 6749 §2.3.1): client id and secret, each \
                         form-urlencoded, as HTTP Basic credentials",
                    ))
                    .build(),
            ),
        );
        components.add_security_scheme(
            ACCESS_TOKEN,
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .description(Some(
                        "An access token from /token (RFC 6750; an RFC 9068 JWT)",
                    ))
                    .build(),
            ),
        );
        for name in OPEN_OBJECTS {
            if let Some(RefOr::T(Schema::Object(o))) = components.schemas.get_mut(name) {
                o.additional_properties = Some(Box::new(AdditionalProperties::FreeForm(true)));
            }
        }
        // the person claims userinfo may release, each with the scope that releases it
        if let Some(RefOr::T(Schema::Object(o))) = components.schemas.get_mut("UserinfoResponse") {
            for scope in konto_core::scope::SUPPORTED {
                for claim in konto_core::scope::claims_for_scope(scope) {
                    o.properties.entry((*claim).to_owned()).or_insert_with(|| {
                        ObjectBuilder::new()
                            .description(Some(format!(
                                "Released with the `{scope}` scope when konto knows it"
                            )))
                            .into()
                    });
                }
            }
        }
    }
}

/// The document for the konto at `issuer`: every path is relative to it.
pub(crate) fn document(issuer: &str) -> utoipa::openapi::OpenApi {
    let mut doc = ApiDoc::openapi();
    doc.info.version = env!("CARGO_PKG_VERSION").to_owned();
    doc.servers = Some(vec![Server::new(issuer)]);
    doc
}

/// This document
///
/// The OpenAPI 3.1 description of konto's JSON APIs, its server the issuer.
#[utoipa::path(
    get,
    path = "/openapi.json",
    tag = "operations",
    responses(
        (status = 200, description = "This document", content_type = "application/json",
         body = Object),
    )
)]
pub(crate) async fn openapi_json(State(app): State<Arc<App>>) -> Response {
    match serde_json::to_string(&document(app.issuer.as_str().trim_end_matches('/'))) {
        Ok(body) => {
            let mut r = (
                StatusCode::OK,
                [(header::CONTENT_TYPE, "application/json")],
                body,
            )
                .into_response();
            // like discovery: it changes only with a new version of konto
            r.headers_mut().insert(
                header::CACHE_CONTROL,
                HeaderValue::from_static("public, max-age=3600"),
            );
            r
        }
        Err(e) => {
            tracing::error!(error = %e, "the OpenAPI document does not serialise");
            StatusCode::INTERNAL_SERVER_ERROR.into_response()
        }
    }
}

/// How a client authenticates in the form body (fields absent unless the method needs them;
/// form fields are never null). A client uses exactly one method, the one it
/// registered: `client_secret_basic` (the Authorization header, see the security scheme),
/// `client_secret_post` (`client_id` and `client_secret`), `private_key_jwt` (RFC 7523:
/// `client_assertion_type` and `client_assertion`), or, for public clients where the endpoint
/// allows it, `none` (`client_id` alone).
#[derive(ToSchema)]
#[expect(
    dead_code,
    reason = "describes a form body for the OpenAPI document; never built"
)]
pub(crate) struct ClientAuthentication {
    /// Required with client_secret_post and none; with Basic it must match if sent.
    #[serde(default)]
    client_id: String,
    /// client_secret_post.
    #[serde(default)]
    client_secret: String,
    /// private_key_jwt: `urn:ietf:params:oauth:client-assertion-type:jwt-bearer`.
    #[serde(default)]
    client_assertion_type: String,
    /// private_key_jwt: a JWT signed with a key of the client's registered JWKS, audience
    /// konto's issuer or token endpoint, short-lived, each `jti` once.
    #[serde(default)]
    client_assertion: String,
}

/// The grant types konto's token endpoint accepts.
#[derive(ToSchema)]
#[serde(rename_all = "snake_case")]
#[expect(
    dead_code,
    reason = "describes a form value for the OpenAPI document; never built"
)]
pub(crate) enum GrantType {
    AuthorizationCode,
    RefreshToken,
    ClientCredentials,
}

/// RFC 6749 §4.1.3, §4.4.2, §6 (OIDC Core §3.1.3.1, §12.1), with the client's authentication.
#[derive(ToSchema)]
#[expect(
    dead_code,
    reason = "describes a form body for the OpenAPI document; never built"
)]
pub(crate) struct TokenRequest {
    grant_type: GrantType,
    /// authorization_code: the code from the authorization response.
    #[serde(default)]
    code: String,
    /// authorization_code: exactly the redirect URI of the authorization request.
    #[serde(default)]
    redirect_uri: String,
    /// authorization_code: the PKCE verifier (RFC 7636; the challenge method is S256).
    #[serde(default)]
    code_verifier: String,
    /// refresh_token: the current refresh token of the grant (rotated on every use; presenting
    /// an older one ends the grant).
    #[serde(default)]
    refresh_token: String,
    /// refresh_token: a subset of the granted scopes; client_credentials: scopes registered for
    /// the client (not `openid` or `offline_access`). Space-separated.
    #[serde(default)]
    scope: String,
    #[serde(flatten)]
    authentication: ClientAuthentication,
}

/// RFC 7662 §2.1, by a confidential client about its own tokens.
#[derive(ToSchema)]
#[expect(
    dead_code,
    reason = "describes a form body for the OpenAPI document; never built"
)]
pub(crate) struct IntrospectionRequest {
    /// An access token or a refresh token.
    token: String,
    /// `access_token` or `refresh_token`; konto tells the two apart itself.
    #[serde(default)]
    token_type_hint: String,
    #[serde(flatten)]
    authentication: ClientAuthentication,
}

/// RFC 7009 §2.1. Revoking a refresh token ends its grant; revoking an access token denies it
/// until it expires.
#[derive(ToSchema)]
#[expect(
    dead_code,
    reason = "describes a form body for the OpenAPI document; never built"
)]
pub(crate) struct RevocationRequest {
    token: String,
    /// `access_token` or `refresh_token`; any other value is `unsupported_token_type`.
    #[serde(default)]
    token_type_hint: String,
    #[serde(flatten)]
    authentication: ClientAuthentication,
}

/// konto's mandate check, by a confidential client.
#[derive(ToSchema)]
#[expect(
    dead_code,
    reason = "describes a form body for the OpenAPI document; never built"
)]
pub(crate) struct MandateCheckRequest {
    /// The mandate's id, as the ID token's or introspection's `mandate.id` named it (at most 64
    /// characters).
    mandate: String,
    #[serde(flatten)]
    authentication: ClientAuthentication,
}

/// RFC 6750 §2.2: the access token in a form body instead of the Authorization header (never
/// both).
#[derive(ToSchema)]
#[expect(
    dead_code,
    reason = "describes a form body for the OpenAPI document; never built"
)]
pub(crate) struct UserinfoRequest {
    access_token: String,
}

/// OIDC Core §5.3.2: the claims about the user behind the access token, limited to the claims
/// of the token's scopes (and the `claims` request) within the client's registration. Only
/// claims konto knows are present.
#[derive(ToSchema)]
#[expect(
    dead_code,
    reason = "describes a JSON response for the OpenAPI document; never built"
)]
pub(crate) struct UserinfoResponse {
    /// The user's subject for this client (pairwise per sector unless registered public).
    sub: String,
    /// The level of the login behind the token, in the client's vocabulary.
    #[schema(nullable = false)]
    acr: Option<String>,
    /// konto's extension: the level each released claim is verified at, by claim name.
    #[schema(value_type = Option<Object>, nullable = false)]
    attribute_levels: Option<serde_json::Value>,
    /// With the `representation` scope: the party the user acts for.
    #[schema(value_type = Option<Object>, nullable = false)]
    acting_for: Option<serde_json::Value>,
    /// With the `representation` scope: the mandate chain the representation rests on.
    #[schema(value_type = Option<Object>, nullable = false)]
    mandate: Option<serde_json::Value>,
}

/// OpenID Connect Discovery 1.0 §3: the provider's metadata. The members konto always sends
/// are listed; see the live document for the rest.
#[derive(ToSchema)]
#[expect(
    dead_code,
    reason = "describes a JSON response for the OpenAPI document; never built"
)]
pub(crate) struct DiscoveryDocument {
    issuer: String,
    authorization_endpoint: String,
    token_endpoint: String,
    userinfo_endpoint: String,
    jwks_uri: String,
    end_session_endpoint: String,
    revocation_endpoint: String,
    introspection_endpoint: String,
    scopes_supported: Vec<String>,
    response_types_supported: Vec<String>,
    response_modes_supported: Vec<String>,
    grant_types_supported: Vec<String>,
    subject_types_supported: Vec<String>,
    id_token_signing_alg_values_supported: Vec<String>,
    token_endpoint_auth_methods_supported: Vec<String>,
    code_challenge_methods_supported: Vec<String>,
    acr_values_supported: Vec<String>,
    claims_supported: Vec<String>,
}

/// RFC 7517 §5: konto's public signing keys, the next key included before it is used.
#[derive(ToSchema)]
#[expect(
    dead_code,
    reason = "describes a JSON response for the OpenAPI document; never built"
)]
pub(crate) struct JwkSet {
    /// RFC 7517 §4 JSON Web Keys (`kty`, `kid`, `use`, `alg` and the public key members).
    #[schema(value_type = Vec<Object>)]
    keys: Vec<serde_json::Value>,
}

#[cfg(test)]
mod tests {
    use serde_json::Value;

    use super::document;

    fn doc() -> Value {
        serde_json::to_value(document("https://id.example")).expect("the document serialises")
    }

    /// Every JSON API konto offers, with its methods.
    const OPERATIONS: &[(&str, &[&str])] = &[
        ("/token", &["post"]),
        ("/introspect", &["post"]),
        ("/revoke", &["post"]),
        ("/userinfo", &["get", "post"]),
        ("/mandates/check", &["post"]),
        ("/postbox/v1/messages", &["post"]),
        ("/postbox/v1/messages/{id}", &["get"]),
        ("/postbox/v1/applications/states", &["post"]),
        ("/postbox/v1/inbox", &["get"]),
        ("/postbox/v1/inbox/{id}", &["get"]),
        ("/postbox/v1/inbox/{id}/attachments/{n}", &["get"]),
        ("/v6/mailbox/messages", &["put"]),
        ("/v6/mailbox/applications/states", &["post"]),
        ("/jwks", &["get"]),
        ("/.well-known/openid-configuration", &["get"]),
        ("/healthz", &["get"]),
        ("/readyz", &["get"]),
        ("/openapi.json", &["get"]),
    ];

    const METHODS: [&str; 8] = [
        "get", "put", "post", "delete", "options", "head", "patch", "trace",
    ];

    #[test]
    fn is_openapi_3_1_with_every_json_route_and_its_methods() {
        let text = serde_json::to_string(&document("https://id.example")).expect("serialises");
        let d: Value = serde_json::from_str(&text).expect("the document is JSON");
        assert!(
            d["openapi"].as_str().is_some_and(|v| v.starts_with("3.1.")),
            "{}",
            d["openapi"]
        );
        assert_eq!(d["servers"][0]["url"], "https://id.example");
        let paths = d["paths"].as_object().expect("paths");
        for (path, methods) in OPERATIONS {
            let item = paths
                .get(*path)
                .unwrap_or_else(|| panic!("{path} is missing"));
            let mut listed: Vec<&str> = METHODS
                .into_iter()
                .filter(|m| item.get(*m).is_some())
                .collect();
            listed.sort_unstable();
            let mut expected = methods.to_vec();
            expected.sort_unstable();
            assert_eq!(listed, expected, "{path}");
        }
        assert_eq!(paths.len(), OPERATIONS.len(), "no undocumented extras");
    }

    #[test]
    fn every_reference_resolves() {
        let d = doc();
        let schemas = d["components"]["schemas"].as_object().expect("schemas");
        let mut refs = Vec::new();
        collect_refs(&d, &mut refs);
        assert!(!refs.is_empty());
        for r in refs {
            let name = r
                .strip_prefix("#/components/schemas/")
                .unwrap_or_else(|| panic!("unexpected reference {r}"));
            assert!(schemas.contains_key(name), "{r} does not resolve");
        }
    }

    fn collect_refs(v: &Value, out: &mut Vec<String>) {
        match v {
            Value::Object(m) => {
                for (k, v) in m {
                    match (k.as_str(), v) {
                        ("$ref", Value::String(s)) => out.push(s.clone()),
                        _ => collect_refs(v, out),
                    }
                }
            }
            Value::Array(a) => a.iter().for_each(|v| collect_refs(v, out)),
            _ => {}
        }
    }

    #[test]
    fn back_channel_endpoints_name_their_security_and_errors() {
        let d = doc();
        let schemes = &d["components"]["securitySchemes"];
        assert_eq!(schemes["client_secret_basic"]["scheme"], "basic");
        assert_eq!(schemes["access_token"]["scheme"], "bearer");
        for path in ["/token", "/introspect", "/revoke", "/mandates/check"] {
            let op = &d["paths"][path]["post"];
            assert!(
                op["requestBody"]["content"]["application/x-www-form-urlencoded"].is_object(),
                "{path}: form body"
            );
            assert!(
                op["security"]
                    .as_array()
                    .is_some_and(|s| s.iter().any(|r| r.get("client_secret_basic").is_some())),
                "{path}: Basic"
            );
            assert_eq!(
                op["responses"]["400"]["content"]["application/json"]["schema"]["$ref"],
                "#/components/schemas/ErrorResponse",
                "{path}"
            );
        }
        assert!(
            d["paths"]["/userinfo"]["get"]["security"]
                .as_array()
                .is_some_and(|s| s.iter().any(|r| r.get("access_token").is_some()))
        );
    }

    /// The answers that must stay exactly `{"active": false}` require nothing else.
    #[test]
    fn inactive_answers_require_only_active() {
        let d = doc();
        let schemas = &d["components"]["schemas"];
        for name in ["IntrospectionResponse", "MandateCheckResponse"] {
            assert_eq!(
                schemas[name]["required"],
                serde_json::json!(["active"]),
                "{name}"
            );
        }
        assert_eq!(
            schemas["TokenResponse"]["required"],
            serde_json::json!(["access_token", "token_type", "expires_in"])
        );
        assert_eq!(schemas["UserinfoResponse"]["additionalProperties"], true);
        assert!(
            schemas["UserinfoResponse"]["properties"]
                .get("given_name")
                .is_some()
        );
    }
}
