#!/usr/bin/env bash
# Runs Berth in the foreground: Redis, the portal (gunicorn), a Celery worker and beat.
source "$(dirname "$0")/lib.sh"
setup
cd "$BERTH_ROOT"
export BERTH_VAR_DIR="$VAR"
BIND="${BERTH_BIND:-127.0.0.1:8000}"
REDIS_URL="${BERTH_REDIS_URL:-redis://127.0.0.1:6379/0}"
export BERTH_REDIS_URL="$REDIS_URL"

pids=()
stop_all() {
    trap - INT TERM EXIT
    say "stopping"
    for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
    wait 2>/dev/null || true
    [ -n "${OWN_REDIS:-}" ] && stop_redis "$VAR/redis" "$REDIS_PORT"
}
trap stop_all INT TERM EXIT

REDIS_PORT="$(python3 -c 'import sys,urllib.parse as u; print(u.urlsplit(sys.argv[1]).port or 6379)' "$REDIS_URL")"
REDIS_HOST="$(python3 -c 'import sys,urllib.parse as u; print(u.urlsplit(sys.argv[1]).hostname or "127.0.0.1")' "$REDIS_URL")"
if ! redis-cli -h "$REDIS_HOST" -p "$REDIS_PORT" ping >/dev/null 2>&1; then
    [ "$REDIS_HOST" = "127.0.0.1" ] || [ "$REDIS_HOST" = "localhost" ] || die "Redis at $REDIS_URL does not answer"
    start_redis "$VAR/redis" "$REDIS_PORT"
    OWN_REDIS=1
fi

"$VENV/bin/python" manage.py migrate --noinput >/dev/null
"$VENV/bin/python" manage.py collectstatic --noinput >/dev/null
"$VENV/bin/python" manage.py ensure_admin

"$VENV/bin/celery" -A portal worker --loglevel=INFO --concurrency=2 >"$VAR/worker.log" 2>&1 & pids+=($!)
"$VENV/bin/celery" -A portal beat --loglevel=INFO --schedule "$VAR/celerybeat-schedule" >"$VAR/beat.log" 2>&1 & pids+=($!)
"$VENV/bin/gunicorn" portal.wsgi:application --bind "$BIND" --workers 2 --threads 8 --worker-class gthread \
    --access-logfile - --error-logfile - >"$VAR/portal.log" 2>&1 & pids+=($!)

for _ in $(seq 100); do curl -fsS "http://$BIND/api/v1/projects" >/dev/null 2>&1 && break; sleep 0.2; done
say "Berth is running at http://$BIND/ (logs in $VAR; Ctrl-C stops it)"
wait -n "${pids[@]}" || true
say "a component stopped; see the logs in $VAR"
