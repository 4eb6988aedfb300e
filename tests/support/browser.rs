//! A browser-like HTTP client: keeps cookies, does not follow redirects by itself, and reads the
//! hidden fields of konto's forms.

use std::time::Duration;

use reqwest::header::HeaderMap;
use reqwest::{Client, StatusCode};

/// A response, read whole.
#[derive(Debug, Clone)]
pub struct Page {
    pub status: StatusCode,
    pub url: String,
    pub headers: HeaderMap,
    pub body: String,
}

impl Page {
    pub fn location(&self) -> Option<String> {
        self.headers
            .get("location")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    }

    /// The value of the first form field named `name`.
    pub fn hidden(&self, name: &str) -> Option<String> {
        field_value(&self.body, name)
    }

    pub fn has(&self, text: &str) -> bool {
        self.body.contains(text)
    }

    pub fn header(&self, name: &str) -> Option<String> {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    }
}

/// `value="…"` of the first `<input … name="{name}" …>`, unescaped.
pub fn field_value(html: &str, name: &str) -> Option<String> {
    let needle = format!("name=\"{name}\"");
    let mut from = 0;
    while let Some(pos) = html[from..].find(&needle) {
        let at = from + pos;
        let tag_start = html[..at].rfind('<')?;
        let tag_end = at + html[at..].find('>')?;
        let tag = &html[tag_start..tag_end];
        if let Some(v) = tag.find("value=\"") {
            let rest = &tag[v + 7..];
            let end = rest.find('"')?;
            return Some(unescape(&rest[..end]));
        }
        from = at + needle.len();
    }
    None
}

pub fn unescape(s: &str) -> String {
    s.replace("&quot;", "\"")
        .replace("&#x27;", "'")
        .replace("&#39;", "'")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&#x2F;", "/")
        .replace("&amp;", "&")
}

/// Where following konto's redirects ended.
#[derive(Debug, Clone)]
pub enum Outcome {
    /// A konto page.
    Page(Page),
    /// A redirect that leaves konto (to a relying party's redirect URI), or a form that posts
    /// there (response_mode=form_post): the URL and the parameters.
    Callback {
        url: String,
        params: Vec<(String, String)>,
    },
}

impl Outcome {
    pub fn page(self) -> Page {
        match self {
            Outcome::Page(p) => p,
            Outcome::Callback { url, .. } => {
                panic!("expected a konto page, got a redirect to {url}")
            }
        }
    }

    pub fn callback(self) -> (String, Vec<(String, String)>) {
        match self {
            Outcome::Callback { url, params } => (url, params),
            Outcome::Page(p) => panic!(
                "expected a redirect to the client, got a page ({}):\n{}",
                p.status, p.body
            ),
        }
    }

    /// The callback's parameter `name`.
    pub fn param(&self, name: &str) -> Option<String> {
        match self {
            Outcome::Callback { params, .. } => params
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.clone()),
            Outcome::Page(_) => None,
        }
    }
}

pub struct Browser {
    pub http: Client,
    base: String,
    origin: String,
}

impl Browser {
    pub fn new(base: &str) -> Browser {
        Browser::with_client(base, Client::builder())
    }

    pub fn with_client(base: &str, builder: reqwest::ClientBuilder) -> Browser {
        let http = builder
            .cookie_store(true)
            .redirect(reqwest::redirect::Policy::none())
            .timeout(Duration::from_secs(30))
            .danger_accept_invalid_certs(false)
            .build()
            .expect("client");
        let origin = url::Url::parse(base)
            .map(|u| u.origin().ascii_serialization())
            .unwrap_or_default();
        Browser {
            http,
            base: base.to_owned(),
            origin,
        }
    }

    fn absolute(&self, url: &str) -> String {
        if url.starts_with('/') {
            format!("{}{url}", self.base)
        } else {
            url.to_owned()
        }
    }

    async fn read(resp: reqwest::Response) -> Page {
        let status = resp.status();
        let url = resp.url().to_string();
        let headers = resp.headers().clone();
        let body = resp.text().await.unwrap_or_default();
        Page {
            status,
            url,
            headers,
            body,
        }
    }

    pub async fn get(&self, url: &str) -> Page {
        let resp = self.http.get(self.absolute(url)).send().await.expect("GET");
        Self::read(resp).await
    }

    /// The headers a current browser sends with a form post or `fetch` from a konto page
    /// (Fetch §3.1 `Origin`, Fetch Metadata `Sec-Fetch-Site`): every post of this browser is
    /// one of konto's forms (another node of the same issuer is the same origin to a browser).
    fn as_konto_form(&self, request: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
        request
            .header("origin", &self.origin)
            .header("sec-fetch-site", "same-origin")
    }

