//! One provider on a fresh SQLite store, with a user and three clients, and helpers to drive it.

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use base64::Engine as _;
use konto_core::Level;
use konto_core::client::{
    Client, GrantType, RelyingParty, SigningAlg, SubjectType, TokenEndpointAuthMethod,
};
use konto_core::level::AcrVocabulary;
use konto_core::login::{Authentication, Principal};
use konto_core::pkce::s256;
use konto_core::scope::Scopes;
use konto_core::secret::{SecretHasher, SecretPurpose};
use konto_keys::{KeyEncryptionKey, Keyring, generate_key, stored_key};
use konto_oidc::{
    AuthorizationRequest, AuthorizationResponse, AuthorizeError, ClientAuthInput,
    IntrospectionResponse, OAuthError, OidcConfig, Params, Provider, TokenResponse,
};
use konto_store::{
    ClientRepo, GrantRecord, GrantRepo, KeyRepo, KeyStatus, NewUser, StoredKey, UserRepo,
};
use konto_store_sql::SqlStore;
use konto_store_sql::testing::sqlite_store;
use time::OffsetDateTime;
use time::macros::datetime;

pub(crate) use crate::checks::*;

pub(crate) const ISSUER: &str = "https://konto.example";
/// RFC 7636 Appendix B.
pub(crate) const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
/// The confidential client (`client_secret_basic`) most tests use.
pub(crate) const RP: &str = "rp";
pub(crate) const RP_SECRET: &str = "rp-secret-rp-secret-rp-secret-rp-secret";
/// Another confidential client (`client_secret_basic`).
pub(crate) const OTHER: &str = "other";
pub(crate) const OTHER_SECRET: &str = "other-secret-other-secret-other-secret";
/// A public client (`none`): PKCE, no secret.
pub(crate) const APP: &str = "app";
pub(crate) const USER: &str = "user-1";
pub(crate) const SESSION: &str = "session-1";
/// Seconds a code lives.
pub(crate) const CODE_TTL: i64 = 60;
/// Seconds a refresh token (without `offline_access`) lives.
pub(crate) const REFRESH_TTL: i64 = 86_400;

const KEK: [u8; 32] = [5; 32];
const HASH_KEY: [u8; 32] = [7; 32];
const PAIRWISE_KEY: [u8; 32] = [9; 32];

/// The instant every test starts at.
pub(crate) fn start() -> OffsetDateTime {
    datetime!(2030-06-01 12:00 UTC)
}

/// One current key per algorithm, generated once per test run (RSA generation is slow).
fn signing_keys() -> &'static [StoredKey] {
    static KEYS: OnceLock<Vec<StoredKey>> = OnceLock::new();
    KEYS.get_or_init(|| {
        let kek = KeyEncryptionKey::new(KEK);
        SigningAlg::ALL
            .into_iter()
            .map(|alg| {
                let key = generate_key(alg).expect("key generation");
                stored_key(&key, &kek, KeyStatus::Current, start()).expect("stored key")
            })
            .collect()
    })
}

/// A password login of [`USER`] at `now`, in browser session [`SESSION`].
pub(crate) fn password_login(now: OffsetDateTime) -> Authentication {
    Authentication {
        principal: Principal::Account {
            user_id: USER.into(),
        },
        level: Level::Basic,
        auth_time: now,
        amr: vec!["pwd".into()],
        session_id: Some(SESSION.into()),
        representation: None,
    }
}

pub(crate) fn client(id: &str) -> Client {
    Client {
        party: RelyingParty {
            id: id.into(),
            name: format!("Test service {id}"),
            scopes: konto_core::scope::SUPPORTED.map(str::to_owned).to_vec(),
            first_party: false,
            min_level: Level::Basic,
            allow_temporary_login: false,
            service_groups: Vec::new(),
            postbox_webhook: None,
            created_at: start(),
        },
        auth_method: TokenEndpointAuthMethod::ClientSecretBasic,
        secret_hash: None,
        jwks: None,
        redirect_uris: vec![redirect_uri(id)],
        post_logout_redirect_uris: vec![format!("https://{id}.example/bye")],
        grant_types: vec![GrantType::AuthorizationCode, GrantType::RefreshToken],
        id_token_alg: SigningAlg::RS256,
        subject_type: SubjectType::Pairwise,
        sector_identifier_uri: None,
        require_pkce: true,
        acr_vocabulary: AcrVocabulary::Eidas,
    }
}

