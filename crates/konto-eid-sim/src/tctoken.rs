//! The TCToken as the eID client reads it (BSI TR-03124-1 §2.4), the addresses it accepts, and
//! the result parameters it appends to the refresh address (§2.5.4).
//!
//! Policy: https anywhere, plain http only to this machine; a TCToken whose values are missing
//! or unusable is refused, naming its CommunicationErrorAddress when it has a usable one.

use url::{Host, Url};

pub(crate) const BINDING_PAOS: &str = "urn:liberty:paos:2006-08";
pub(crate) const PATH_SECURITY_PSK: &str = "urn:ietf:rfc:4279";

/// What the TCToken said.
pub(crate) struct TcToken {
    pub(crate) server_address: String,
    pub(crate) session_identifier: String,
    pub(crate) refresh_address: Url,
    pub(crate) binding: String,
    pub(crate) path_security_protocol: String,
    pub(crate) psk: String,
}

/// https anywhere, http only to this machine.
pub(crate) fn allowed(url: &Url) -> bool {
    match url.scheme() {
        "https" => true,
        "http" => match url.host() {
            Some(Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
            Some(Host::Ipv4(ip)) => ip.is_loopback(),
            Some(Host::Ipv6(ip)) => ip.is_loopback(),
            None => false,
        },
        _ => false,
    }
}

pub(crate) fn parse_tc_token(body: &[u8]) -> Result<TcToken, (String, Option<Url>)> {
    let root = crate::xml::parse(body).map_err(|e| (e, None))?;
    let error_address = root
        .text_of(&["CommunicationErrorAddress"])
        .and_then(|a| Url::parse(a).ok())
        .filter(allowed);
    let fail = |what: &str| (what.to_owned(), error_address.clone());
    if root.name != "TCTokenType" {
        return Err(fail("root element is not TCTokenType"));
    }
    let text = |name: &str| {
        root.text_of(&[name])
            .map(str::to_owned)
            .ok_or_else(|| fail(&format!("{name} missing")))
    };
    let refresh_address = Url::parse(&text("RefreshAddress")?)
        .ok()
        .filter(allowed)
        .ok_or_else(|| fail("RefreshAddress is not https (or http on loopback)"))?;
    Ok(TcToken {
        server_address: text("ServerAddress")?,
        session_identifier: text("SessionIdentifier")?,
        refresh_address,
        binding: text("Binding")?,
        path_security_protocol: text("PathSecurity-Protocol")?,
        psk: root
            .text_of(&["PathSecurity-Parameters", "PSK"])
            .map(str::to_owned)
            .ok_or_else(|| fail("PathSecurity-Parameters/PSK missing"))?,
    })
}

pub(crate) fn with_result(mut url: Url, major: &str, minor: Option<&str>) -> Url {
    {
        let mut pairs = url.query_pairs_mut();
        pairs.append_pair("ResultMajor", major);
        if let Some(minor) = minor {
            pairs.append_pair("ResultMinor", minor);
        }
    }
    url
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_https_or_loopback_http() {
        for ok in [
            "https://konto.example/t",
            "http://127.0.0.1:8080/t",
            "http://localhost/t",
            "http://[::1]/t",
        ] {
            assert!(allowed(&Url::parse(ok).unwrap()), "{ok}");
        }
        for bad in [
            "http://konto.example/t",
            "http://10.0.0.1/t",
            "ftp://127.0.0.1/t",
            "file:///etc/passwd",
        ] {
            assert!(!allowed(&Url::parse(bad).unwrap()), "{bad}");
        }
    }

    #[test]
    fn results_are_appended_to_existing_queries() {
        let url = Url::parse("https://konto.example/back?7eb39f62").unwrap();
        assert_eq!(
            with_result(url, "error", Some("cancellationByUser")).as_str(),
            "https://konto.example/back?7eb39f62&ResultMajor=error&ResultMinor=cancellationByUser"
        );
    }

    #[test]
    fn tc_tokens_are_read_like_the_ausweisapp_reads_them() {
        let token = br#"<?xml version="1.0"?>
            <TCTokenType>
              <ServerAddress>https://127.0.0.1:1/paos</ServerAddress>
              <SessionIdentifier>1A2BB1291A2BB129</SessionIdentifier>
              <RefreshAddress><![CDATA[https://konto.example/back?a=1&b=2]]></RefreshAddress>
              <CommunicationErrorAddress>https://konto.example/err</CommunicationErrorAddress>
              <Binding> urn:liberty:paos:2006-08 </Binding>
              <PathSecurity-Protocol> urn:ietf:rfc:4279 </PathSecurity-Protocol>
              <PathSecurity-Parameters><PSK> 4BC1A0B5 </PSK></PathSecurity-Parameters>
            </TCTokenType>"#;
        let t = parse_tc_token(token).map_err(|e| e.0).unwrap();
        assert_eq!(
            t.refresh_address.as_str(),
            "https://konto.example/back?a=1&b=2"
        );
        assert_eq!(t.binding, BINDING_PAOS);
        assert_eq!(t.psk, "4BC1A0B5");
        let broken = br#"<TCTokenType><CommunicationErrorAddress>https://konto.example/err</CommunicationErrorAddress></TCTokenType>"#;
        let (_, error_address) = parse_tc_token(broken).err().unwrap();
        assert_eq!(error_address.unwrap().as_str(), "https://konto.example/err");
    }
}