    pub async fn post(&self, url: &str, form: &[(&str, &str)]) -> Page {
        let resp = self
            .as_konto_form(self.http.post(self.absolute(url)))
            .form(form)
            .send()
            .await
            .expect("POST");
        Self::read(resp).await
    }

    pub async fn post_json(&self, url: &str, body: &serde_json::Value) -> Page {
        let resp = self
            .as_konto_form(self.http.post(self.absolute(url)))
            .json(body)
            .send()
            .await
            .expect("POST");
        Self::read(resp).await
    }

    fn is_konto(&self, url: &str) -> bool {
        url.starts_with('/') || url.starts_with(&self.origin)
    }

    /// Follows konto's redirects from `page` until a konto page or a way out to a client.
    pub async fn follow(&self, mut page: Page) -> Outcome {
        for _ in 0..20 {
            if page.status.is_redirection() {
                let Some(loc) = page.location() else {
                    return Outcome::Page(page);
                };
                if !self.is_konto(&loc) {
                    return Outcome::Callback {
                        params: query_pairs(&loc),
                        url: loc,
                    };
                }
                page = self.get(&loc).await;
                continue;
            }
            if page.body.contains("data-autosubmit") {
                let action = field_attr(&page.body, "action").unwrap_or_default();
                return Outcome::Callback {
                    url: action,
                    params: form_fields(&page.body),
                };
            }
            return Outcome::Page(page);
        }
        panic!("too many redirects")
    }

    /// GETs `url` and follows redirects.
    pub async fn visit(&self, url: &str) -> Outcome {
        let page = self.get(url).await;
        self.follow(page).await
    }

    /// Submits the password form of a login page.
    pub async fn password(&self, page: &Page, username: &str, password: &str) -> Outcome {
        let flow = page.hidden("flow").expect("flow field");
        let csrf = page.hidden("csrf").expect("csrf field");
        let resp = self
            .post(
                "/login/password",
                &[
                    ("flow", &flow),
                    ("csrf", &csrf),
                    ("username", username),
                    ("password", password),
                ],
            )
            .await;
        self.follow(resp).await
    }

    /// Answers a consent page.
    pub async fn consent(&self, page: &Page, allow: bool) -> Outcome {
        assert!(
            page.has("action=\"/login/consent\""),
            "not a consent page:\n{}",
            page.body
        );
        let flow = page.hidden("flow").expect("flow field");
        let csrf = page.hidden("csrf").expect("csrf field");
        let decision = if allow { "allow" } else { "deny" };
        let resp = self
            .post(
                "/login/consent",
                &[("flow", &flow), ("csrf", &csrf), ("decision", decision)],
            )
            .await;
        self.follow(resp).await
    }

    /// Chooses what to do with an identity no account holds yet (`create` an account from it,
    /// or a `temporary` login); returns where konto sent the browser.
    pub async fn unlinked(&self, page: &Page, action: &str) -> Outcome {
        assert!(
            page.has(&format!("value=\"{action}\"")),
            "no {action} choice on the page:\n{}",
            page.body
        );
        let flow = page.hidden("flow").expect("flow field");
        let csrf = page.hidden("csrf").expect("csrf field");
        let resp = self
            .post(
                "/login/unlinked",
                &[("flow", &flow), ("csrf", &csrf), ("action", action)],
            )
            .await;
        self.follow(resp).await
    }

    /// Answers the "for whom do you act?" page with a choice's value (`self` or an option's
    /// key, see [`acting_choices`]).
    pub async fn acting(&self, page: &Page, choice: &str) -> Outcome {
        assert!(
            page.has("action=\"/login/acting\""),
            "not the acting page:\n{}",
            page.body
        );
        let flow = page.hidden("flow").expect("flow field");
        let csrf = page.hidden("csrf").expect("csrf field");
        let resp = self
            .post(
                "/login/acting",
                &[("flow", &flow), ("csrf", &csrf), ("acting", choice)],
            )
            .await;
        self.follow(resp).await
    }

    /// Logs in with a password and consents if asked; returns where konto sent the browser.
    pub async fn login_and_consent(
        &self,
        authorize_url: &str,
        username: &str,
        password: &str,
    ) -> Outcome {
        let page = self.visit(authorize_url).await.page();
        let out = self.password(&page, username, password).await;
        match out {
            Outcome::Page(p) if p.has("action=\"/login/consent\"") => self.consent(&p, true).await,
            other => other,
        }
    }
}

pub fn query_pairs(url: &str) -> Vec<(String, String)> {
    url::Url::parse(url)
        .map(|u| {
            u.query_pairs()
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect()
        })
        .unwrap_or_default()
}

fn field_attr(html: &str, attr: &str) -> Option<String> {
    let needle = format!("{attr}=\"");
    let at = html
        .find("data-autosubmit")
        .and_then(|i| html[..i].rfind("<form"))?;
    let tag = &html[at..];
    let v = tag.find(&needle)?;
    let rest = &tag[v + needle.len()..];
    Some(unescape(&rest[..rest.find('"')?]))
}

