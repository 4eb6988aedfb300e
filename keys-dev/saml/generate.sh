#!/usr/bin/env bash
# Regenerates the PUBLIC development SAML signing key and its self-signed certificate.
set -euo pipefail
cd "$(dirname "$0")"
openssl req -x509 -newkey rsa:2048 -nodes -keyout idp.key -out idp.crt -days 3650 \
  -subj "/CN=konto development SAML IdP (INSECURE, public)"
