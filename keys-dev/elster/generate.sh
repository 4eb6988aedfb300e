#!/usr/bin/env bash
# Development PKI standing in for the ELSTER CA. PUBLIC, INSECURE TEST MATERIAL: every private
# key below is committed to the repository. Never configure these files outside development.
#
# Usage: keys-dev/elster/generate.sh   (needs bash and the openssl 3 command line tool)
#
# Regenerates everything in this folder from scratch (idempotent: running it again replaces all
# outputs with fresh keys and certificates of the same shape; README.md and this script stay):
#
#   root-ca.{crt,key}.pem        "konto Test-ELSTER Root CA"   (self-signed, RSA 3072)
#   issuing-ca.{crt,key}.pem     "konto Test-ELSTER CA 1"      (issued by the root, pathlen 0)
#   ca-chain.pem                 the trust anchors konto is configured with: issuing CA + root
#   crl.pem / crl.der            CRL of the issuing CA listing `revoked`, nextUpdate 2055
#   crl-stale.pem                CRL of the issuing CA whose nextUpdate lies in 2021 (tests)
#   foreign-ca.{crt,key}.pem     "Foreign Test CA", NOT a trust anchor
#   foreign-crl.pem              a CRL signed by the foreign CA (tests: must be rejected)
#   <user>.p12                   PKCS#12 (PIN 123456, AES-256-CBC/PBKDF2, SHA-256 MAC) with chain
#   <user>.crt.pem <user>.key.pem  the same certificate and key for curl and tests
#
# Users: erika (valid, full subject with serialNumber, e-mail), max (valid, CN only), expired
# (2020-2021), revoked (valid dates, listed in crl.pem), foreign (issued by the foreign CA),
# wrong-usage (keyUsage keyEncipherment only, extendedKeyUsage serverAuth only). Edge cases:
# ecdsa (valid, P-256 key), critical-ext (an unknown critical extension), issued-by-max (signed
# by max's key although max is no CA). Organisation: org-mustermann (valid, names a company).
#
# Fixed validity dates (not "now + n days") keep the tests from rotting: CAs 2020-2060, valid
# users 2024-2050.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cd "$here"

PIN=123456
CA_START=20200101000000Z
CA_END=20601231235959Z
USER_START=20240101000000Z
USER_END=20501231235959Z

