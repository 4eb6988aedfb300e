//! A demo online service ("relying party") for konto, built with the `openidconnect` crate the
//! way a real service would be. Start konto with `cargo run -p konto -- dev`, then this with
//! `cargo run -p demo-rp`, and open <http://localhost:8081/>.
//!
//! It signs in at the level you pick (basic, substantial, high: `acr_values` with eIDAS URIs),
//! checks the response's `iss` (RFC 9207), redeems the code with PKCE, verifies the ID token and
//! shows its claims and the userinfo answer. Settings come from `DEMO_ISSUER`, `DEMO_CLIENT_ID`,
//! `DEMO_CLIENT_SECRET`, `DEMO_LISTEN` and `DEMO_REDIRECT_URI`.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use anyhow::Context;
use axum::Router;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::get;
use openidconnect::core::{
    CoreAuthenticationFlow, CoreClient, CoreJwsSigningAlgorithm, CoreProviderMetadata,
    CoreUserInfoClaims,
};
use openidconnect::{
    AuthenticationContextClass, AuthorizationCode, ClientId, ClientSecret, CsrfToken,
    EndpointMaybeSet, EndpointNotSet, EndpointSet, IssuerUrl, Nonce, PkceCodeChallenge,
    PkceCodeVerifier, RedirectUrl, Scope, TokenResponse,
};

type Client = CoreClient<
    EndpointSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointMaybeSet,
    EndpointMaybeSet,
>;

struct Pending {
    nonce: Nonce,
    verifier: PkceCodeVerifier,
}

struct SignedIn {
    id_token: String,
    claims: serde_json::Value,
    userinfo: serde_json::Value,
}

struct Demo {
    client: Client,
    http: openidconnect::reqwest::Client,
    issuer: String,
    end_session: Option<String>,
    home: String,
    pending: Mutex<HashMap<String, Pending>>,
    sessions: Mutex<HashMap<String, SignedIn>>,
}

fn env(name: &str, default: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| default.to_owned())
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let issuer = env("DEMO_ISSUER", "http://localhost:8080");
    let client_id = env("DEMO_CLIENT_ID", "demo-rp");
    let secret = env("DEMO_CLIENT_SECRET", "demo-rp-secret");
    let listen: SocketAddr = env("DEMO_LISTEN", "127.0.0.1:8081")
        .parse()
        .context("DEMO_LISTEN")?;
    let redirect = env("DEMO_REDIRECT_URI", "http://localhost:8081/callback");
    let http = openidconnect::reqwest::ClientBuilder::new()
        .redirect(openidconnect::reqwest::redirect::Policy::none())
        .build()?;
    let metadata = CoreProviderMetadata::discover_async(IssuerUrl::new(issuer.clone())?, &http)
        .await
        .with_context(|| {
            format!("discovery at {issuer} (is konto running? cargo run -p konto -- dev)")
        })?;
    let raw: serde_json::Value = serde_json::from_slice(
        &http
            .get(format!("{issuer}/.well-known/openid-configuration"))
            .send()
            .await?
            .bytes()
            .await?,
    )?;
    let client = CoreClient::from_provider_metadata(
        metadata,
        ClientId::new(client_id),
        Some(ClientSecret::new(secret)),
    )
    .set_redirect_uri(RedirectUrl::new(redirect.clone())?);
    let home_url = redirect.trim_end_matches("/callback").to_owned() + "/";
    let demo = Arc::new(Demo {
        client,
        http,
        issuer,
        end_session: raw["end_session_endpoint"].as_str().map(str::to_owned),
        home: home_url,
        pending: Mutex::new(HashMap::new()),
        sessions: Mutex::new(HashMap::new()),
    });
    let app = Router::new()
        .route("/", get(home))
        .route("/login", get(login))
        .route("/callback", get(callback))
        .route("/logout", get(logout))
        .with_state(demo);
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .with_context(|| format!("binding {listen}"))?;
    println!(
        "demo relying party on http://localhost:{}/ (konto at {})",
        listen.port(),
        env("DEMO_ISSUER", "http://localhost:8080")
    );
    axum::serve(listener, app).await?;
    Ok(())
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn page(body: &str) -> Html<String> {
    Html(format!(
        "<!DOCTYPE html><html lang=\"de\"><head><meta charset=\"utf-8\"><title>Demo-Dienst</title>\
         <style>body{{font-family:system-ui,sans-serif;max-width:48rem;margin:2rem auto;padding:0 1rem}}\
         pre{{background:#f3f5f8;padding:1rem;overflow:auto}}a.b{{display:inline-block;margin:.3rem;padding:.5rem 1rem;\
         background:#1d4f91;color:#fff;text-decoration:none;border-radius:3px}}</style></head><body>\
         <h1>Demo-Dienst</h1><p>A sample online service that signs in with konto.</p>{body}</body></html>"
    ))
}

fn session_id(headers: &HeaderMap) -> Option<String> {
    headers
        .get(header::COOKIE)?
        .to_str()
        .ok()?
        .split(';')
        .filter_map(|p| p.trim().split_once('='))
        .find(|(k, _)| *k == "demo-rp")
        .map(|(_, v)| v.to_owned())
}

