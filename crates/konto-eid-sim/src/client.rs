//! The eID client (plays the AusweisApp, BSI TR-03124-1) for the browser.
//!
//! Policy: like the AusweisApp, the client fetches the TCToken itself (HTTP GET, at most five
//! redirects), accepts https, and plain http only on loopback; it binds to the eID-Server session
//! only when the TCToken's SessionIdentifier, PSK, ServerAddress, Binding and PathSecurity match
//! what the eID-Server handed out, and a session can be bound once. The browser then goes to the
//! RefreshAddress with `ResultMajor`/`ResultMinor` as TR-03124-1 §2.5.4 writes them (`ok`,
//! `error` + `cancellationByUser` / `serverError` / `trustedChannelEstablishmentFailed`), or to
//! the CommunicationErrorAddress with `communicationError` when the TCToken is unusable.

use std::sync::Arc;
use std::time::Duration;

use askama::Template;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, RawQuery, State};
use axum::http::{StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use url::Url;

use crate::identities::{CHOICES, Choice};
use crate::state::BindError;
use crate::tctoken::{TcToken, allowed, parse_tc_token, with_result};
use crate::{Shared, SimConfig, SimError, tls};

const MAX_TOKEN: usize = 64 * 1024;

#[derive(Clone)]
struct ClientState {
    shared: Arc<Shared>,
    fetcher: reqwest::Client,
}

pub(crate) fn router(shared: Arc<Shared>, fetcher: reqwest::Client) -> Router {
    Router::new()
        .route("/eID-Client", get(show_choices).post(choose))
        .layer(DefaultBodyLimit::max(16 * 1024))
        .with_state(ClientState { shared, fetcher })
}

/// The HTTP client that fetches TCTokens: the configured roots, no client certificate.
pub(crate) fn tc_token_client(config: &SimConfig) -> Result<reqwest::Client, SimError> {
    let roots = tls::roots(
        config
            .tc_token_ca_pem
            .as_deref()
            .unwrap_or(&config.client_ca_pem),
    )?;
    let tls = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .map_err(|e| SimError::Tls(e.to_string()))?
    .with_root_certificates(roots)
    .with_no_client_auth();
    let redirects = reqwest::redirect::Policy::custom(|attempt| {
        if attempt.previous().len() >= 5 {
            attempt.error("too many redirects")
        } else if allowed(attempt.url()) {
            attempt.follow()
        } else {
            attempt.error("redirect to a address the eID client does not accept")
        }
    });
    reqwest::Client::builder()
        .use_preconfigured_tls(tls)
        .redirect(redirects)
        .timeout(Duration::from_secs(10))
        .build()
        .map_err(|e| SimError::Http(e.to_string()))
}

struct ChoiceView {
    key: &'static str,
    de: &'static str,
    en: &'static str,
}

#[derive(Template)]
#[template(path = "pick.html")]
struct PickPage<'a> {
    tc_token_url: &'a str,
    identities: Vec<ChoiceView>,
    failures: Vec<ChoiceView>,
}

#[derive(Template)]
#[template(path = "message.html")]
struct MessagePage<'a> {
    title_de: &'a str,
    title_en: &'a str,
    detail: &'a str,
}

fn page(status: StatusCode, html: Result<String, askama::Error>) -> Response {
    let csp = (
        header::CONTENT_SECURITY_POLICY,
        "default-src 'none'; style-src 'unsafe-inline'",
    );
    match html {
        Ok(html) => (status, [csp], Html(html)).into_response(),
        Err(_) => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
    }
}

fn message(status: StatusCode, title_de: &str, title_en: &str, detail: &str) -> Response {
    page(
        status,
        MessagePage {
            title_de,
            title_en,
            detail,
        }
        .render(),
    )
}

