//! End-to-end tests: konto on real sockets, driven by the `openidconnect` crate as relying party,
//! a browser-like client, TLS clients with test certificates and the eID simulator. Each scenario
//! runs on SQLite and on PostgreSQL (`KONTO_TEST_DATABASE_URL`).
#![expect(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "tests stop with a message"
)]

mod attacks;
mod concurrency;
mod eid;
mod elster;
mod forms;
mod handoffs;
mod levels;
mod nodes;
mod oidc;
mod openapi;
mod orgs;
mod passkeys;
mod passwords;
mod postbox;
mod saml;
mod sessions;
