#!/usr/bin/env bash
# Runs Berth in the foreground: Redis, distribution, the portal and registry (one address), a Celery
# worker and beat, and a local agent joined to the portal. Ctrl-C stops everything it started.
source "$(dirname "$0")/lib.sh"
setup
cd "$BERTH_ROOT"
export BERTH_VAR_DIR="$VAR"
BIND="${BERTH_BIND:-127.0.0.1:8000}"
export BERTH_BIND="$BIND"
export BERTH_EXTERNAL_URL="${BERTH_EXTERNAL_URL:-http://$BIND}"
REDIS_URL="${BERTH_REDIS_URL:-redis://127.0.0.1:6379/0}"
export BERTH_REDIS_URL="$REDIS_URL"
AGENT_STATE="${BERTH_AGENT_STATE:-$VAR/agent}"
AGENT_LISTEN="${BERTH_AGENT_LISTEN:-127.0.0.1:7070}"
LOGS="$VAR/logs"
mkdir -p "$LOGS"

pids=()
stop_all() {
    trap - INT TERM EXIT
    say "stopping (containers started by the agent keep running; \`python -m runtime_agent ps\` lists them)"
    for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
    wait 2>/dev/null || true
    [ -n "${OWN_REDIS:-}" ] && stop_redis "$VAR/redis" "$REDIS_PORT"
    return 0
}
trap stop_all INT TERM EXIT

url_part() { "$VENV/bin/python" -c 'import sys, urllib.parse as u; p = u.urlsplit(sys.argv[1]); print(getattr(p, sys.argv[2]) or sys.argv[3])' "$@"; }
REDIS_HOST="$(url_part "$REDIS_URL" hostname 127.0.0.1)"
REDIS_PORT="$(url_part "$REDIS_URL" port 6379)"
if ! redis-cli -h "$REDIS_HOST" -p "$REDIS_PORT" ping >/dev/null 2>&1; then
    case "$REDIS_HOST" in 127.0.0.1|localhost) ;; *) die "Redis at $REDIS_URL does not answer" ;; esac
    start_redis "$VAR/redis" "$REDIS_PORT" durable
    OWN_REDIS=1
fi

manage() { "$VENV/bin/python" manage.py "$@"; }
manage migrate --noinput >/dev/null
manage collectstatic --noinput >/dev/null
manage ensure_admin

if [ "${BERTH_REGISTRY_MANAGED:-true}" = "true" ]; then
    "$VENV/bin/python" manage.py run_registry >"$LOGS/registry.log" 2>&1 & pids+=($!)
fi
"$VENV/bin/python" -m registry_proxy.server --bind "$BIND" --workers "${BERTH_WORKERS:-2}" >"$LOGS/portal.log" 2>&1 & pids+=($!)
"$VENV/bin/celery" -A portal worker --loglevel=INFO --concurrency=2 >"$LOGS/worker.log" 2>&1 & pids+=($!)
"$VENV/bin/celery" -A portal beat --loglevel=INFO --schedule "$VAR/celerybeat-schedule" >"$LOGS/beat.log" 2>&1 & pids+=($!)

for _ in $(seq 150); do curl -fsS "http://$BIND/api/v1/health" >/dev/null 2>&1 && break; sleep 0.2; done
curl -fsS "http://$BIND/api/v1/health" >/dev/null 2>&1 || die "the portal did not start; see $LOGS/portal.log"

# The local agent joins by itself: a token is made only while it has not joined this portal yet.
# The token goes through a 0600 file: on the command line every local user would read it in `ps`.
join_args=()
TOKEN_FILE="$AGENT_STATE/join-token"
rm -f "$TOKEN_FILE"
manage fleet_join_token --local-state "$AGENT_STATE" --output "$TOKEN_FILE"
[ -s "$TOKEN_FILE" ] && join_args=(--join "$BERTH_EXTERNAL_URL" --token-file "$TOKEN_FILE" --name "$(hostname)" --label local=true)
"$VENV/bin/python" -m runtime_agent serve --listen "$AGENT_LISTEN" --state "$AGENT_STATE" "${join_args[@]}" \
    >"$LOGS/agent.log" 2>&1 & pids+=($!)

say "Berth is running at $BERTH_EXTERNAL_URL/ — sign in as admin (logs in $LOGS; Ctrl-C stops it)"
say "registry: podman login --tls-verify=false $BIND"
wait -n "${pids[@]}" || true
say "a component stopped; see the logs in $LOGS"
