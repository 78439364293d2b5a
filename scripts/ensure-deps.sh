#!/usr/bin/env bash
# Makes this machine able to build and run the project. Idempotent; safe to run before every
# `npm run devnet` / `npm test` / `npm run bench`. Debian/Ubuntu (apt) + Node 20; uses sudo when not root.
#
#   1. node_modules: `npm ci` when missing or older than package-lock.json
#   2. nats-server:  `apt-get install -y nats-server` when missing (the project runs its OWN server
#                    with a generated config on a free port; a system service on 4222 is ignored)
#   3. PostgreSQL:   an admin URL that can CREATE DATABASE:
#                      $QUORUM_PG_URL if set (must work; nothing is installed), else .run/pg-url if it works,
#                      else postgres://postgres@127.0.0.1:5432/postgres if it works (e.g. trust auth),
#                      else PostgreSQL is installed if missing (`apt-get install -y postgresql`), a cluster
#                      created if none exists, every cluster started (pg_ctlcluster), and then — typical
#                      fresh install, where TCP needs a password and the `postgres` role
#                      has none — a role `quorum` (password `quorum`, LOGIN CREATEDB; dev only) is
#                      created through the local socket as the postgres OS user, and
#                      postgres://quorum:quorum@127.0.0.1:<port>/postgres is written to .run/pg-url,
#                      which cli/postgres-admin.ts reads when QUORUM_PG_URL is not set.
#   4. `npm run build`
#
# Env: QUORUM_PG_URL (admin URL override), QUORUM_PG_PORT (local cluster port, default 5432), SKIP_BUILD=1 (skip step 4), SKIP_NPM=1 (skip step 1).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROOT=$(pwd)
PG_PORT=${QUORUM_PG_PORT:-5432}   # the local cluster's port (set it if yours is not 5432)
DEFAULT_PG_URL="postgres://postgres@127.0.0.1:${PG_PORT}/postgres"
PG_URL_FILE="$ROOT/.run/pg-url"

log() { echo "ensure-deps: $*" >&2; }
die() { log "ERROR: $*"; exit 1; }

is_root() { [ "$(id -u)" -eq 0 ]; }
as_root() {
  if is_root; then "$@"
  elif command -v sudo >/dev/null 2>&1; then sudo "$@"
  else die "need root for: $* (run as root or install sudo)"; fi
}
as_postgres() {
  if is_root; then
    if command -v runuser >/dev/null 2>&1; then runuser -u postgres -- "$@"; else su postgres -s /bin/sh -c "$(printf '%q ' "$@")"; fi
  elif command -v sudo >/dev/null 2>&1; then sudo -u postgres "$@"
  else die "need sudo to act as the postgres OS user"; fi
}
APT_UPDATED=0
apt_install() {
  command -v apt-get >/dev/null 2>&1 || die "apt-get not found: install $* yourself (see README)"
  if [ "$APT_UPDATED" = 0 ]; then
    log "apt-get update"
    as_root env DEBIAN_FRONTEND=noninteractive apt-get update -q >&2
    APT_UPDATED=1
  fi
  log "apt-get install -y $*"
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q "$@" >&2
}
redact() { sed -E 's#(//[^:/@]+):[^@/]*@#\1:***@#' <<<"$1"; }

# --- 0. node ---------------------------------------------------------------------------------------
command -v node >/dev/null 2>&1 || die "node not found (Node 20+ required)"
NODE_MAJOR=$(node -p 'process.versions.node.split(".")[0]')
[ "$NODE_MAJOR" -ge 20 ] || die "Node 20+ required, found $(node --version)"

# --- 1. node_modules -------------------------------------------------------------------------------
if [ "${SKIP_NPM:-0}" != 1 ]; then
  if [ ! -d node_modules ] || [ ! -f node_modules/.package-lock.json ] \
     || { [ -f package-lock.json ] && [ package-lock.json -nt node_modules/.package-lock.json ]; }; then
    if [ -f package-lock.json ]; then log "npm ci"; npm ci --no-audit --no-fund >&2
    else log "npm install"; npm install --no-audit --no-fund >&2; fi
  fi
fi

# --- 2. nats-server --------------------------------------------------------------------------------
find_nats() {
  if [ -n "${QUORUM_NATS_SERVER:-}" ] && [ -x "$QUORUM_NATS_SERVER" ]; then echo "$QUORUM_NATS_SERVER"; return 0; fi
  for p in /usr/sbin/nats-server /usr/local/bin/nats-server /usr/bin/nats-server; do [ -x "$p" ] && { echo "$p"; return 0; }; done
  command -v nats-server 2>/dev/null
}
NATS_BIN=$(find_nats || true)
if [ -z "$NATS_BIN" ]; then
  apt_install nats-server
  NATS_BIN=$(find_nats || true)
  [ -n "$NATS_BIN" ] || die "nats-server still not found after apt-get install"
fi

