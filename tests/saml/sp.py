#!/usr/bin/env python3
"""A SAML service provider built on pysaml2 (PyPI), driven by konto's end-to-end tests.

konto did not write this SP's SAML code: pysaml2 builds and signs the AuthnRequest (with
BundID's akdb extension), and it checks and decrypts konto's response (through the xmlsec1
program). This script only turns its results into JSON for the test.

    sp.py --dir D --entity E --acs URL --idp-metadata F metadata
    sp.py ... request --binding redirect|post [--attr OID[:required]]... [--level L]
                      [--comparison minimum] [--force] [--passive] [--relay R] [--no-extension]
    sp.py ... response --id REQUEST_ID --response BASE64
"""
import argparse
import base64
import json
import sys
import xml.etree.ElementTree as ET

from saml2 import BINDING_HTTP_POST, BINDING_HTTP_REDIRECT, ExtensionElement
from saml2.client import Saml2Client
from saml2.config import SPConfig
from saml2.metadata import create_metadata_string
from saml2.saml import AuthnContextClassRef, NAMEID_FORMAT_TRANSIENT
from saml2.samlp import Extensions, RequestedAuthnContext
from saml2.xmldsig import DIGEST_SHA256, SIG_RSA_SHA256

AKDB = "https://www.akdb.de/request/2018/09"
AKDB_UI = "https://www.akdb.de/request/2018/09/classic-ui/v1"
NS_P = "urn:oasis:names:tc:SAML:2.0:protocol"


def slo_url(a):
    return a.acs.rsplit("/", 1)[0] + "/slo"


def config(a):
    conf = SPConfig()
    conf.load({
        "entityid": a.entity,
        "service": {"sp": {
            "endpoints": {
                "assertion_consumer_service": [(a.acs, BINDING_HTTP_POST)],
                "single_logout_service": [(slo_url(a), BINDING_HTTP_REDIRECT)],
            },
            "authn_requests_signed": True,
            "want_response_signed": True,
            "want_assertions_signed": True,
            "allow_unsolicited": False,
            "allow_unknown_attributes": True,
            "name_id_format": NAMEID_FORMAT_TRANSIENT,
        }},
        "key_file": f"{a.dir}/sp.key",
        "cert_file": f"{a.dir}/sp.crt",
        "encryption_keypairs": [{"key_file": f"{a.dir}/sp.key", "cert_file": f"{a.dir}/sp.crt"}],
        "metadata": {"local": [a.idp_metadata]} if a.idp_metadata else {},
        "xmlsec_binary": "/usr/bin/xmlsec1",
        "organization": {"display_name": "Pysaml2 Test Service", "name": "pysaml2", "url": a.entity},
        "accepted_time_diff": 5,
    })
    return conf


def extension(a):
    req = ExtensionElement("AuthenticationRequest", namespace=AKDB,
                           attributes={"Version": "2", "EnableStatusDetail": "true"})
    methods = ExtensionElement("AuthnMethods", namespace=AKDB)
    for m in (a.methods.split(",") if a.methods else ("Benutzername", "eID", "Elster")):
        e = ExtensionElement(m, namespace=AKDB)
        e.children.append(ExtensionElement("Enabled", namespace=AKDB, text="true"))
        methods.children.append(e)
    req.children.append(methods)
    attrs = ExtensionElement("RequestedAttributes", namespace=AKDB)
    for spec in a.attr:
        required = spec.endswith(":required")
        name = spec[: -len(":required")] if required else spec
        attrs.children.append(ExtensionElement(
            "RequestedAttribute", namespace=AKDB,
            attributes={"Name": name, "RequiredAttribute": "true" if required else "false"}))
    req.children.append(attrs)
    display = ExtensionElement("DisplayInformation", namespace=AKDB)
    ui = ExtensionElement("Version", namespace=AKDB_UI)
    ui.children.append(ExtensionElement("OrganizationDisplayName", namespace=AKDB_UI, text="Pysaml2 Stadtverwaltung"))
    ui.children.append(ExtensionElement("Lang", namespace=AKDB_UI, text=a.lang))
    display.children.append(ui)
    req.children.append(display)
    return Extensions(extension_elements=[req])