async fn home(State(demo): State<Arc<Demo>>, headers: HeaderMap) -> Html<String> {
    let buttons = "<p><a class=\"b\" href=\"/login?level=basic\">Anmelden (basic)</a>\
        <a class=\"b\" href=\"/login?level=substantial\">Anmelden (substanziell: ELSTER oder Ausweis)</a>\
        <a class=\"b\" href=\"/login?level=high\">Anmelden (hoch: Online-Ausweis)</a></p>";
    let sessions = demo.sessions.lock().unwrap_or_else(|p| p.into_inner());
    match session_id(&headers).and_then(|id| sessions.get(&id)) {
        Some(s) => page(&format!(
            "{buttons}<p><a href=\"/logout\">Abmelden (bei konto)</a></p><h2>ID token claims</h2><pre>{}</pre>\
             <h2>userinfo</h2><pre>{}</pre>",
            escape(&serde_json::to_string_pretty(&s.claims).unwrap_or_default()),
            escape(&serde_json::to_string_pretty(&s.userinfo).unwrap_or_default()),
        )),
        None => page(&format!("{buttons}<p>Not signed in.</p>")),
    }
}

async fn login(
    State(demo): State<Arc<Demo>>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let acr = match q.get("level").map(String::as_str) {
        Some("substantial") => Some("http://eidas.europa.eu/LoA/substantial"),
        Some("high") => Some("http://eidas.europa.eu/LoA/high"),
        _ => None,
    };
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let mut req = demo
        .client
        .authorize_url(
            CoreAuthenticationFlow::AuthorizationCode,
            CsrfToken::new_random,
            Nonce::new_random,
        )
        .set_pkce_challenge(challenge);
    for scope in ["profile", "email", "address"] {
        req = req.add_scope(Scope::new(scope.into()));
    }
    if let Some(a) = acr {
        req = req.add_auth_context_value(AuthenticationContextClass::new(a.into()));
    }
    let (url, state, nonce) = req.url();
    demo.pending
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .insert(state.secret().clone(), Pending { nonce, verifier });
    Redirect::to(url.as_str()).into_response()
}

async fn callback(
    State(demo): State<Arc<Demo>>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    match finish(&demo, &q).await {
        Ok(id) => {
            let mut r = Redirect::to("/").into_response();
            if let Ok(v) = format!("demo-rp={id}; Path=/; HttpOnly; SameSite=Lax").parse() {
                r.headers_mut().insert(header::SET_COOKIE, v);
            }
            r
        }
        Err(e) => page(&format!(
            "<p>Sign-in failed: {}</p><p><a href=\"/\">back</a></p>",
            escape(&format!("{e:#}"))
        ))
        .into_response(),
    }
}

async fn finish(demo: &Demo, q: &HashMap<String, String>) -> anyhow::Result<String> {
    if let Some(e) = q.get("error") {
        anyhow::bail!(
            "{e}: {}",
            q.get("error_description").map(String::as_str).unwrap_or("")
        );
    }
    // RFC 9207: the answer must come from the issuer we asked
    anyhow::ensure!(
        q.get("iss") == Some(&demo.issuer),
        "the response names another issuer"
    );
    let state = q.get("state").context("no state")?;
    let pending = demo
        .pending
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .remove(state)
        .context("unknown state")?;
    let code = q.get("code").context("no code")?;
    let tokens = demo
        .client
        .exchange_code(AuthorizationCode::new(code.clone()))?
        .set_pkce_verifier(pending.verifier)
        .request_async(&demo.http)
        .await
        .context("token request")?;
    let id_token = tokens.id_token().context("no ID token")?;
    let verifier = demo.client.id_token_verifier().set_allowed_algs(vec![
        CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha256,
        CoreJwsSigningAlgorithm::EcdsaP256Sha256,
        CoreJwsSigningAlgorithm::EdDsa,
    ]);
    let claims = id_token
        .claims(&verifier, &pending.nonce)
        .context("ID token verification")?;
    let userinfo: CoreUserInfoClaims = demo
        .client
        .user_info(
            openidconnect::OAuth2TokenResponse::access_token(&tokens).clone(),
            None,
        )?
        .request_async(&demo.http)
        .await
        .context("userinfo")?;
    let id = CsrfToken::new_random().secret().clone();
    demo.sessions
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .insert(
            id.clone(),
            SignedIn {
                id_token: id_token.to_string(),
                claims: serde_json::to_value(claims)?,
                userinfo: serde_json::to_value(userinfo)?,
            },
        );
    Ok(id)
}

async fn logout(State(demo): State<Arc<Demo>>, headers: HeaderMap) -> Response {
    let session = session_id(&headers).and_then(|id| {
        demo.sessions
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&id)
    });
    match (&demo.end_session, session) {
        (Some(end), Some(s)) => {
            let mut url = match url::Url::parse(end) {
                Ok(u) => u,
                Err(_) => return Redirect::to("/").into_response(),
            };
            url.query_pairs_mut()
                .append_pair("id_token_hint", &s.id_token)
                .append_pair("post_logout_redirect_uri", &demo.home);
            Redirect::to(url.as_str()).into_response()
        }
        _ => Redirect::to("/").into_response(),
    }
}
