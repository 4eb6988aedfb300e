//! Development mode: a demo account and demo relying parties, so a newcomer can try konto at
//! once. All of it is public; none of it exists outside development mode.

use konto_core::Level;
use konto_core::client::{
    Client, GrantType, RelyingParty, SigningAlg, SubjectType, TokenEndpointAuthMethod,
};
use konto_core::level::AcrVocabulary;
use konto_core::scope;
use konto_core::secret::SecretPurpose;
use konto_service::account::NewAccount;

use crate::BootError;
use crate::app::App;

pub const DEMO_USER: &str = "demo";
/// Public: printed in the start-up banner and the README.
pub const DEMO_PASSWORD: &str = "Lindenblatt-Wasserturm-7";
pub const DEMO_CLIENT_ID: &str = "demo-rp";
pub const DEMO_CLIENT_SECRET: &str = "demo-rp-secret";
pub const DEMO_PUBLIC_CLIENT_ID: &str = "demo-public";

/// The demo relying party (`cargo run -p demo-rp`, port 8081).
pub fn demo_client(app: &App) -> Client {
    Client {
        party: RelyingParty {
            id: DEMO_CLIENT_ID.into(),
            name: "Demo-Dienst (Beispiel-Verwaltungsleistung)".into(),
            scopes: scope::SUPPORTED.iter().map(|s| (*s).to_owned()).collect(),
            first_party: false,
            min_level: Level::Basic,
            allow_temporary_login: true,
            service_groups: Vec::new(),
            postbox_webhook: None,
            created_at: app.clock.now(),
        },
        auth_method: TokenEndpointAuthMethod::ClientSecretBasic,
        secret_hash: Some(
            app.services
                .hasher
                .hash(SecretPurpose::ClientSecret, DEMO_CLIENT_SECRET),
        ),
        jwks: None,
        // one host: pairwise subjects need one sector (OIDC Core §8.1)
        redirect_uris: vec!["http://localhost:8081/callback".into()],
        post_logout_redirect_uris: vec!["http://localhost:8081/".into()],
        grant_types: vec![GrantType::AuthorizationCode, GrantType::RefreshToken],
        id_token_alg: SigningAlg::RS256,
        subject_type: SubjectType::Pairwise,
        sector_identifier_uri: None,
        require_pkce: true,
        acr_vocabulary: AcrVocabulary::Eidas,
    }
}

/// A public client for command-line trials (PKCE, no secret).
pub fn demo_public_client(app: &App) -> Client {
    Client {
        party: RelyingParty {
            id: DEMO_PUBLIC_CLIENT_ID.into(),
            name: "Demo (öffentlicher Client)".into(),
            scopes: scope::SUPPORTED.iter().map(|s| (*s).to_owned()).collect(),
            first_party: false,
            min_level: Level::Basic,
            allow_temporary_login: true,
            service_groups: Vec::new(),
            postbox_webhook: None,
            created_at: app.clock.now(),
        },
        auth_method: TokenEndpointAuthMethod::None,
        secret_hash: None,
        jwks: None,
        redirect_uris: vec!["http://127.0.0.1:8082/callback".into()],
        post_logout_redirect_uris: Vec::new(),
        grant_types: vec![GrantType::AuthorizationCode, GrantType::RefreshToken],
        id_token_alg: SigningAlg::ES256,
        subject_type: SubjectType::Pairwise,
        sector_identifier_uri: None,
        require_pkce: true,
        acr_vocabulary: AcrVocabulary::Eidas,
    }
}

/// Creates the demo account and clients when missing.
pub async fn seed(app: &App) -> Result<(), BootError> {
    if !app.config.development {
        return Err(BootError::Config(
            "demo data only exists in development mode".into(),
        ));
    }
    let store = &app.services.store;
    if store.user_by_username(DEMO_USER).await?.is_none() {
        app.accounts
            .create(
                &NewAccount {
                    username: DEMO_USER.into(),
                    email: Some("demo@example.org".into()),
                    email_verified: true,
                    given_name: Some("Erika".into()),
                    family_name: Some("Mustermann".into()),
                },
                Some(DEMO_PASSWORD),
            )
            .await
            .map_err(|e| BootError::Config(format!("demo user: {e}")))?;
    }
    for client in [demo_client(app), demo_public_client(app)] {
        client
            .sector()
            .map_err(|e| BootError::Config(format!("demo client {}: {e}", client.party.id)))?;
        match store.client(&client.party.id).await? {
            Some(old) if old.redirect_uris == client.redirect_uris => {}
            Some(_) => {
                // registered by an older build with other addresses: register it anew
                store.delete_client(&client.party.id).await?;
                store.create_client(&client).await?;
            }
            None => store.create_client(&client).await?,
        }
    }
    Ok(())
}