pub(crate) fn redirect_uri(client_id: &str) -> String {
    format!("https://{client_id}.example/callback")
}

pub(crate) fn params(pairs: &[(&str, &str)]) -> Params {
    Params::from_pairs(
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect(),
    )
    .expect("parameters")
}

/// What a client sends to the token, introspection or revocation endpoint.
pub(crate) fn back_channel<'a>(
    authorization: Option<&'a str>,
    params: &'a Params,
) -> ClientAuthInput<'a> {
    ClientAuthInput {
        authorization,
        params,
    }
}

/// `Authorization: Basic` for a client (RFC 6749 §2.3.1).
pub(crate) fn basic(id: &str, secret: &str) -> String {
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{id}:{secret}"))
    )
}

pub(crate) struct Engine {
    pub(crate) op: Provider,
    store: Arc<SqlStore>,
    hasher: SecretHasher,
    pub(crate) now: OffsetDateTime,
    /// The temporary directory of the SQLite file, deleted on drop.
    _dir: Box<dyn std::any::Any + Send + Sync>,
}

impl Engine {
    /// A provider with user [`USER`] and the clients [`RP`], [`OTHER`] and [`APP`].
    pub(crate) async fn new() -> Engine {
        let (store, dir) = sqlite_store().await;
        let store = Arc::new(store);
        for key in signing_keys() {
            store.insert_key(key).await.expect("key");
        }
        let keys = Keyring::load(
            Arc::clone(&store) as Arc<dyn KeyRepo>,
            KeyEncryptionKey::new(KEK),
            start(),
        )
        .await
        .expect("keyring");
        let hasher = SecretHasher::new(HASH_KEY);
        let op = Provider::new(
            Arc::clone(&store) as Arc<dyn konto_store::Store>,
            Arc::new(keys),
            hasher.clone(),
            PAIRWISE_KEY,
            OidcConfig {
                issuer: ISSUER.into(),
                access_token_ttl: Duration::from_secs(300),
                id_token_ttl: Duration::from_secs(300),
                code_ttl: Duration::from_secs(CODE_TTL as u64),
                refresh_token_ttl: Duration::from_secs(REFRESH_TTL as u64),
                offline_refresh_token_ttl: Duration::from_secs(30 * 86_400),
                refresh_retry: Duration::from_secs(30),
            },
        );
        let engine = Engine {
            op,
            store,
            hasher,
            now: start(),
            _dir: Box::new(dir),
        };
        engine
            .store
            .create_user(
                &NewUser {
                    id: USER.into(),
                    username: "erika".into(),
                    email: Some("erika@example.org".into()),
                    email_verified: true,
                    postbox_handle: "pb-1".into(),
                    created_at: start(),
                },
                &[],
                &[],
            )
            .await
            .expect("user");
        engine.add_client(client(RP), Some(RP_SECRET)).await;
        engine.add_client(client(OTHER), Some(OTHER_SECRET)).await;
        let mut app = client(APP);
        app.auth_method = TokenEndpointAuthMethod::None;
        engine.add_client(app, None).await;
        engine
    }

    /// Registers a client, with the keyed hash of `secret` if given.
    pub(crate) async fn add_client(&self, mut client: Client, secret: Option<&str>) {
        client.secret_hash = secret.map(|s| self.hasher.hash(SecretPurpose::ClientSecret, s));
        self.store.create_client(&client).await.expect("client");
    }

    pub(crate) async fn grant(&self, id: &str) -> GrantRecord {
        self.store
            .grant(id)
            .await
            .expect("store")
            .expect("the grant")
    }

    /// An authorization request of `client_id` with PKCE, `scope=openid profile`, `state=st` and
    /// `nonce=n`; `extra` replaces these defaults or adds parameters (an empty value removes one,
    /// as empty values count as absent).
    pub(crate) async fn authorize_as(
        &self,
        client_id: &str,
        extra: &[(&str, &str)],
    ) -> Result<AuthorizationRequest, AuthorizeError> {
        let redirect = redirect_uri(client_id);
        let challenge = s256(VERIFIER);
        let mut pairs: Vec<(&str, &str)> = [
            ("client_id", client_id),
            ("redirect_uri", redirect.as_str()),
            ("response_type", "code"),
            ("scope", "openid profile"),
            ("state", "st"),
            ("nonce", "n"),
            ("code_challenge", challenge.as_str()),
            ("code_challenge_method", "S256"),
        ]
        .into_iter()
        .filter(|(k, _)| !extra.iter().any(|(e, _)| e == k))
        .collect();
        pairs.extend_from_slice(extra);
        self.op
            .validate_authorization(&params(&pairs), &["de".to_owned()])
            .await
    }