fn param(query: &str, name: &str) -> Option<String> {
    url::form_urlencoded::parse(query.as_bytes())
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

async fn show_choices(RawQuery(query): RawQuery) -> Response {
    let Some(tc_token_url) = query.as_deref().and_then(|q| param(q, "tcTokenURL")) else {
        return message(
            StatusCode::BAD_REQUEST,
            "tcTokenURL fehlt",
            "tcTokenURL missing",
            "Der Aufruf enthält keine tcTokenURL.",
        );
    };
    let view = |c: Choice| {
        let (de, en) = c.label();
        ChoiceView {
            key: c.key(),
            de,
            en,
        }
    };
    let (identities, failures): (Vec<Choice>, Vec<Choice>) = CHOICES
        .iter()
        .partition(|c| matches!(c, Choice::Identity(_)));
    page(
        StatusCode::OK,
        PickPage {
            tc_token_url: &tc_token_url,
            identities: identities.into_iter().map(view).collect(),
            failures: failures.into_iter().map(view).collect(),
        }
        .render(),
    )
}

async fn choose(State(state): State<ClientState>, body: Bytes) -> Response {
    let form = String::from_utf8_lossy(&body);
    let (Some(tc_url), Some(choice)) = (param(&form, "tcTokenURL"), param(&form, "choice")) else {
        return message(
            StatusCode::BAD_REQUEST,
            "Angaben fehlen",
            "form incomplete",
            "tcTokenURL und choice sind nötig.",
        );
    };
    let Some(choice) = Choice::from_key(&choice) else {
        return message(
            StatusCode::BAD_REQUEST,
            "Unbekannte Auswahl",
            "unknown choice",
            "Diese Auswahl gibt es nicht.",
        );
    };
    let Some(tc_url) = Url::parse(&tc_url).ok().filter(allowed) else {
        return message(
            StatusCode::BAD_REQUEST,
            "tcTokenURL abgelehnt",
            "tcTokenURL refused",
            "Erlaubt sind https und http nur zu diesem Rechner.",
        );
    };
    let body = match fetch(&state.fetcher, tc_url).await {
        Ok(body) => body,
        Err(reason) => {
            tracing::info!(%reason, "eid simulator could not fetch the tctoken");
            return message(
                StatusCode::BAD_GATEWAY,
                "TCToken nicht abrufbar",
                "cannot fetch the TCToken",
                &reason,
            );
        }
    };
    let token = match parse_tc_token(&body) {
        Ok(token) => token,
        Err((reason, Some(error_address))) => {
            tracing::info!(%reason, "eid simulator: unusable tctoken");
            return see_other(with_result(
                error_address,
                "error",
                Some("communicationError"),
            ));
        }
        Err((reason, None)) => {
            return message(
                StatusCode::BAD_GATEWAY,
                "TCToken unbrauchbar",
                "unusable TCToken",
                &reason,
            );
        }
    };
    let refresh = token.refresh_address.clone();
    if let Err(reason) = bind(&state.shared, &token, choice) {
        tracing::info!(%reason, "eid simulator: no trusted channel");
        return see_other(with_result(
            refresh,
            "error",
            Some("trustedChannelEstablishmentFailed"),
        ));
    }
    let url = match choice {
        Choice::Identity(_) | Choice::Timeout => with_result(refresh, "ok", None),
        Choice::Cancel => with_result(refresh, "error", Some("cancellationByUser")),
        Choice::Expired | Choice::Revoked | Choice::ServerError => {
            with_result(refresh, "error", Some("serverError"))
        }
    };
    see_other(url)
}

async fn fetch(client: &reqwest::Client, url: Url) -> Result<Vec<u8>, String> {
    let mut response = client.get(url).send().await.map_err(|e| root_cause(&e))?;
    if !response.status().is_success() {
        return Err(format!("the TCToken URL answered {}", response.status()));
    }
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(|e| root_cause(&e))? {
        if body.len() + chunk.len() > MAX_TOKEN {
            return Err("TCToken too large".into());
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// reqwest's own message only names the URL; the innermost cause says what went wrong.
fn root_cause(e: &(dyn std::error::Error + 'static)) -> String {
    let mut cause = e;
    while let Some(inner) = cause.source() {
        cause = inner;
    }
    cause.to_string()
}

/// What the real eID client checks while it builds the TLS-PSK channel to the eID-Server.
fn bind(shared: &Shared, token: &TcToken, choice: Choice) -> Result<(), String> {
    if token.binding != crate::tctoken::BINDING_PAOS {
        return Err(format!("binding {} is not PAOS", token.binding));
    }
    if token.path_security_protocol != crate::tctoken::PATH_SECURITY_PSK {
        return Err("path security is not TLS-PSK".into());
    }
    if token.server_address != shared.ecard_server_address {
        return Err("ServerAddress is not this eID-Server".into());
    }
    let mut sessions = shared
        .sessions
        .lock()
        .map_err(|_| "state lost".to_owned())?;
    sessions
        .bind(&token.session_identifier, &token.psk, choice)
        .map_err(|e| match e {
            BindError::UnknownSession => "unknown SessionIdentifier".to_owned(),
            BindError::WrongKey => "PSK does not match the session".to_owned(),
            BindError::AlreadyUsed => "session already used".to_owned(),
        })
}

fn see_other(url: Url) -> Response {
    (StatusCode::SEE_OTHER, [(header::LOCATION, url.to_string())]).into_response()
}