fn form_fields(html: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for part in html.split("<input").skip(1) {
        let tag = &part[..part.find('>').unwrap_or(part.len())];
        let get = |a: &str| {
            let n = format!("{a}=\"");
            tag.find(&n).and_then(|i| {
                let rest = &tag[i + n.len()..];
                rest.find('"').map(|e| unescape(&rest[..e]))
            })
        };
        if let (Some(n), Some(v)) = (get("name"), get("value")) {
            out.push((n, v));
        }
    }
    out
}

impl Browser {
    /// Signs in with the eID card through the simulator: starts the eID login from a login page,
    /// plays the user's choice in the simulated eID client (`erika`, `lukas`, `cancel`, …), and
    /// follows the browser back to konto.
    pub async fn eid(&self, page: &Page, choice: &str) -> Outcome {
        let client_url = match self.eid_start(page).await {
            Ok(url) => url,
            Err(page) => return Outcome::Page(page),
        };
        let refresh = eid_client(&client_url, choice).await;
        self.visit(&refresh).await
    }

    /// Starts the eID login of a login page: where konto sends the browser (the eID client's
    /// address with the TCToken URL), or the page konto answered with instead.
    pub async fn eid_start(&self, page: &Page) -> Result<String, Page> {
        let flow = page.hidden("flow").expect("flow field");
        let csrf = page.hidden("csrf").expect("csrf field");
        let start = self
            .post("/login/eid", &[("flow", &flow), ("csrf", &csrf)])
            .await;
        start.location().ok_or(start)
    }
    /// Follows the ELSTER link of a login page (the certificate-login listener) with this
    /// browser's client certificate, if any, and back.
    pub async fn elster(&self, page: &Page) -> Outcome {
        self.visit(&elster_link(page)).await
    }
}

/// The user at the simulated eID client (opened at `client_url`, the address konto sent the
/// browser to) chooses `choice`; the eID client fetches the TCToken, talks to the eID-Server and
/// answers with the refresh address it sends the browser back to. Cookies play no part here.
pub async fn eid_client(client_url: &str, choice: &str) -> String {
    let tc_token_url = query_pairs(client_url)
        .into_iter()
        .find(|(k, _)| k == "tcTokenURL")
        .map(|(_, v)| v)
        .expect("tcTokenURL");
    let eid_client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client");
    let choose_page = eid_client
        .get(client_url)
        .send()
        .await
        .expect("eID client page");
    assert!(choose_page.status().is_success());
    let post_url = client_url
        .split('?')
        .next()
        .unwrap_or(client_url)
        .to_owned();
    let answer = eid_client
        .post(post_url)
        .form(&[("tcTokenURL", tc_token_url.as_str()), ("choice", choice)])
        .send()
        .await
        .expect("eID client answer");
    answer
        .headers()
        .get("location")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
        .unwrap_or_else(|| panic!("the eID client did not redirect ({})", answer.status()))
}

/// The ELSTER link of a login page: the certificate-login listener with the flow.
pub fn elster_link(page: &Page) -> String {
    page.body
        .split("href=\"")
        .skip(1)
        .filter_map(|s| s.split('"').next())
        .find(|h| h.contains("/cert/login?flow="))
        .map(unescape)
        .expect("an ELSTER link")
}

/// A browser whose TLS client offers an ELSTER test certificate (`erika`, `expired`, …) and trusts
/// the development TLS CA.
pub fn elster_browser(base: &str, certificate: Option<&str>) -> Browser {
    let dir = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../keys-dev");
    let ca = std::fs::read(dir.join("tls/ca.pem")).expect("tls ca");
    let mut builder = reqwest::Client::builder()
        .use_rustls_tls()
        .add_root_certificate(reqwest::Certificate::from_pem(&ca).expect("ca"));
    if let Some(name) = certificate {
        let mut pem =
            std::fs::read(dir.join(format!("elster/{name}.crt.pem"))).expect("certificate");
        pem.extend(std::fs::read(dir.join(format!("elster/{name}.key.pem"))).expect("key"));
        builder = builder.identity(reqwest::Identity::from_pem(&pem).expect("identity"));
    }
    Browser::with_client(base, builder)
}

/// The choices of an acting page: each radio button's value and its label's text.
pub fn acting_choices(page: &Page) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for part in page.body.split("name=\"acting\" value=\"").skip(1) {
        let Some((value, rest)) = part.split_once('"') else {
            continue;
        };
        let label = rest
            .split_once("<label")
            .and_then(|(_, l)| l.split_once('>'))
            .and_then(|(_, l)| l.split_once("</label>"))
            .map(|(l, _)| unescape(l.trim()))
            .unwrap_or_default();
        out.push((unescape(value), label));
    }
    out
}
