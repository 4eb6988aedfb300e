#!/usr/bin/env bash
# Regenerates the PUBLIC, INSECURE eID development material in this folder (see README.md).
# Needs only the openssl command-line tool. Run from anywhere: ./keys-dev/eid/generate.sh
set -euo pipefail
cd "$(dirname "$0")"

DAYS=9125 # 25 years: tests should not start failing because test material expired
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

key() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1"; }

# 1. The development CA: signs the simulator's server certificate and konto's client certificate.
key ca.key
openssl req -x509 -new -key ca.key -sha256 -days "$DAYS" -out ca.pem \
  -subj "/C=DE/O=konto development/CN=konto eID dev CA (INSECURE)" \
  -addext "basicConstraints=critical,CA:TRUE,pathlen:0" \
  -addext "keyUsage=critical,keyCertSign,cRLSign" \
  -addext "subjectKeyIdentifier=hash"

# 2. The eID-Server simulator's TLS server certificate (localhost, 127.0.0.1, ::1).
key server.key
openssl req -new -key server.key -out "$tmp/server.csr" \
  -subj "/C=DE/O=konto development/CN=konto-eid-sim"
cat > "$tmp/server.ext" <<'EXT'
basicConstraints=critical,CA:FALSE
keyUsage=critical,digitalSignature
extendedKeyUsage=serverAuth
subjectAltName=DNS:localhost,IP:127.0.0.1,IP:::1
authorityKeyIdentifier=keyid
subjectKeyIdentifier=hash
EXT
openssl x509 -req -in "$tmp/server.csr" -CA ca.pem -CAkey ca.key -CAcreateserial \
  -sha256 -days "$DAYS" -extfile "$tmp/server.ext" -out server.pem

# 3. konto's TLS client certificate towards the eID-Server (stands in for the eID service
#    provider's identity that a real eID-Server operator would issue or register).
key client.key
openssl req -new -key client.key -out "$tmp/client.csr" \
  -subj "/C=DE/O=konto development/CN=konto eID service provider (dev)"
cat > "$tmp/client.ext" <<'EXT'
basicConstraints=critical,CA:FALSE
keyUsage=critical,digitalSignature
extendedKeyUsage=clientAuth
authorityKeyIdentifier=keyid
subjectKeyIdentifier=hash
EXT
openssl x509 -req -in "$tmp/client.csr" -CA ca.pem -CAkey ca.key -CAcreateserial \
  -sha256 -days "$DAYS" -extfile "$tmp/client.ext" -out client.pem

# 4. A client certificate the development CA did NOT issue: tests use it to show that the
#    simulator refuses unknown clients.
key untrusted-client.key
openssl req -x509 -new -key untrusted-client.key -sha256 -days "$DAYS" -out untrusted-client.pem \
  -subj "/C=DE/O=somebody else/CN=untrusted eID client" \
  -addext "basicConstraints=critical,CA:FALSE" \
  -addext "keyUsage=critical,digitalSignature" \
  -addext "extendedKeyUsage=clientAuth"

rm -f ca.srl
echo "eID development material written to $(pwd)"
