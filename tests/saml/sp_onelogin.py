#!/usr/bin/env python3
"""A second SAML service provider konto did not write: OneLogin's python3-saml (PyPI), with
the xmlsec binding. It cannot send BundID's akdb extension; it asks for its attributes in its
metadata (AttributeConsumingService) instead, as mod_auth_mellon or Shibboleth would.

Same command line as sp.py: metadata | request [--relay R] [--force] | response --id ID --response B64
"""
import argparse
import json
import sys
from urllib.parse import urlparse

from onelogin.saml2.auth import OneLogin_Saml2_Auth
from onelogin.saml2.idp_metadata_parser import OneLogin_Saml2_IdPMetadataParser
from onelogin.saml2.settings import OneLogin_Saml2_Settings

GIVEN_NAME = "urn:oid:2.5.4.42"
SURNAME = "urn:oid:2.5.4.4"
BPK2 = "urn:oid:1.3.6.1.4.1.25484.494450.3"


def settings(a):
    def pem_body(path):
        return "".join(l for l in open(path).read().splitlines() if "-----" not in l)
    s = {
        "strict": True,
        "sp": {
            "entityId": a.entity,
            "assertionConsumerService": {
                "url": a.acs,
                "binding": "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST",
            },
            "attributeConsumingService": {
                "serviceName": "OneLogin Test Service",
                "requestedAttributes": [
                    {"name": GIVEN_NAME, "isRequired": True,
                     "nameFormat": "urn:oasis:names:tc:SAML:2.0:attrname-format:uri"},
                    {"name": SURNAME, "isRequired": False,
                     "nameFormat": "urn:oasis:names:tc:SAML:2.0:attrname-format:uri"},
                    {"name": BPK2, "isRequired": True,
                     "nameFormat": "urn:oasis:names:tc:SAML:2.0:attrname-format:uri"},
                ],
            },
            "NameIDFormat": "urn:oasis:names:tc:SAML:2.0:nameid-format:transient",
            "x509cert": pem_body(f"{a.dir}/sp.crt"),
            "privateKey": open(f"{a.dir}/sp.key").read(),
        },
        "security": {
            "authnRequestsSigned": True,
            "wantMessagesSigned": True,
            "wantAssertionsSigned": True,
            "wantAssertionsEncrypted": True,
            "wantNameIdEncrypted": False,
            "requestedAuthnContext": False,
            "signatureAlgorithm": "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256",
            "digestAlgorithm": "http://www.w3.org/2001/04/xmlenc#sha256",
        },
    }
    if a.idp_metadata:
        idp = OneLogin_Saml2_IdPMetadataParser.parse(open(a.idp_metadata).read())
        s["idp"] = idp["idp"]
    return s


def request_data(a, post=None):
    acs = urlparse(a.acs)
    return {
        "https": "on" if acs.scheme == "https" else "off",
        "http_host": acs.netloc,
        "script_name": acs.path,
        "get_data": {},
        "post_data": post or {},
    }


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--dir", required=True)
    p.add_argument("--entity", required=True)
    p.add_argument("--acs", required=True)
    p.add_argument("--idp-metadata")
    sub = p.add_subparsers(dest="cmd", required=True)
    sub.add_parser("metadata")
    r = sub.add_parser("request")
    r.add_argument("--binding", choices=["redirect"], default="redirect")
    r.add_argument("--relay")
    r.add_argument("--force", action="store_true")
    s = sub.add_parser("response")
    s.add_argument("--id")
    s.add_argument("--response", required=True)
    a = p.parse_args()
    if a.cmd == "metadata":
        conf = OneLogin_Saml2_Settings(settings(a), sp_validation_only=True)
        md = conf.get_sp_metadata()
        errors = conf.validate_metadata(md)
        if errors:
            sys.exit(f"invalid SP metadata: {errors}")
        sys.stdout.write(md.decode() if isinstance(md, bytes) else md)
        return
    if a.cmd == "request":
        auth = OneLogin_Saml2_Auth(request_data(a), settings(a))
        url = auth.login(return_to=a.relay, force_authn=a.force)
        print(json.dumps({"id": auth.get_last_request_id(), "url": url}))
        return
    auth = OneLogin_Saml2_Auth(request_data(a, {"SAMLResponse": a.response}), settings(a))
    auth.process_response(request_id=a.id)
    errors = auth.get_errors()
    if errors:
        print(json.dumps({"ok": False, "error": errors, "message": auth.get_last_error_reason()}))
        return
    print(json.dumps({
        "ok": auth.is_authenticated(),
        "attributes": auth.get_attributes(),
        "name_id": auth.get_nameid(),
        "name_id_format": auth.get_nameid_format(),
        "session_index": auth.get_session_index(),
    }))


if __name__ == "__main__":
    main()
