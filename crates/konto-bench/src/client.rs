//! A minimal HTTP/1.1 client over one kept-alive connection, and the browser steps of a code flow.

use std::net::SocketAddr;

use anyhow::{Context, Result, anyhow, bail};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::SendRequest;
use hyper::{Method, Request};
use hyper_util::rt::TokioIo;
use sha2::{Digest, Sha256};

use crate::server::Konto;

pub(crate) struct Response {
    pub(crate) status: u16,
    pub(crate) location: Option<String>,
    pub(crate) cookies: Vec<String>,
    pub(crate) body: String,
}

pub(crate) struct Conn {
    addr: SocketAddr,
    sender: SendRequest<Full<Bytes>>,
}

impl Conn {
    pub(crate) async fn connect(addr: SocketAddr) -> Result<Conn> {
        let stream = tokio::net::TcpStream::connect(addr).await?;
        stream.set_nodelay(true)?;
        let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
        tokio::spawn(async move {
            let _ = conn.await;
        });
        Ok(Conn { addr, sender })
    }

    pub(crate) async fn request(
        &mut self,
        method: Method,
        path: &str,
        headers: &[(&str, &str)],
        body: Option<String>,
    ) -> Result<Response> {
        if self.sender.is_closed() {
            *self = Conn::connect(self.addr).await?;
        }
        self.sender.ready().await?;
        let mut req = Request::builder()
            .method(method)
            .uri(path)
            .header("host", self.addr.to_string());
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        let req = req.body(Full::new(Bytes::from(body.unwrap_or_default())))?;
        let resp = self.sender.send_request(req).await?;
        let status = resp.status().as_u16();
        let location = resp
            .headers()
            .get("location")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let cookies = resp
            .headers()
            .get_all("set-cookie")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .filter_map(|v| v.split(';').next())
            .map(str::to_owned)
            .collect();
        let body = resp.into_body().collect().await?.to_bytes();
        Ok(Response {
            status,
            location,
            cookies,
            body: String::from_utf8_lossy(&body).into_owned(),
        })
    }

    /// A token request; the body of a 200 answer.
    pub(crate) async fn token(&mut self, basic: &str, form: &str) -> Result<String> {
        let r = self
            .request(
                Method::POST,
                "/token",
                &[
                    ("authorization", basic),
                    ("content-type", "application/x-www-form-urlencoded"),
                ],
                Some(form.to_owned()),
            )
            .await?;
        if r.status != 200 {
            bail!("token endpoint answered {}: {}", r.status, r.body);
        }
        Ok(r.body)
    }
}

pub(crate) fn json_field(body: &str, name: &str) -> Option<String> {
    let v: serde_json::Value = serde_json::from_str(body).ok()?;
    v.get(name)?.as_str().map(str::to_owned)
}

pub(crate) fn hidden(html: &str, name: &str) -> Option<String> {
    let needle = format!("name=\"{name}\" value=\"");
    let at = html.find(&needle)? + needle.len();
    html[at..].split('"').next().map(str::to_owned)
}

const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";

/// Whom the browser signs in for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Acting {
    /// Themselves; the client does not ask for the `representation` scope.
    Myself,
    /// Company A through the mandate chain: the client asks for `representation`, and the
    /// browser picks the chain on the acting page.
    Chain,
    /// Themselves, with the `postbox` scope: the token reads their inbox, and the client is
    /// given their postbox handle.
    Reader,
}

/// One complete code flow as a new browser: authorize, login page, password, (the acting page
/// and its choice,) code, token. Returns the code's access token and refresh token.
pub(crate) async fn code_flow_as(
    c: &mut Conn,
    k: &Konto,
    acting: Acting,
) -> Result<(String, String)> {
    let challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(VERIFIER.as_bytes()));
    let redirect: String = url::form_urlencoded::byte_serialize(k.redirect.as_bytes()).collect();
    let scope = match acting {
        Acting::Myself => "openid%20offline_access",
        Acting::Chain => "openid%20offline_access%20representation",
        Acting::Reader => "openid%20offline_access%20postbox",
    };
    let authorize = format!(
        "/authorize?client_id={}&redirect_uri={redirect}&response_type=code&scope={scope}&code_challenge={challenge}&code_challenge_method=S256&state=b",
        k.client_id
    );
    // the authorization endpoint shows the login page itself (or redirects to it)
    let mut r = c.request(Method::GET, &authorize, &[], None).await?;
    let mut jar = r.cookies.join("; ");
    if let Some(login) = r.location.clone() {
        r = c
            .request(Method::GET, &login, &[("cookie", &jar)], None)
            .await?;
    }
    let flow = hidden(&r.body, "flow")
        .ok_or_else(|| anyhow!("no login page ({}): {}", r.status, r.body))?;
    let csrf = hidden(&r.body, "csrf").context("csrf field")?;
    let form = format!(
        "flow={flow}&csrf={csrf}&username={}&password={}",
        k.user,
        k.password_form()
    );
    let r = c
        .request(
            Method::POST,
            "/login/password",
            &[
                ("cookie", &jar),
                ("content-type", "application/x-www-form-urlencoded"),
            ],
            Some(form),
        )
        .await?;
    if r.status != 303 {
        bail!("login answered {}", r.status);
    }
    for cookie in &r.cookies {
        jar.push_str("; ");
        jar.push_str(cookie);
    }
    // first-party client without consent: the password answer leads straight back to the client
    // (or, for someone who may act for others, to the acting page)
    let mut callback = r.location.context("no redirect after the password")?;
    if acting == Acting::Chain {
        if !callback.starts_with("/login") {
            bail!("no acting page after the password: {callback}");
        }
        let page = c
            .request(Method::GET, &callback, &[("cookie", &jar)], None)
            .await?;
        let key = k.chain.option_key();
        if !page.body.contains(&format!("value=\"{key}\"")) {
            bail!("the acting page ({}) offers no chain {key}", page.status);
        }
        let flow = hidden(&page.body, "flow").context("flow field on the acting page")?;
        let csrf = hidden(&page.body, "csrf").context("csrf field on the acting page")?;
        let key: String = url::form_urlencoded::byte_serialize(key.as_bytes()).collect();
        let r = c
            .request(
                Method::POST,
                "/login/acting",
                &[
                    ("cookie", &jar),
                    ("content-type", "application/x-www-form-urlencoded"),
                ],
                Some(format!("flow={flow}&csrf={csrf}&acting={key}")),
            )
            .await?;
        callback = r
            .location
            .ok_or_else(|| anyhow!("no code after the choice ({}): {}", r.status, r.body))?;
    }
    if callback.starts_with("/login") {
        let r = c
            .request(Method::GET, &callback, &[("cookie", &jar)], None)
            .await?;
        callback = r
            .location
            .ok_or_else(|| anyhow!("no code ({}): {}", r.status, r.body))?;
    }
    let code = url::Url::parse(&callback)?
        .query_pairs()
        .find(|(k, _)| k == "code")
        .map(|(_, v)| v.into_owned())
        .context("code")?;
    let body = c
        .token(
            &k.basic_auth(),
            &format!("grant_type=authorization_code&code={code}&redirect_uri={redirect}&code_verifier={VERIFIER}"),
        )
        .await?;
    Ok((
        json_field(&body, "access_token").context("access token")?,
        json_field(&body, "refresh_token").context("refresh token")?,
    ))
}

/// The claims of a JWT (unverified: the bench only checks what konto issued).
pub(crate) fn jwt_claims(jwt: &str) -> Option<serde_json::Value> {
    let payload = jwt.split('.').nth(1)?;
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).ok()?).ok()
}
