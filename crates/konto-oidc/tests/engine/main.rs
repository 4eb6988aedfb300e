//! Engine tests: the OpenID Provider called through its public API, without HTTP, on a throw-away
//! SQLite store. Time is passed in (`now`), so expiry is tested by moving it, never by sleeping.
//! The end-to-end scenarios in `tests/e2e` drive the same rules over real sockets; these check
//! each rule on its own, fast.
#![expect(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test helpers stop the test with a message"
)]

mod authorize;
mod authorize_params;
mod checks;
mod client_auth;
mod code;
mod logout;
mod refresh;
mod resource;
mod support;