def request(a):
    client = Saml2Client(config(a))
    kwargs = {}
    if a.level:
        kwargs["requested_authn_context"] = RequestedAuthnContext(
            authn_context_class_ref=[AuthnContextClassRef(text=a.level)],
            comparison=a.comparison)
    if a.force:
        kwargs["force_authn"] = "true"
    if a.passive:
        kwargs["is_passive"] = "true"
    binding = BINDING_HTTP_REDIRECT if a.binding == "redirect" else BINDING_HTTP_POST
    sso = client._sso_location(None, binding)
    sign = not a.unsigned
    if a.acs_url:
        kwargs["assertion_consumer_service_url"] = a.acs_url
    # the request as pysaml2 writes it; Destination may be made wrong on purpose (--destination)
    reqid, msg = client.create_authn_request(
        a.destination or sso, binding=BINDING_HTTP_POST, nameid_format=NAMEID_FORMAT_TRANSIENT,
        extensions=None if a.no_extension else extension(a),
        sign=sign and binding == BINDING_HTTP_POST, sign_alg=SIG_RSA_SHA256,
        digest_alg=DIGEST_SHA256, **kwargs)
    xml = str(msg)
    info = client.apply_binding(binding, xml, destination=sso, relay_state=a.relay or "",
                                sign=sign and binding == BINDING_HTTP_REDIRECT,
                                sigalg=SIG_RSA_SHA256)
    if binding == BINDING_HTTP_REDIRECT:
        return {"id": reqid, "url": dict(info["headers"])["Location"]}
    return {"id": reqid, "action": sso, "xml": xml,
            "SAMLRequest": base64.b64encode(xml.encode()).decode(), "RelayState": a.relay}


def raw_status(b64):
    root = ET.fromstring(base64.b64decode(b64))
    status = root.find(f"{{{NS_P}}}Status")
    codes = []
    code = status.find(f"{{{NS_P}}}StatusCode")
    while code is not None:
        codes.append(code.get("Value"))
        code = code.find(f"{{{NS_P}}}StatusCode")
    msg = status.find(f"{{{NS_P}}}StatusMessage")
    detail = status.find(f"{{{NS_P}}}StatusDetail")
    ns_a = "urn:oasis:names:tc:SAML:2.0:assertion"
    return {"encrypted": root.find(f"{{{ns_a}}}EncryptedAssertion") is not None
                         and root.find(f"{{{ns_a}}}Assertion") is None,
            "signed": root.find("{http://www.w3.org/2000/09/xmldsig#}Signature") is not None,
            "codes": codes, "message": None if msg is None else msg.text,
            "detail": None if detail is None else detail.text,
            "in_response_to": root.get("InResponseTo"), "destination": root.get("Destination")}


def response(a):
    client = Saml2Client(config(a))
    out = {"raw": raw_status(a.response)}
    try:
        resp = client.parse_authn_request_response(
            a.response, BINDING_HTTP_POST, outstanding={a.id: "/"} if a.id else {})
    except Exception as e:  # pysaml2 names each status and each verification failure
        out.update({"ok": False, "error": type(e).__name__, "message": str(e)})
        return out
    if resp is None:
        out.update({"ok": False, "error": "None", "message": "pysaml2 returned nothing"})
        return out
    assertion = resp.assertion
    trust, values = {}, {}
    for stmt in assertion.attribute_statement:
        for attr in stmt.attribute:
            trust[attr.name] = attr.extension_attributes.get(f"{{{AKDB}}}TrustLevel")
            values[attr.name] = [v.text for v in attr.attribute_value]
    out.update({
        "ok": True,
        "attributes": values,
        "ava": resp.ava,
        "trust_levels": trust,
        "name_id": resp.name_id.text,
        "name_id_format": resp.name_id.format,
        "class_ref": resp.authn_info()[0][0] if resp.authn_info() else None,
        "session_index": assertion.authn_statement[0].session_index,
        "issuer": resp.issuer(),
        "in_response_to": resp.in_response_to,
        "audience": [a.text for c in [assertion.conditions] for r in c.audience_restriction for a in r.audience],
        "assertion_signed": assertion.signature is not None,
    })
    return out


def query_of(url):
    from urllib.parse import parse_qs, urlparse
    return {k: v[0] for k, v in parse_qs(urlparse(url).query).items()}


def logout_request(a):
    """SP-initiated single logout: a signed LogoutRequest (Redirect binding) for a name ID."""
    from saml2.saml import NameID
    client = Saml2Client(config(a))
    slo = client.metadata.single_logout_service(
        list(client.metadata.identity_providers())[0], BINDING_HTTP_REDIRECT, "idpsso")[0]["location"]
    name_id = NameID(text=a.name_id, format=NAMEID_FORMAT_TRANSIENT, sp_name_qualifier=a.entity)
    reqid, req = client.create_logout_request(
        slo, list(client.metadata.identity_providers())[0], name_id=name_id,
        session_indexes=[a.session_index] if a.session_index else None, sign=False)
    info = client.apply_binding(BINDING_HTTP_REDIRECT, str(req), destination=slo,
                                relay_state="bye", sign=True, sigalg=SIG_RSA_SHA256)
    return {"id": reqid, "url": dict(info["headers"])["Location"]}