    pub(crate) async fn authorize(
        &self,
        extra: &[(&str, &str)],
    ) -> Result<AuthorizationRequest, AuthorizeError> {
        self.authorize_as(RP, extra).await
    }

    /// The error sent back to the client; fails if the request passed or was shown on a page.
    pub(crate) async fn redirect_error(&self, extra: &[(&str, &str)]) -> AuthorizationResponse {
        match self.authorize(extra).await {
            Err(AuthorizeError::Redirect(r)) => r,
            Err(AuthorizeError::Page(e)) => panic!("{extra:?}: shown on a page: {e}"),
            Ok(_) => panic!("{extra:?}: accepted"),
        }
    }

    /// A code for [`USER`] after a login with a password and consent to everything asked.
    pub(crate) async fn code_for(&self, client_id: &str, extra: &[(&str, &str)]) -> String {
        let req = self
            .authorize_as(client_id, extra)
            .await
            .expect("a valid request");
        let scopes = Scopes::parse(&req.flow.scope).expect("scopes");
        let response = self
            .op
            .issue_code(
                &req.flow,
                &req.client,
                &password_login(self.now),
                &scopes,
                self.now,
            )
            .await
            .expect("a code");
        response.param("code").expect("code").to_owned()
    }

    pub(crate) async fn token_at(
        &self,
        authorization: Option<&str>,
        form: &[(&str, &str)],
        now: OffsetDateTime,
    ) -> Result<TokenResponse, OAuthError> {
        let p = params(form);
        self.op.token(back_channel(authorization, &p), now).await
    }

    pub(crate) async fn token(
        &self,
        authorization: Option<&str>,
        form: &[(&str, &str)],
    ) -> Result<TokenResponse, OAuthError> {
        self.token_at(authorization, form, self.now).await
    }

    /// Redeems a code of [`RP`] with the right redirect URI and verifier.
    pub(crate) async fn redeem(&self, code: &str) -> Result<TokenResponse, OAuthError> {
        self.token(
            Some(&basic(RP, RP_SECRET)),
            &[
                ("grant_type", "authorization_code"),
                ("code", code),
                ("redirect_uri", &redirect_uri(RP)),
                ("code_verifier", VERIFIER),
            ],
        )
        .await
    }

    /// Tokens for [`RP`] from a fresh code.
    pub(crate) async fn tokens(&self) -> TokenResponse {
        let code = self.code_for(RP, &[]).await;
        self.redeem(&code).await.expect("tokens")
    }

    /// A refresh request of `client_id` (with `secret`, by Basic).
    pub(crate) async fn refresh(
        &self,
        client_id: &str,
        secret: &str,
        token: &str,
    ) -> Result<TokenResponse, OAuthError> {
        self.token(
            Some(&basic(client_id, secret)),
            &[("grant_type", "refresh_token"), ("refresh_token", token)],
        )
        .await
    }

    /// Introspects `token` as `client_id` (with `secret`, by Basic); the answer as it goes on
    /// the wire.
    pub(crate) async fn introspect(
        &self,
        client_id: &str,
        secret: &str,
        token: &str,
    ) -> Result<serde_json::Value, OAuthError> {
        let (auth, p) = (basic(client_id, secret), params(&[("token", token)]));
        let input = back_channel(Some(&auth), &p);
        let r: IntrospectionResponse = self.op.introspect(input, self.now).await?;
        Ok(serde_json::to_value(r).expect("introspection serialises"))
    }

    /// Whether `token` is active for [`RP`] (RFC 7662 §2.2).
    pub(crate) async fn active(&self, token: &str) -> bool {
        self.introspect(RP, RP_SECRET, token)
            .await
            .expect("introspection")["active"]
            == true
    }

    pub(crate) async fn revoke(
        &self,
        client_id: &str,
        secret: &str,
        form: &[(&str, &str)],
    ) -> Result<(), OAuthError> {
        let (auth, p) = (basic(client_id, secret), params(form));
        self.op
            .revoke(back_channel(Some(&auth), &p), self.now)
            .await
    }
}
