#![doc = include_str!("../README.md")]

pub mod amr;
pub mod attributes;
pub mod client;
pub mod clock;
pub mod completion;
pub mod level;
pub mod login;
pub mod org;
pub mod password_policy;
pub mod pkce;
pub mod postbox;
pub mod representation;
pub mod scope;
pub mod secret;
pub mod session;
pub mod subject;
pub mod throttle;
pub mod user;

pub use level::Level;