def logout_answer(a):
    """konto's LogoutRequest at this SP: checked (konto's signature on the query), answered
    with a signed LogoutResponse (Redirect binding) back to konto."""
    from saml2.samlp import STATUS_SUCCESS
    from saml2.s_utils import success_status_factory
    client = Saml2Client(config(a))
    q = query_of(a.url)
    req = client.parse_logout_request(q["SAMLRequest"], BINDING_HTTP_REDIRECT,
                                      relay_state=q.get("RelayState"), sigalg=q.get("SigAlg"),
                                      signature=q.get("Signature"))
    msg = req.message
    resp = client.create_logout_response(msg, bindings=[BINDING_HTTP_REDIRECT],
                                         status=success_status_factory(), sign=False)
    slo = client.metadata.single_logout_service(msg.issuer.text, BINDING_HTTP_REDIRECT, "idpsso")[0]["location"]
    info = client.apply_binding(BINDING_HTTP_REDIRECT, str(resp), destination=slo,
                                relay_state=q.get("RelayState", ""), response=True, sign=True,
                                sigalg=SIG_RSA_SHA256)
    return {"name_id": msg.name_id.text, "session_index": [i.text for i in msg.session_index],
            "url": dict(info["headers"])["Location"]}


def logout_result(a):
    """konto's LogoutResponse at this SP, with its query signature checked against konto's
    metadata certificate."""
    import zlib
    from saml2.sigver import verify_redirect_signature
    client = Saml2Client(config(a))
    q = query_of(a.url)
    idp = list(client.metadata.identity_providers())[0]
    certs = client.metadata.certs(idp, "idpsso", use="signing")
    signed = any(verify_redirect_signature(
        {"SAMLResponse": q["SAMLResponse"], "RelayState": q.get("RelayState"),
         "SigAlg": q["SigAlg"], "Signature": q["Signature"]} if "RelayState" in q else
        {"SAMLResponse": q["SAMLResponse"], "SigAlg": q["SigAlg"], "Signature": q["Signature"]},
        client.sec.sec_backend, cert=c[1]) for c in certs)
    xml = zlib.decompress(base64.b64decode(q["SAMLResponse"]), -15)
    root = ET.fromstring(xml)
    codes = []
    code = root.find(f"{{{NS_P}}}Status/{{{NS_P}}}StatusCode")
    while code is not None:
        codes.append(code.get("Value"))
        code = code.find(f"{{{NS_P}}}StatusCode")
    return {"signed": signed, "codes": codes, "in_response_to": root.get("InResponseTo"),
            "relay_state": q.get("RelayState")}


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--dir", required=True)
    p.add_argument("--entity", required=True)
    p.add_argument("--acs", required=True)
    p.add_argument("--idp-metadata")
    sub = p.add_subparsers(dest="cmd", required=True)
    sub.add_parser("metadata")
    r = sub.add_parser("request")
    r.add_argument("--binding", choices=["redirect", "post"], default="redirect")
    r.add_argument("--attr", action="append", default=[])
    r.add_argument("--level")
    r.add_argument("--comparison", default="minimum")
    r.add_argument("--force", action="store_true")
    r.add_argument("--passive", action="store_true")
    r.add_argument("--relay")
    r.add_argument("--no-extension", action="store_true")
    r.add_argument("--unsigned", action="store_true")
    r.add_argument("--methods", help="comma-separated AuthnMethods to enable")
    r.add_argument("--lang", default="de", help="the extension's display language")
    r.add_argument("--destination")
    r.add_argument("--acs-url")
    s = sub.add_parser("response")
    s.add_argument("--id")
    s.add_argument("--response", required=True)
    lr = sub.add_parser("logout-request")
    lr.add_argument("--name-id", required=True)
    lr.add_argument("--session-index")
    la = sub.add_parser("logout-answer")
    la.add_argument("--url", required=True)
    lres = sub.add_parser("logout-result")
    lres.add_argument("--url", required=True)
    a = p.parse_args()
    if a.cmd == "metadata":
        sys.stdout.write(create_metadata_string(None, config=config(a), valid=4, sign=False).decode())
        return
    run = {"request": request, "response": response, "logout-request": logout_request,
           "logout-answer": logout_answer, "logout-result": logout_result}[a.cmd]
    print(json.dumps(run(a)))


if __name__ == "__main__":
    main()
