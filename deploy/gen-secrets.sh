#!/bin/sh
# Makes the secrets a deployment needs, once: a CA with a NATS server and a NATS client certificate, the services'
# shared RAGTUNE_AUTH_TOKEN, the NATS password, and each node agent's own credential (bound to its node id).
#   deploy/gen-secrets.sh                 writes deploy/secrets/nats/*.pem and deploy/.env (compose reads it)
#   deploy/gen-secrets.sh --k8s           also prints the Kubernetes Secrets (kubectl apply -n ragtune -f -)
# Existing files are kept (delete deploy/secrets and deploy/.env to start over). Needs openssl.
set -eu
here=$(CDPATH='' cd -- "$(dirname -- "$0")" && pwd)
out=${RAGTUNE_SECRETS_DIR:-$here/secrets}
env_file=${RAGTUNE_ENV_FILE:-$here/.env}
umask 077
mkdir -p "$out/nats"
cd "$out/nats"

issue() { # name, subject, extensions
  openssl req -newkey rsa:2048 -nodes -keyout "$1-key.pem" -subj "$2" -out "$1.csr" 2>/dev/null
  printf '%s\n' "$3" >"$1.ext"
  openssl x509 -req -in "$1.csr" -CA ca.pem -CAkey ca-key.pem -CAcreateserial -days 825 -sha256 \
    -extfile "$1.ext" -out "$1.pem" 2>/dev/null
  rm -f "$1.csr" "$1.ext"
}
if [ ! -f ca.pem ]; then
  openssl req -x509 -newkey rsa:2048 -nodes -keyout ca-key.pem -subj "/CN=ragtune NATS CA" -days 3650 -out ca.pem 2>/dev/null
  issue server "/CN=nats" \
    "subjectAltName=DNS:nats,DNS:nats.ragtune.svc,DNS:nats.ragtune.svc.cluster.local,DNS:localhost,IP:127.0.0.1
extendedKeyUsage=serverAuth"
  issue client "/CN=ragtune" "extendedKeyUsage=clientAuth"
fi
# The containers run as another user than the one that ran this script: the certificates and keys they mount
# must be readable to it. The folder itself stays the owner's.
chmod 0644 ca.pem server.pem server-key.pem client.pem client-key.pem
chmod 0700 "$out"

random() { openssl rand -hex 32; }
# nats.conf reads the password through a variable reference, which nats-server parses as a config value: hex that
# starts like a number ("1e5a…") makes the server refuse to start, all digits would become a number. A leading
# letter keeps it a string.
nats_password() { printf 'nats%s' "$(random)"; }
# A node agent's credential: ragtune-node:<node id>:<hex HMAC-SHA256(auth token, "ragtune-node:<node id>")>.
node_token() { printf 'ragtune-node:%s:%s' "$2" "$(printf 'ragtune-node:%s' "$2" | openssl dgst -sha256 -hmac "$1" -r | cut -d' ' -f1)"; }
if [ ! -f "$env_file" ]; then
  auth=$(random)
  {
    echo "RAGTUNE_AUTH_TOKEN=$auth"
    echo "NATS_PASSWORD=$(nats_password)"
    echo "RAGTUNE_AGENT_TOKEN_CPU=$(node_token "$auth" compose-cpu)"
    echo "RAGTUNE_AGENT_TOKEN_GPU=$(node_token "$auth" compose-gpu)"
    echo "RAGTUNE_AGENT_TOKEN_K8S_CPU=$(node_token "$auth" k8s-cpu-0)"
    echo "RAGTUNE_AGENT_TOKEN_K8S_GPU=$(node_token "$auth" k8s-gpu-0)"
  } >"$env_file"
  echo "wrote $env_file" >&2
fi
echo "NATS certificates in $out/nats" >&2

if [ "${1:-}" = "--k8s" ]; then
  # shellcheck disable=SC1090
  . "$env_file"
  b64() { base64 | tr -d '\n'; }
  cat <<YAML
apiVersion: v1
kind: Secret
metadata:
  name: ragtune-secrets
stringData:
  RAGTUNE_AUTH_TOKEN: "$RAGTUNE_AUTH_TOKEN"
  NATS_PASSWORD: "$NATS_PASSWORD"
  RAGTUNE_AGENT_TOKEN_CPU: "$RAGTUNE_AGENT_TOKEN_K8S_CPU"
  RAGTUNE_AGENT_TOKEN_GPU: "$RAGTUNE_AGENT_TOKEN_K8S_GPU"
---
apiVersion: v1
kind: Secret
metadata:
  name: ragtune-nats-server-tls
data:
  ca.crt: $(b64 <ca.pem)
  tls.crt: $(b64 <server.pem)
  tls.key: $(b64 <server-key.pem)
---
apiVersion: v1
kind: Secret
metadata:
  name: ragtune-nats-client-tls
data:
  ca.crt: $(b64 <ca.pem)
  tls.crt: $(b64 <client.pem)
  tls.key: $(b64 <client-key.pem)
YAML
fi