# --- 3. PostgreSQL ---------------------------------------------------------------------------------
# Can this URL connect and create databases? (psql if present, else the project's own driver)
pg_ok() {
  local url=$1
  if command -v psql >/dev/null 2>&1; then
    [ "$(PGCONNECT_TIMEOUT=5 psql "$url" -XAtqc "select (rolcreatedb or rolsuper) from pg_roles where rolname = current_user" 2>/dev/null)" = t ]
  else
    QURL="$url" node --input-type=module -e '
      import postgres from "postgres";
      const sql = postgres(process.env.QURL, { max: 1, connect_timeout: 5, onnotice: () => {} });
      try { const [r] = await sql`select (rolcreatedb or rolsuper) as ok from pg_roles where rolname = current_user`; process.exitCode = r?.ok ? 0 : 1; }
      catch { process.exitCode = 1 } finally { await sql.end({ timeout: 1 }) }' 2>/dev/null
  fi
}
have_pg_server() { ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1 || command -v postgres >/dev/null 2>&1; }

# Install (if missing) and start the local server; used only when no working URL is found first.
start_local_pg() {
  have_pg_server || apt_install postgresql
  if command -v pg_lsclusters >/dev/null 2>&1; then
    if [ -z "$(pg_lsclusters --no-header 2>/dev/null)" ]; then
      local ver
      ver=$(ls /usr/lib/postgresql 2>/dev/null | sort -n | tail -1)
      [ -n "$ver" ] || die "PostgreSQL is installed but /usr/lib/postgresql is empty"
      log "creating cluster $ver/main"
      as_root pg_createcluster "$ver" main >&2
    fi
    while read -r ver name port status _; do
      [ -n "$ver" ] || continue
      if [ "$status" != online ]; then
        log "starting PostgreSQL cluster $ver/$name (port $port)"
        as_root pg_ctlcluster "$ver" "$name" start >&2 || as_root service postgresql start >&2 || true
      fi
    done < <(pg_lsclusters --no-header)
    pg_lsclusters --no-header | awk -v p="$PG_PORT" '$3 == p && $4 == "online" { found = 1 } END { exit !found }' \
      || die "no PostgreSQL cluster is online on port $PG_PORT (see pg_lsclusters, /var/log/postgresql/); set QUORUM_PG_PORT or QUORUM_PG_URL"
  elif command -v service >/dev/null 2>&1; then
    as_root service postgresql start >&2 || true
  fi
  # wait for a just-started server
  if command -v pg_isready >/dev/null 2>&1; then
    for _ in $(seq 1 40); do pg_isready -q -h 127.0.0.1 -p "$PG_PORT" && break; sleep 0.5; done
  fi
}

PG_URL=""
if [ -n "${QUORUM_PG_URL:-}" ]; then
  pg_ok "$QUORUM_PG_URL" || die "QUORUM_PG_URL=$(redact "$QUORUM_PG_URL") cannot connect or lacks CREATEDB"
  PG_URL=$QUORUM_PG_URL
elif [ -s "$PG_URL_FILE" ] && pg_ok "$(head -1 "$PG_URL_FILE")"; then
  PG_URL=$(head -1 "$PG_URL_FILE")
elif pg_ok "$DEFAULT_PG_URL"; then
  PG_URL=$DEFAULT_PG_URL
else
  start_local_pg
  FALLBACK="postgres://quorum:quorum@127.0.0.1:${PG_PORT}/postgres"
  if pg_ok "$DEFAULT_PG_URL"; then
    PG_URL=$DEFAULT_PG_URL
  else
    if ! pg_ok "$FALLBACK"; then
      command -v psql >/dev/null 2>&1 || die "cannot reach PostgreSQL at $DEFAULT_PG_URL and psql is missing; set QUORUM_PG_URL"
      log "creating PostgreSQL role quorum (LOGIN CREATEDB, password quorum; dev only) via the local socket"
      as_postgres psql -p "$PG_PORT" -X -v ON_ERROR_STOP=1 -qc "
        DO \$\$ BEGIN
          IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'quorum') THEN
            CREATE ROLE quorum LOGIN CREATEDB PASSWORD 'quorum';
          ELSE
            ALTER ROLE quorum LOGIN CREATEDB PASSWORD 'quorum';
          END IF;
        END \$\$;" >&2 || die "could not create role quorum (is PostgreSQL running? see /var/log/postgresql/)"
    fi
    pg_ok "$FALLBACK" || die "role quorum exists but $(redact "$FALLBACK") does not work: pg_hba.conf must allow password (scram-sha-256/md5) logins on 127.0.0.1; or set QUORUM_PG_URL"
    mkdir -p "$(dirname "$PG_URL_FILE")"
    (umask 077; echo "$FALLBACK" >"$PG_URL_FILE")
    PG_URL=$FALLBACK
    log "wrote $PG_URL_FILE (used by cli/postgres-admin.ts when QUORUM_PG_URL is unset)"
  fi
fi

# --- 4. build --------------------------------------------------------------------------------------
if [ "${SKIP_BUILD:-0}" != 1 ]; then
  log "npm run build"
  npm run -s build >&2
fi

log "ok: node $(node --version), $("$NATS_BIN" --version 2>/dev/null || echo "$NATS_BIN"), postgres $(redact "$PG_URL")"
