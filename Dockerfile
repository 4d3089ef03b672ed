# Berth's production image: the portal (uvicorn), the Celery worker, beat and the agent all run from it.
# Stages: Python dependencies → OpenAPI schema → browser UI (built only when frontend/package.json exists) → runtime.

FROM python:3.12-slim AS python-base
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1
RUN python -m venv /opt/berth-venv
ENV PATH=/opt/berth-venv/bin:$PATH
COPY requirements.txt /tmp/requirements.txt
RUN pip install -r /tmp/requirements.txt
WORKDIR /app
COPY manage.py pyproject.toml ./
COPY portal/ portal/
COPY registry_proxy/ registry_proxy/
COPY runtime_agent/ runtime_agent/

# The UI's TypeScript types are generated from the API schema, so the schema is produced first.
FROM python-base AS schema
RUN BERTH_SECRET_KEY=schema-only BERTH_VAR_DIR=/tmp/berth python manage.py spectacular --file /tmp/schema.yml

FROM node:20-slim AS frontend
WORKDIR /src
COPY frontend/ ./
COPY --from=schema /tmp/schema.yml /tmp/schema.yml
RUN if [ -f package.json ]; then \
        npm ci --no-audit --no-fund --loglevel=error \
        && npx openapi-typescript /tmp/schema.yml --output src/api/schema.d.ts \
        && npx tsc -b && npx vite build; \
    else mkdir -p dist; fi

FROM python:3.12-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PATH=/opt/berth-venv/bin:$PATH \
    DJANGO_SETTINGS_MODULE=portal.settings BERTH_PRODUCTION=true BERTH_VAR_DIR=/var/lib/berth \
    BERTH_SERVER_WORKERS=4
# The agent's network plumbing (bridge, veth, port publishing) and its seccomp filter need these.
RUN apt-get update \
    && apt-get install -y --no-install-recommends iproute2 iptables libseccomp2 \
    && rm -rf /var/lib/apt/lists/*
RUN groupadd --system --gid 10001 berth \
    && useradd --system --uid 10001 --gid berth --home-dir /var/lib/berth --shell /usr/sbin/nologin berth \
    && mkdir -p /var/lib/berth /var/lib/registry /etc/berth-registry \
    && chown berth:berth /var/lib/berth /var/lib/registry /etc/berth-registry
COPY --from=python-base /opt/berth-venv /opt/berth-venv
WORKDIR /app
COPY --from=python-base /app /app
COPY --from=frontend /src/dist/ frontend/dist/
USER berth
EXPOSE 8000
VOLUME ["/var/lib/berth"]
# The portal and the registry (/v2/, /service/token) in one ASGI server: uvicorn with zero-copy blob
# sends (registry_proxy.server). The API alone also runs under gunicorn:
#   gunicorn -c python:portal.system.gunicorn_conf portal.wsgi:application
CMD ["sh", "-c", "exec python -m registry_proxy.server --bind 0.0.0.0:8000 --workers \"$BERTH_SERVER_WORKERS\""]
HEALTHCHECK --interval=15s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/api/v1/health', timeout=4)"]
