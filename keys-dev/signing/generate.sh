#!/usr/bin/env bash
# Regenerates the PUBLIC development signing keys (PKCS#8 PEM). Development only.
set -euo pipefail
cd "$(dirname "$0")"
for n in "" "-next"; do
  openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "rs256$n.pem"
  openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "es256$n.pem"
  openssl genpkey -algorithm ED25519 -out "eddsa$n.pem"
done
