#!/usr/bin/env bash
# Development TLS material for irsa-webhook: a private CA and a serving
# certificate signed by it, for running the webhook locally or in a test
# cluster. Not for production (use cert-manager or your own PKI there).
#
# Usage: certs/gen-dev-certs.sh [--force] [--cluster-only] OUT_DIR [SERVICE [NAMESPACE]]
#
# Writes OUT_DIR/ca.crt, ca.key, tls.crt, tls.key (EC P-256). The serving
# certificate is valid for 365 days and names localhost, 127.0.0.1, SERVICE,
# SERVICE.NAMESPACE, SERVICE.NAMESPACE.svc and SERVICE.NAMESPACE.svc.cluster.local
# (defaults: irsa-webhook, irsa-system); with --cluster-only, not localhost
# and 127.0.0.1 (for a certificate served in a cluster). Existing files are kept while they
# are still valid for at least a day, match each other and name every SAN;
# --force regenerates everything.
set -euo pipefail

CA_DAYS=3650
SERVING_DAYS=365

usage() {
  echo "usage: $0 [--force] [--cluster-only] OUT_DIR [SERVICE [NAMESPACE]]" >&2
  exit 2
}

force=0
cluster_only=0
positional=()
for arg in "$@"; do
  case "$arg" in
    --force) force=1 ;;
    --cluster-only) cluster_only=1 ;;
    -h | --help) usage ;;
    -*) echo "$0: unknown option $arg" >&2; usage ;;
    *) positional+=("$arg") ;;
  esac
done
[ "${#positional[@]}" -ge 1 ] && [ "${#positional[@]}" -le 3 ] || usage

out_dir=${positional[0]}
service=${positional[1]:-irsa-webhook}
namespace=${positional[2]:-irsa-system}

command -v openssl >/dev/null || { echo "$0: openssl is required" >&2; exit 1; }

dns_names=("$service" "$service.$namespace" "$service.$namespace.svc"
  "$service.$namespace.svc.cluster.local")
ip_addresses=()
if [ "$cluster_only" = 0 ]; then
  dns_names=(localhost "${dns_names[@]}")
  ip_addresses=(127.0.0.1)
fi

mkdir -p "$out_dir"
ca_crt=$out_dir/ca.crt
ca_key=$out_dir/ca.key
tls_crt=$out_dir/tls.crt
tls_key=$out_dir/tls.key

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# The public key of a certificate or a private key, for matching them.
pubkey_of_cert() { openssl x509 -in "$1" -noout -pubkey 2>/dev/null; }
pubkey_of_key() { openssl pkey -in "$1" -pubout 2>/dev/null; }

ca_is_usable() {
  [ -s "$ca_crt" ] && [ -s "$ca_key" ] || return 1
  openssl x509 -in "$ca_crt" -noout -checkend 86400 >/dev/null 2>&1 || return 1
  [ "$(pubkey_of_cert "$ca_crt")" = "$(pubkey_of_key "$ca_key")" ] || return 1
}

serving_is_usable() {
  [ -s "$tls_crt" ] && [ -s "$tls_key" ] || return 1
  openssl x509 -in "$tls_crt" -noout -checkend 86400 >/dev/null 2>&1 || return 1
  [ "$(pubkey_of_cert "$tls_crt")" = "$(pubkey_of_key "$tls_key")" ] || return 1
  openssl verify -CAfile "$ca_crt" "$tls_crt" >/dev/null 2>&1 || return 1
  local sans
  sans=$(openssl x509 -in "$tls_crt" -noout -ext subjectAltName 2>/dev/null) || return 1
  local name
  for name in "${dns_names[@]}"; do
    grep -qE "DNS:${name//./\\.}(,|\$)" <<<"$sans" || return 1
  done
  for name in "${ip_addresses[@]}"; do
    grep -qE "IP Address:${name//./\\.}(,|\$)" <<<"$sans" || return 1
  done
}

new_key() {
  (umask 077 && openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1")
}

wrote=()

if [ "$force" = 1 ] || ! ca_is_usable; then
  new_key "$work/ca.key"
  openssl req -x509 -new -key "$work/ca.key" -sha256 -days "$CA_DAYS" \
    -subj "/CN=irsa-webhook development CA" \
    -addext "basicConstraints=critical,CA:TRUE" \
    -addext "keyUsage=critical,keyCertSign,cRLSign" \
    -out "$work/ca.crt" 2>/dev/null
  mv "$work/ca.key" "$ca_key"
  mv "$work/ca.crt" "$ca_crt"
  wrote+=("$ca_crt" "$ca_key")
  force=1  # a new CA invalidates the serving certificate
fi

if [ "$force" = 1 ] || ! serving_is_usable; then
  san=""
  for name in "${dns_names[@]}"; do san+="${san:+,}DNS:$name"; done
  for name in "${ip_addresses[@]}"; do san+=",IP:$name"; done
  cat >"$work/serving.ext" <<EOF
basicConstraints=critical,CA:FALSE
keyUsage=critical,digitalSignature
extendedKeyUsage=serverAuth
subjectAltName=$san
EOF
  new_key "$work/tls.key"
  openssl req -new -key "$work/tls.key" -subj "/CN=$service.$namespace.svc" \
    -out "$work/tls.csr" 2>/dev/null
  openssl x509 -req -in "$work/tls.csr" -CA "$ca_crt" -CAkey "$ca_key" \
    -CAcreateserial -CAserial "$work/ca.srl" -sha256 -days "$SERVING_DAYS" \
    -extfile "$work/serving.ext" -out "$work/tls.crt" 2>/dev/null
  mv "$work/tls.key" "$tls_key"
  mv "$work/tls.crt" "$tls_crt"
  wrote+=("$tls_crt" "$tls_key")
fi

if [ "${#wrote[@]}" -eq 0 ]; then
  echo "kept existing, still valid: $ca_crt $ca_key $tls_crt $tls_key"
else
  for file in "${wrote[@]}"; do echo "wrote $file"; done
  echo "serving certificate names: ${dns_names[*]} ${ip_addresses[*]} (valid $SERVING_DAYS days)"
fi
