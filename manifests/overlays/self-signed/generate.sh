#!/usr/bin/env bash
# Makes what the self-signed overlay needs, in generated/ beside this script:
# a private CA and a serving certificate for the webhook's Service DNS names
# (certs/gen-dev-certs.sh: EC P-256, 365 days), read by the overlay's
# secretGenerator, and ca-bundle-patch.yaml, the patch that puts the CA into
# the MutatingWebhookConfiguration. Never commit generated/ (it holds keys).
#
# Usage: generate.sh [--force] [SERVICE [NAMESPACE]]   (irsa-webhook irsa-system)
#
# Existing files are kept while they are valid for at least another day and
# name the Service; --force makes a new CA and certificate. Then:
#   kubectl apply -k manifests/overlays/self-signed
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../../.." && pwd)
out=$here/generated

force=()
positional=()
for arg in "$@"; do
  case "$arg" in
    --force) force=(--force) ;;
    -h | --help) sed -n '2,14p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    -*) echo "$0: unknown option $arg" >&2; exit 2 ;;
    *) positional+=("$arg") ;;
  esac
done
service=${positional[0]:-irsa-webhook}
namespace=${positional[1]:-irsa-system}

mkdir -p "$out"
bash "$root/certs/gen-dev-certs.sh" "${force[@]}" --cluster-only "$out" "$service" "$namespace"

ca_bundle=$(base64 -w0 <"$out/ca.crt")
cat >"$out/ca-bundle-patch.yaml.tmp" <<PATCH
# Written by generate.sh from generated/ca.crt; do not edit or commit.
- op: add
  path: /webhooks/0/clientConfig/caBundle
  value: $ca_bundle
PATCH
mv "$out/ca-bundle-patch.yaml.tmp" "$out/ca-bundle-patch.yaml"
echo "wrote $out/ca-bundle-patch.yaml"
echo "next: kubectl apply -k ${here#"$PWD"/}"
