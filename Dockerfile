# syntax=docker/dockerfile:1
# Tillhouse production image: one image for web (gunicorn), worker and beat (Celery) and the migrate one-shot.
# Secrets are never baked in: configuration comes from the environment at run time (docker-compose.prod.yml).

ARG PYTHON_VERSION=3.11

# --- build: the virtualenv and the collected static files ------------------------------------------------------
FROM python:${PYTHON_VERSION}-slim-bookworm AS build
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1
RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH
# The lock, not the inputs: every transitive dependency pinned, each download checked against its hash (`make lock`).
COPY requirements.lock /tmp/requirements.lock
RUN pip install --require-hashes -r /tmp/requirements.lock
WORKDIR /app
COPY . .
# collectstatic needs settings, not secrets: a throwaway key that exists only for this one command.
RUN DEBUG=False SECRET_KEY=collectstatic-at-build-time-only ALLOWED_HOSTS=localhost \
    python manage.py collectstatic --noinput \
 && rm -rf var .env

# --- runtime ---------------------------------------------------------------------------------------------------
FROM python:${PYTHON_VERSION}-slim-bookworm AS runtime
# pg_dump/pg_restore must match the server's major version (PostgreSQL 16): the PGDG repository is set up by
# Debian's own postgresql-common script. gnupg encrypts backups when BACKUP_GPG_PUBLIC_KEY is set.
RUN apt-get update \
 && apt-get install -y --no-install-recommends postgresql-common gnupg ca-certificates \
 && /usr/share/postgresql-common/pgdg/apt.postgresql.org.sh -y \
 && apt-get install -y --no-install-recommends postgresql-client-16 \
 && rm -rf /var/lib/apt/lists/*
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    DJANGO_SETTINGS_MODULE=posproject.settings \
    PROMETHEUS_MULTIPROC_DIR=/tmp/prometheus \
    BACKUP_DIR=/backups
RUN groupadd --system --gid 10001 tillhouse \
 && useradd --system --uid 10001 --gid tillhouse --home-dir /app --shell /usr/sbin/nologin tillhouse \
 && mkdir -p /backups /app/var \
 && chown tillhouse:tillhouse /backups /app/var
COPY --from=build /opt/venv /opt/venv
COPY --from=build --chown=root:root /app /app
WORKDIR /app
USER tillhouse
EXPOSE 8000
HEALTHCHECK --interval=15s --timeout=3s --start-period=30s --retries=3 \
    CMD ["python", "deploy/healthcheck.py", "http://127.0.0.1:8000/health/live"]
CMD ["gunicorn", "--config", "deploy/gunicorn.conf.py", "posproject.wsgi:application"]
