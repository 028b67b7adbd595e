#!/bin/sh
# gitea-init: one-shot, idempotent set-up of the Gitea server for edge-intent. Runs in the Gitea
# image (its `gitea` CLI, curl and su-exec), with Gitea's /data volume, after Gitea is healthy.
#
#   1. the administrator GITEA_ADMIN_USER (gitea CLI), for the web UI and the REST calls below;
#   2. the organisation GITEA_ORG and one private repository per name in GITEA_REPOS (the `repo` of
#      each site of config/sites.yaml), initialised on branch main;
#   3. the user `pipeline` (write access: Airflow delivers and reverts) and the user `configsync`
#      (read access: the sites' Config Sync pulls), both with random passwords nobody needs;
#   4. an access token for each, scoped to repositories: /tokens/pipeline/pipeline-token (mounted
#      read-only by the Airflow services only) and /tokens/sites/sites-token (mounted read-only by
#      the sites only), owned by FILES_OWNER, mode 0440. A token that still authenticates is kept.
#
# Credentials never go on a command line: curl reads the admin login from a mode-0600 config file.
set -eu

: "${GITEA_URL:=http://gitea:3000}"
: "${GITEA_ORG:=edge-intent}"
: "${GITEA_REPOS:?GITEA_REPOS must list the site config repositories}"
: "${GITEA_ADMIN_USER:?GITEA_ADMIN_USER is required}"
: "${GITEA_ADMIN_PASSWORD:?GITEA_ADMIN_PASSWORD is required}"
: "${GITEA_ADMIN_EMAIL:=gitea-admin@edge-intent.invalid}"
: "${FILES_OWNER:=50000:0}"
TOKENS=${TOKENS_DIR:-/tokens}

umask 077
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
printf 'user = "%s:%s"\n' "$GITEA_ADMIN_USER" "$GITEA_ADMIN_PASSWORD" > "$work/admin.curlrc"

log() { echo "gitea-init: $*"; }
gitea_cli() { su-exec git gitea "$@"; }

# api METHOD PATH [JSON]: prints the HTTP status; the body is in $work/body.
api() {
  if [ $# -ge 3 ]; then
    curl -sS -K "$work/admin.curlrc" -o "$work/body" -w '%{http_code}' -X "$1" \
      -H 'Content-Type: application/json' --data "$3" "$GITEA_URL/api/v1$2"
  else
    curl -sS -K "$work/admin.curlrc" -o "$work/body" -w '%{http_code}' -X "$1" "$GITEA_URL/api/v1$2"
  fi
}

expect() { # expect STATUS ALLOWED... (what)
  status=$1; what=$2; shift 2
  for ok in "$@"; do [ "$status" = "$ok" ] && return 0; done
  log "$what failed: HTTP $status: $(cat "$work/body" 2>/dev/null)" >&2
  exit 1
}

log "waiting for $GITEA_URL"
i=0
until curl -fsS -o /dev/null "$GITEA_URL/api/healthz"; do
  i=$((i + 1)); [ "$i" -lt 60 ] || { log "Gitea is not healthy" >&2; exit 1; }
  sleep 2
done

user_exists() { gitea_cli admin user list | awk 'NR > 1 { print $2 }' | grep -qx "$1"; }

if user_exists "$GITEA_ADMIN_USER"; then
  log "administrator $GITEA_ADMIN_USER exists"
else
  log "creating administrator $GITEA_ADMIN_USER"
  gitea_cli admin user create --admin --username "$GITEA_ADMIN_USER" --email "$GITEA_ADMIN_EMAIL" \
    --password "$GITEA_ADMIN_PASSWORD" --must-change-password=false >/dev/null
fi

for user in pipeline configsync; do
  if ! user_exists "$user"; then
    log "creating user $user"
    gitea_cli admin user create --username "$user" --email "$user@edge-intent.invalid" \
      --random-password --must-change-password=false >/dev/null
  fi
done

status=$(api GET "/orgs/$GITEA_ORG")
if [ "$status" = 404 ]; then
  log "creating organisation $GITEA_ORG"
  expect "$(api POST /orgs "{\"username\": \"$GITEA_ORG\", \"visibility\": \"private\"}")" \
    "creating organisation $GITEA_ORG" 201
else
  expect "$status" "reading organisation $GITEA_ORG" 200
fi

for repo in $GITEA_REPOS; do
  status=$(api GET "/repos/$GITEA_ORG/$repo")
  if [ "$status" = 404 ]; then
    log "creating repository $GITEA_ORG/$repo"
    expect "$(api POST "/orgs/$GITEA_ORG/repos" \
      "{\"name\": \"$repo\", \"private\": true, \"auto_init\": true, \"default_branch\": \"main\", \"description\": \"edge-intent: config repository of a site, synced by its RootSync\"}")" \
      "creating repository $repo" 201
  else
    expect "$status" "reading repository $repo" 200
  fi
  expect "$(api PUT "/repos/$GITEA_ORG/$repo/collaborators/pipeline" '{"permission": "write"}')" \
    "granting pipeline write access to $repo" 204
  expect "$(api PUT "/repos/$GITEA_ORG/$repo/collaborators/configsync" '{"permission": "read"}')" \
    "granting configsync read access to $repo" 204
done

# token USER SCOPES FILE: keep FILE's token while it can still read the first repository (the
# tokens are scoped to repositories only), otherwise create a new one.
first_repo=${GITEA_REPOS%% *}
token() {
  user=$1; scopes=$2; file=$3
  if [ -s "$file" ]; then
    printf 'header = "Authorization: token %s"\n' "$(cat "$file")" > "$work/token.curlrc"
    if curl -fsS -o /dev/null -K "$work/token.curlrc" "$GITEA_URL/api/v1/repos/$GITEA_ORG/$first_repo"; then
      log "the token of $user in $file still authenticates; kept"
      return 0
    fi
  fi
  log "creating an access token for $user ($scopes)"
  gitea_cli admin user generate-access-token --username "$user" \
    --token-name "edge-intent-$(date -u +%Y%m%dT%H%M%SZ)" --scopes "$scopes" --raw \
    | tr -d '\n' > "$file.new"
  [ -s "$file.new" ] || { log "no token was created for $user" >&2; exit 1; }
  chown "$FILES_OWNER" "$file.new"
  chmod 0440 "$file.new"
  mv "$file.new" "$file"
}

mkdir -p "$TOKENS/pipeline" "$TOKENS/sites"
token pipeline write:repository "$TOKENS/pipeline/pipeline-token"
token configsync read:repository "$TOKENS/sites/sites-token"
log "done: $GITEA_ORG with $(echo "$GITEA_REPOS" | wc -w) repositories"