rm -f ./*.pem ./*.der ./*.p12 ./*.srl
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

# One openssl.cnf for all CAs; each CA gets its own database directory in $work.
cat >"$work/openssl.cnf" <<'EOF'
[ ca ]
default_ca = konto_ca

[ konto_ca ]
dir              = $ENV::CA_DIR
database         = $dir/index.txt
new_certs_dir    = $dir/new
serial           = $dir/serial
crlnumber        = $dir/crlnumber
default_md       = sha256
policy           = policy_any
unique_subject   = no
copy_extensions  = none
email_in_dn      = yes
preserve         = yes
default_crl_days = 3650

[ policy_any ]
countryName            = optional
organizationName       = optional
organizationalUnitName = optional
commonName             = supplied
givenName              = optional
surname                = optional
serialNumber           = optional
organizationIdentifier = optional
emailAddress           = optional

[ req ]
distinguished_name = req_dn
prompt             = no
utf8               = yes
string_mask        = utf8only

[ req_dn ]
CN = placeholder

[ v3_root ]
basicConstraints       = critical, CA:true
keyUsage               = critical, keyCertSign, cRLSign
subjectKeyIdentifier   = hash
authorityKeyIdentifier = keyid:always

[ v3_issuing ]
basicConstraints       = critical, CA:true, pathlen:0
keyUsage               = critical, keyCertSign, cRLSign
subjectKeyIdentifier   = hash
authorityKeyIdentifier = keyid:always

[ v3_user ]
basicConstraints       = critical, CA:false
keyUsage               = critical, digitalSignature
extendedKeyUsage       = clientAuth
subjectKeyIdentifier   = hash
authorityKeyIdentifier = keyid:always

[ v3_user_erika ]
basicConstraints       = critical, CA:false
keyUsage               = critical, digitalSignature
extendedKeyUsage       = clientAuth
subjectKeyIdentifier   = hash
authorityKeyIdentifier = keyid:always
subjectAltName         = email:erika.mustermann@example.org

[ v3_wrong_usage ]
basicConstraints       = critical, CA:false
keyUsage               = critical, keyEncipherment
extendedKeyUsage       = serverAuth
subjectKeyIdentifier   = hash
authorityKeyIdentifier = keyid:always

[ v3_unknown_critical ]
basicConstraints       = critical, CA:false
keyUsage               = critical, digitalSignature
extendedKeyUsage       = clientAuth
subjectKeyIdentifier   = hash
authorityKeyIdentifier = keyid:always
1.3.6.1.4.1.55555.1    = critical, DER:05:00

[ crl_ext ]
authorityKeyIdentifier = keyid:always
EOF
export OPENSSL_CONF="$work/openssl.cnf"
export CA_DIR="$work" # overridden per call by ca()

new_ca_db() { # <name>
    mkdir -p "$work/$1/new"
    : >"$work/$1/index.txt"
    echo 1000 >"$work/$1/crlnumber"
}

# openssl ca against the database of CA <name>; remaining arguments passed through.
ca() { # <name> args...
    local name="$1"
    shift
    CA_DIR="$work/$name" openssl ca -batch -notext -rand_serial -config "$OPENSSL_CONF" "$@" 2>"$work/ca.log" || { cat "$work/ca.log" >&2; return 1; }
}

# A self-signed CA certificate with fixed dates.
self_signed_ca() { # <file-prefix> <subject>
    new_ca_db "$1"
    openssl genrsa -out "$1.key.pem" 3072 2>/dev/null
    openssl req -new -key "$1.key.pem" -subj "$2" -utf8 -out "$work/$1.csr"
    ca "$1" -selfsign -keyfile "$1.key.pem" -in "$work/$1.csr" -extensions v3_root \
        -startdate "$CA_START" -enddate "$CA_END" -out "$1.crt.pem"
}

# A user certificate: key, certificate and PKCS#12 with the chain.
user() { # <name> <ca-prefix> <subject> <extensions> <start> <end> <chain-file> <friendly-name>
    local name="$1" issuer="$2" subject="$3" ext="$4" start="$5" end="$6" chain="$7" friendly="$8"
    if [[ "${KEY_TYPE:-rsa}" == ec ]]; then
        openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$name.key.pem"
    else
        openssl genrsa -out "$name.key.pem" 2048 2>/dev/null
    fi
    openssl req -new -key "$name.key.pem" -subj "$subject" -utf8 -out "$work/$name.csr"
    ca "$issuer" -cert "$issuer.crt.pem" -keyfile "$issuer.key.pem" -in "$work/$name.csr" \
        -extensions "$ext" -startdate "$start" -enddate "$end" -out "$name.crt.pem"
    openssl pkcs12 -export -in "$name.crt.pem" -inkey "$name.key.pem" -certfile "$chain" \
        -name "$friendly" -passout "pass:$PIN" \
        -keypbe AES-256-CBC -certpbe AES-256-CBC -macalg sha256 -iter 100000 \
        -out "$name.p12"
}

# --- the stand-in for ELSTER ---------------------------------------------------------------------
self_signed_ca root-ca "/C=DE/O=konto Test/CN=konto Test-ELSTER Root CA"

new_ca_db issuing-ca
openssl genrsa -out issuing-ca.key.pem 3072 2>/dev/null
openssl req -new -key issuing-ca.key.pem -subj "/C=DE/O=konto Test/CN=konto Test-ELSTER CA 1" \
    -out "$work/issuing-ca.csr"
ca root-ca -cert root-ca.crt.pem -keyfile root-ca.key.pem -in "$work/issuing-ca.csr" \
    -extensions v3_issuing -startdate "$CA_START" -enddate "$CA_END" -out issuing-ca.crt.pem

cat issuing-ca.crt.pem root-ca.crt.pem >ca-chain.pem

user erika issuing-ca \
    "/C=DE/GN=Erika/SN=Mustermann/CN=Erika Mustermann/serialNumber=KONTO-TEST-0000001" \
    v3_user_erika "$USER_START" "$USER_END" ca-chain.pem "Erika Mustermann (konto Test-ELSTER)"
user max issuing-ca "/C=DE/CN=Max Mustermann" \
    v3_user "$USER_START" "$USER_END" ca-chain.pem "Max Mustermann (konto Test-ELSTER)"
user expired issuing-ca "/C=DE/GN=Otto/SN=Abgelaufen/CN=Otto Abgelaufen/serialNumber=KONTO-TEST-0000003" \
    v3_user 20200101000000Z 20210101000000Z ca-chain.pem "Otto Abgelaufen (expired)"
user revoked issuing-ca "/C=DE/GN=Rita/SN=Widerruf/CN=Rita Widerruf/serialNumber=KONTO-TEST-0000004" \
    v3_user "$USER_START" "$USER_END" ca-chain.pem "Rita Widerruf (revoked)"
user wrong-usage issuing-ca "/C=DE/GN=Fritz/SN=Falsch/CN=Fritz Falsch/serialNumber=KONTO-TEST-0000005" \
    v3_wrong_usage "$USER_START" "$USER_END" ca-chain.pem "Fritz Falsch (wrong key usage)"

# Edge cases for the tests (see README.md).
KEY_TYPE=ec user ecdsa issuing-ca "/C=DE/GN=Emil/SN=Elliptisch/CN=Emil Elliptisch/serialNumber=KONTO-TEST-0000006" \
    v3_user "$USER_START" "$USER_END" ca-chain.pem "Emil Elliptisch (ECDSA P-256)"
user critical-ext issuing-ca "/C=DE/GN=Klara/SN=Kritisch/CN=Klara Kritisch/serialNumber=KONTO-TEST-0000007" \
    v3_unknown_critical "$USER_START" "$USER_END" ca-chain.pem "Klara Kritisch (unknown critical extension)"
# max is no CA, yet signs a certificate: a path through him must be refused.
new_ca_db max
user issued-by-max max "/C=DE/GN=Moritz/SN=Untergeordnet/CN=Moritz Untergeordnet" \
    v3_user "$USER_START" "$USER_END" ca-chain.pem "Moritz Untergeordnet (issued by a non-CA)"

# An organisation certificate, as ELSTER issues them to companies (Mein Unternehmenskonto): the
# subject names the organisation (O, and organizationIdentifier in the ETSI EN 319 412-1 form
# with its VAT number, the basis of the Wirtschafts-Identifikationsnummer) and no person.
user org-mustermann issuing-ca \
    "/C=DE/O=Mustermann Software GmbH/organizationIdentifier=VATDE-123456788/CN=Mustermann Software GmbH/serialNumber=KONTO-TEST-ORG-0000001" \
    v3_user "$USER_START" "$USER_END" ca-chain.pem "Mustermann Software GmbH (konto Test-ELSTER organisation)"

# --- revocation ----------------------------------------------------------------------------------
ca issuing-ca -cert issuing-ca.crt.pem -keyfile issuing-ca.key.pem -revoke revoked.crt.pem \
    -crl_reason keyCompromise
ca issuing-ca -cert issuing-ca.crt.pem -keyfile issuing-ca.key.pem -gencrl -crlexts crl_ext \
    -crl_lastupdate 20250101000000Z -crl_nextupdate 20551231235959Z -out crl.pem
openssl crl -in crl.pem -outform DER -out crl.der
ca issuing-ca -cert issuing-ca.crt.pem -keyfile issuing-ca.key.pem -gencrl -crlexts crl_ext \
    -crl_lastupdate 20200101000000Z -crl_nextupdate 20210101000000Z -out crl-stale.pem

# --- a CA konto does not trust -------------------------------------------------------------------
self_signed_ca foreign-ca "/C=DE/O=Elsewhere/CN=Foreign Test CA"
user foreign foreign-ca "/C=DE/GN=Fiona/SN=Fremd/CN=Fiona Fremd/serialNumber=FOREIGN-0000001" \
    v3_user "$USER_START" "$USER_END" foreign-ca.crt.pem "Fiona Fremd (foreign CA)"
ca foreign-ca -cert foreign-ca.crt.pem -keyfile foreign-ca.key.pem -gencrl -crlexts crl_ext \
    -crl_lastupdate 20250101000000Z -crl_nextupdate 20551231235959Z -out foreign-crl.pem

# --- sanity checks: fail loudly if the material is not what the tests expect ----------------------
for u in erika max revoked wrong-usage ecdsa; do
    openssl verify -CAfile ca-chain.pem "$u.crt.pem" >/dev/null
done
openssl verify -crl_check -CRLfile crl.pem -CAfile ca-chain.pem erika.crt.pem >/dev/null
if openssl verify -crl_check -CRLfile crl.pem -CAfile ca-chain.pem revoked.crt.pem >/dev/null 2>&1; then
    echo "revoked.crt.pem is not revoked" >&2
    exit 1
fi
for u in critical-ext issued-by-max; do
    if openssl verify -CAfile ca-chain.pem -untrusted max.crt.pem "$u.crt.pem" >/dev/null 2>&1; then
        echo "$u.crt.pem verifies but must not" >&2
        exit 1
    fi
done
openssl pkcs12 -in erika.p12 -passin "pass:$PIN" -noout
chmod 644 ./*.pem ./*.der ./*.p12
echo "keys-dev/elster: generated $(ls ./*.pem ./*.der ./*.p12 | wc -l) files"
