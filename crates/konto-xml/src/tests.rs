use proptest::prelude::*;

use super::*;

const L: Limits = Limits::MESSAGES;

fn p(doc: &[u8]) -> Result<Element, XmlError> {
    parse(doc, &L)
}

#[test]
fn namespaces_text_and_entities() {
    let doc = br#"<?xml version="1.0" encoding="UTF-8"?>
        <a:Root xmlns:a="urn:a" xmlns="urn:d"><Child>x &amp; y&#x21;<![CDATA[<z>]]></Child><Empty/></a:Root>"#;
    let root = p(doc).unwrap();
    assert!(root.is("urn:a", "Root"));
    let child = root.child("Child").unwrap();
    assert_eq!(child.ns.as_deref(), Some("urn:d"));
    assert_eq!(child.text, "x & y!<z>");
    assert_eq!(root.child_text("Empty"), None);
    assert!(root.child_ns("urn:d", "Empty").is_some());
    assert!(root.child_ns("urn:a", "Empty").is_none());
}

#[test]
fn whitespace_inside_text_is_kept() {
    let root = p(b"<d><s>1979    </s></d>").unwrap();
    assert_eq!(root.child("s").unwrap().text, "1979    ");
}

#[test]
fn attributes_keep_their_namespace_and_are_unescaped() {
    let doc = br#"<samlp:AuthnRequest xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol"
        xmlns:akdb="https://www.akdb.de/request/2018/09" ID="_a&amp;b" Destination="https://idp/&#x73;so"
        akdb:RequiredAttribute="true"/>"#;
    let root = p(doc).unwrap();
    assert_eq!(root.attr("ID"), Some("_a&b"));
    assert_eq!(root.attr("Destination"), Some("https://idp/sso"));
    assert_eq!(
        root.attr_ns("https://www.akdb.de/request/2018/09", "RequiredAttribute"),
        Some("true")
    );
    // an unprefixed attribute is in no namespace (Namespaces in XML §6.2), and namespace
    // declarations are no attributes
    assert_eq!(root.attributes.len(), 3);
    assert_eq!(root.attr("RequiredAttribute"), None);
}

#[test]
fn a_duplicated_attribute_is_refused() {
    // XML 1.0 §3.1 "Unique Att Spec": two IDs on one element is how a signature is wrapped
    assert!(p(br#"<a ID="1" ID="2"/>"#).is_err());
}

#[test]
fn a_comment_cannot_truncate_a_value() {
    // the SAML comment-truncation attacks (CVE-2017-11427 and kin): a reader that takes the
    // first text node reads "user@evil.example"; the signed value (exclusive c14n without
    // comments) is the whole of it
    let root = p(b"<NameID>user@evil.example<!---->.good.example</NameID>").unwrap();
    assert_eq!(root.text, "user@evil.example.good.example");
    let root = p(b"<a>x<!-- c --><![CDATA[y]]>&#x7a;</a>").unwrap();
    assert_eq!(root.text, "xyz");
}

#[test]
fn refuses_doctype_external_and_unknown_entities() {
    let bomb = br#"<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;">]><lolz>&lol2;</lolz>"#;
    assert_eq!(p(bomb), Err(XmlError::Doctype));
    let xxe = br#"<?xml version="1.0"?><!DOCTYPE foo [<!ENTITY xxe SYSTEM "file:///etc/passwd">]><foo>&xxe;</foo>"#;
    assert_eq!(p(xxe), Err(XmlError::Doctype));
    assert!(matches!(
        p(b"<a>&nbsp;</a>"),
        Err(XmlError::UnknownEntity(_))
    ));
    assert!(matches!(
        p(br#"<a b="&xxe;"/>"#),
        Err(XmlError::UnknownEntity(_))
    ));
}

#[test]
fn refuses_what_is_beyond_the_limits() {
    let big = vec![b' '; L.max_input + 1];
    assert_eq!(p(&big), Err(XmlError::TooLarge(L.max_input)));
    let deep = "<a>".repeat(L.max_depth + 1) + &"</a>".repeat(L.max_depth + 1);
    assert_eq!(p(deep.as_bytes()), Err(XmlError::TooDeep(L.max_depth)));
    let deep_empty = "<a>".repeat(L.max_depth) + "<b/>" + &"</a>".repeat(L.max_depth);
    assert_eq!(
        p(deep_empty.as_bytes()),
        Err(XmlError::TooDeep(L.max_depth))
    );
    let wide = format!("<a>{}</a>", "<b/>".repeat(L.max_elements));
    assert_eq!(
        p(wide.as_bytes()),
        Err(XmlError::TooManyElements(L.max_elements))
    );
    let attrs: String = (0..=L.max_attributes)
        .map(|i| format!(" a{i}=\"\""))
        .collect();
    assert_eq!(
        p(format!("<a{attrs}/>").as_bytes()),
        Err(XmlError::TooManyAttributes(L.max_attributes))
    );
}

#[test]
fn refuses_malformed_input() {
    assert!(p(b"<a><b></a>").is_err());
    assert!(p(b"<a>").is_err());
    assert_eq!(p(b""), Err(XmlError::NoRoot));
    assert_eq!(p(b"<a/><b/>"), Err(XmlError::TrailingContent));
    assert_eq!(p(b"<a/>text"), Err(XmlError::TrailingContent));
    assert!(p(b"<p:a/>").is_err());
    assert!(p(br#"<a p:b="1"/>"#).is_err());
    assert_eq!(p(&[0xff, 0xfe]), Err(XmlError::NotUtf8));
}

proptest! {
    #[test]
    fn never_panics_on_any_bytes(input in proptest::collection::vec(any::<u8>(), 0..512)) {
        let _ = p(&input);
    }

    #[test]
    fn never_panics_on_xml_like_text(input in "[<>/a-c:=\"'&#;!\\[\\]x -]{0,200}") {
        let _ = p(input.as_bytes());
    }

    #[test]
    fn text_reads_back_whatever_it_is(s in "\\PC{0,64}") {
        let escaped = s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;");
        let doc = format!("<a>{escaped}</a>");
        prop_assert_eq!(p(doc.as_bytes()).unwrap().text, s);
    }
}
