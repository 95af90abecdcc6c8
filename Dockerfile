# syntax=docker/dockerfile:1
# Tillhouse production image: one image for web (gunicorn), worker and beat (Celery) and the migrate one-shot.
# Secrets are never baked in: configuration comes from the environment at run time (docker-compose.prod.yml).

#
# Build arguments (docker-compose.prod.yml passes them from the environment; docs/RUNBOOK.md §"Image"):
#   PYTHON_IMAGE      the base of both stages: an official slim Python 3.11 on Debian bookworm
#   PG_MAJOR          the major version of pg_dump/pg_restore (postgresql-client-PG_MAJOR): the database server's
#   PG_APT_SOURCE     where that client comes from: "pgdg" (apt.postgresql.org, with the signing key Debian's
#                     postgresql-common package ships), "" (Debian's own repository: PostgreSQL 15 on bookworm), or
#                     a whole apt source line
#   PIP_INSTALL_ARGS  extra pip options, e.g. "--no-index --find-links /tmp/wheelhouse" for a build from the wheels
#                     put in deploy/wheelhouse/ (`pip download --require-hashes -r requirements.lock -d ...`); the
#                     lock's hashes are checked either way
ARG PYTHON_IMAGE=python:3.11-slim-bookworm

# --- build: the virtualenv and the collected static files ------------------------------------------------------
FROM ${PYTHON_IMAGE} AS build
ARG PIP_INSTALL_ARGS=
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1
RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH
# The lock, not the inputs: every transitive dependency pinned, each download checked against its hash (`make lock`).
COPY requirements.lock /tmp/requirements.lock
COPY deploy/wheelhouse/ /tmp/wheelhouse/
RUN pip install --require-hashes ${PIP_INSTALL_ARGS} -r /tmp/requirements.lock \
 && rm -rf /tmp/wheelhouse
WORKDIR /app
COPY . .
# collectstatic needs settings, not secrets: a throwaway key that exists only for this one command.
RUN DEBUG=False SECRET_KEY=collectstatic-at-build-time-only ALLOWED_HOSTS=localhost \
    python manage.py collectstatic --noinput \
 && rm -rf var .env deploy/wheelhouse

# --- runtime ---------------------------------------------------------------------------------------------------
FROM ${PYTHON_IMAGE} AS runtime
# pg_dump/pg_restore must match the server's major version (PG_MAJOR). The PGDG source is signed by the key Debian's
# postgresql-common package ships: nothing is fetched from outside the apt sources at build time. gnupg encrypts
# backups when BACKUP_GPG_PUBLIC_KEY is set.
ARG PG_MAJOR=16
ARG PG_APT_SOURCE=pgdg
RUN apt-get update \
 && apt-get install -y --no-install-recommends postgresql-common gnupg ca-certificates \
 && case "$PG_APT_SOURCE" in \
      pgdg) echo "deb [signed-by=/usr/share/postgresql-common/pgdg/apt.postgresql.org.asc]" \
                 "https://apt.postgresql.org/pub/repos/apt bookworm-pgdg main" ;; \
      *) echo "$PG_APT_SOURCE" ;; \
    esac >/etc/apt/sources.list.d/postgresql.list \
 && apt-get update \
 && apt-get install -y --no-install-recommends "postgresql-client-${PG_MAJOR}" \
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
