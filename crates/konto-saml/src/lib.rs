#![doc = include_str!("../README.md")]

pub mod attributes;
pub mod dsig;
pub mod encrypt;
mod error;
pub mod idp;
pub mod logout;
pub mod metadata;
pub mod request;
pub mod response;
mod xml;

pub use error::{SamlError, Status};
pub use idp::{Idp, IdpConfig, IdpCredentials, SamlFlow};

/// SAML 2.0 assertion namespace.
pub const NS_ASSERTION: &str = "urn:oasis:names:tc:SAML:2.0:assertion";
/// SAML 2.0 protocol namespace.
pub const NS_PROTOCOL: &str = "urn:oasis:names:tc:SAML:2.0:protocol";
/// SAML 2.0 metadata namespace.
pub const NS_METADATA: &str = "urn:oasis:names:tc:SAML:2.0:metadata";
/// XML Signature namespace.
pub const NS_DSIG: &str = "http://www.w3.org/2000/09/xmldsig#";
/// XML Encryption namespace.
pub const NS_XENC: &str = "http://www.w3.org/2001/04/xmlenc#";
/// BundID's request extension (version 2).
pub const NS_AKDB: &str = "https://www.akdb.de/request/2018/09";
/// BundID's display information inside the extension.
pub const NS_AKDB_UI: &str = "https://www.akdb.de/request/2018/09/classic-ui/v1";

/// SAML bindings §3.5.
pub const BINDING_POST: &str = "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST";
/// SAML bindings §3.4.
pub const BINDING_REDIRECT: &str = "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect";

/// SAML core §8.3.8.
pub const NAMEID_TRANSIENT: &str = "urn:oasis:names:tc:SAML:2.0:nameid-format:transient";
/// SAML core §8.3.1.
pub const NAMEID_UNSPECIFIED: &str = "urn:oasis:names:tc:SAML:1.1:nameid-format:unspecified";
/// SAML core §8.2.2.
pub const ATTRNAME_URI: &str = "urn:oasis:names:tc:SAML:2.0:attrname-format:uri";
