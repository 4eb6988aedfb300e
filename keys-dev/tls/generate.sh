#!/usr/bin/env bash
# Development TLS material for konto's HTTPS listener and its certificate-login listener.
# PUBLIC, INSECURE TEST MATERIAL: the private keys are committed. Never use outside development.
#
# Usage: keys-dev/tls/generate.sh   (needs bash and the openssl 3 command line tool)
#
# Regenerates, replacing earlier outputs (idempotent):
#   ca.pem, ca.key.pem           "konto Development TLS CA". Name-constrained to localhost,
#                                127.0.0.1 and ::1, so importing it into a browser cannot make
#                                any other site trusted.
#   server.crt.pem               server certificate for localhost, 127.0.0.1 and ::1 (leaf only)
#   server.key.pem               its key (PKCS#8, unencrypted)
#   server.fullchain.pem         server certificate followed by the CA
#
# Fixed dates (2024-2050) keep tests from rotting.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cd "$here"

rm -f ./*.pem ./*.srl
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

cat >"$work/openssl.cnf" <<'EOF'
[ ca ]
default_ca = tls_ca

[ tls_ca ]
dir             = $ENV::CA_DIR
database        = $dir/index.txt
new_certs_dir   = $dir/new
serial          = $dir/serial
default_md      = sha256
policy          = policy_any
unique_subject  = no
copy_extensions = none

[ policy_any ]
organizationName = optional
commonName       = supplied

[ req ]
distinguished_name = req_dn
prompt             = no

[ req_dn ]
CN = placeholder

[ v3_ca ]
basicConstraints       = critical, CA:true, pathlen:0
keyUsage               = critical, keyCertSign, cRLSign
nameConstraints        = critical, permitted;DNS:localhost, permitted;IP:127.0.0.0/255.0.0.0, permitted;IP:::1/ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff
subjectKeyIdentifier   = hash
authorityKeyIdentifier = keyid:always

[ v3_server ]
basicConstraints       = critical, CA:false
keyUsage               = critical, digitalSignature, keyEncipherment
extendedKeyUsage       = serverAuth
subjectAltName         = DNS:localhost, IP:127.0.0.1, IP:::1
subjectKeyIdentifier   = hash
authorityKeyIdentifier = keyid:always
EOF
export OPENSSL_CONF="$work/openssl.cnf"
export CA_DIR="$work"
mkdir -p "$work/new"
: >"$work/index.txt"

ca() {
    openssl ca -batch -notext -rand_serial -config "$OPENSSL_CONF" \
        -startdate 20240101000000Z -enddate 20501231235959Z "$@" 2>"$work/ca.log" ||
        { cat "$work/ca.log" >&2; return 1; }
}

openssl genrsa -out ca.key.pem 3072 2>/dev/null
openssl req -new -key ca.key.pem -subj "/O=konto Development/CN=konto Development TLS CA" \
    -out "$work/ca.csr"
ca -selfsign -keyfile ca.key.pem -in "$work/ca.csr" -extensions v3_ca -out ca.pem

openssl genrsa -out server.key.pem 2048 2>/dev/null
openssl req -new -key server.key.pem -subj "/O=konto Development/CN=localhost" -out "$work/server.csr"
ca -cert ca.pem -keyfile ca.key.pem -in "$work/server.csr" -extensions v3_server -out server.crt.pem
cat server.crt.pem ca.pem >server.fullchain.pem

openssl verify -CAfile ca.pem -purpose sslserver server.crt.pem >/dev/null
chmod 644 ./*.pem
echo "keys-dev/tls: generated $(ls ./*.pem | wc -l) files"
