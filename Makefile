# Tillhouse. `make run` starts the product on this machine; `make test` runs the whole suite.
SHELL := /bin/bash
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip
MANAGE := $(PY) manage.py
HOST ?= 127.0.0.1
PORT ?= 8000
TEST_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/postgres
TEST_REDIS_URL ?= redis://127.0.0.1:6379/15
PYTEST_ARGS ?=
# The suite builds its test database from the migrations on every `make test`, so a database left by an older
# schema can never fail it; `make test TEST_DB_FLAGS=` reuses the last one (faster while iterating).
TEST_DB_FLAGS ?= --create-db
# Production (docker-compose.prod.yml): `docker compose` where the plugin exists, else Debian's docker-compose.
COMPOSE ?= $(shell docker compose version >/dev/null 2>&1 && echo "docker compose" || echo docker-compose) -f docker-compose.prod.yml
SERVICE ?=

# The targets that act on this installation get `make run`'s development defaults (DEBUG on, so no SECRET_KEY is
# needed), unless SECRET_KEY in the environment or a .env file configures the product: after `make run`,
# `make backup`, `make restore`, `make drill`, `make shell`, `make worker` and `make beat` work as they are.
LOCAL_TARGETS := migrate demo backup restore drill pitr shell worker beat
ifeq ($(SECRET_KEY)$(wildcard .env),)
$(LOCAL_TARGETS): export DEBUG ?= True
endif

.PHONY: run test test-faults test-stack lint typecheck format worker beat shell migrate demo install install-dev clean browser
.PHONY: i18n-tools messages
.PHONY: lock lock-check
.PHONY: deploy-tools monitoring-tools deploy rollback logs ps createsuperuser
.PHONY: backup-tools backup restore drill pitr

# Installs come from the locks only: every transitive dependency pinned, each file checked against its hash (pip
# itself is pinned in the lock too). requirements*.txt are the inputs `make lock` compiles them from.
$(VENV)/.installed: requirements.lock
	@command -v $(PYTHON) >/dev/null || { echo "$(PYTHON) is needed"; exit 1; }
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install -q --require-hashes -r requirements.lock
	@touch $@

$(VENV)/.installed-dev: $(VENV)/.installed requirements-dev.lock
	$(PIP) install -q --require-hashes -r requirements-dev.lock
	@touch $@

install: $(VENV)/.installed
install-dev: $(VENV)/.installed-dev

## run: SQLite, eager Celery, local-memory cache, demo data; serves on http://$(HOST):$(PORT)
run: export DEBUG ?= True
run: $(VENV)/.installed
	@unset DATABASE_URL REDIS_URL; \
	$(MANAGE) migrate --noinput && \
	$(MANAGE) load_demo && \
	echo && echo "Tillhouse is running at http://$(HOST):$(PORT)/  (Ctrl-C to stop)" && echo && \
	$(MANAGE) runserver $(HOST):$(PORT)

## test: the locks are fresh, lint, format check and the whole suite against PostgreSQL and Redis
test: lock-check $(VENV)/.installed-dev deploy-tools browser backup-tools monitoring-tools i18n-tools
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(MAKE) -s typecheck
	TEST_DATABASE_URL=$(TEST_DATABASE_URL) TEST_REDIS_URL=$(TEST_REDIS_URL) \
		$(VENV)/bin/pytest -q -m "not faults" $(TEST_DB_FLAGS) $(PYTEST_ARGS)

## test-faults: the fault tests (PostgreSQL cut under load, Redis down, a worker killed mid-task), slow, on their own
test-faults: $(VENV)/.installed-dev
	TEST_DATABASE_URL=$(TEST_DATABASE_URL) TEST_REDIS_URL=$(TEST_REDIS_URL) \
		$(VENV)/bin/pytest -q -m faults $(TEST_DB_FLAGS) $(PYTEST_ARGS)

## test-stack: the production image and docker-compose.prod.yml in containers under podman and podman-compose:
## deploy/deploy.sh deploys, the smoke flow runs through nginx over TLS (API and POS sales printed on a TCP printer
## stand-in, backup, /health, /metrics, one beat), a second deployment rolls web under load with no failed request,
## a rollback returns to the first image; everything is removed at the end. No registry is needed: the base images
## are built from Debian packages once (deploy/test-stack/images.sh) and kept. Run as root; installs podman when
## it is missing.
STACK_TOOLS := podman podman-compose buildah runc mmdebstrap netavark aardvark-dns iptables openssl
STACK_PYTHON_IMAGE ?= localhost/tillhouse-test-python:3.11
STACK_POSTGRES_IMAGE ?= localhost/tillhouse-test-postgres
STACK_PG_MAJOR ?= 15
STACK_REDIS_IMAGE ?= localhost/tillhouse-test-redis:7-bookworm
STACK_NGINX_IMAGE ?= localhost/tillhouse-test-nginx:bookworm
STACK_ENV = STACK_PYTHON_IMAGE=$(STACK_PYTHON_IMAGE) STACK_POSTGRES_IMAGE=$(STACK_POSTGRES_IMAGE) \
	STACK_PG_MAJOR=$(STACK_PG_MAJOR) STACK_REDIS_IMAGE=$(STACK_REDIS_IMAGE) STACK_NGINX_IMAGE=$(STACK_NGINX_IMAGE)
test-stack: $(VENV)/.installed-dev
	@{ for tool in podman podman-compose buildah runc mmdebstrap iptables openssl; do command -v $$tool || exit 1; done; \
	   test -x /usr/lib/podman/netavark && test -x /usr/lib/podman/aardvark-dns; } \
	   >/dev/null || { apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
	   $(STACK_TOOLS); }
	$(STACK_ENV) deploy/test-stack/images.sh
	$(STACK_ENV) TILLHOUSE_STACK_TEST=1 TEST_REDIS_URL= $(VENV)/bin/pytest -q -s -p no:cacheprovider \
		posproject/tests/test_container_stack.py $(PYTEST_ARGS)

## lock: compile requirements.txt / requirements-dev.txt into requirements.lock / requirements-dev.lock: every
## transitive dependency pinned, with the hashes of all its files (wheels for every platform, the sdist), the dev lock
## at exactly the runtime lock's versions. pip-tools runs from a throwaway virtualenv; against PyPI alone, whatever
## the local pip configuration says (LOCK_PIP_ARGS= to honour it). The pins already in the locks are kept unless
## UPGRADE=1 (every package to its newest allowed version) or UPGRADE_PACKAGE="name ..." (those only).
LOCK_TOOLS := pip==26.3 pip-tools==7.7.0
LOCK_PIP_ARGS ?= --isolated
LOCK_ARGS = --quiet --generate-hashes --allow-unsafe --strip-extras --no-emit-index-url --no-emit-find-links \
	--no-emit-trusted-host --pip-args="$(LOCK_PIP_ARGS)" $(if $(UPGRADE),--upgrade) \
	$(foreach package,$(UPGRADE_PACKAGE),--upgrade-package $(package))
lock:
	@command -v $(PYTHON) >/dev/null || { echo "$(PYTHON) is needed"; exit 1; }
	@tools=$$(mktemp -d) && trap 'rm -rf "$$tools"' EXIT && \
	$(PYTHON) -m venv "$$tools" && "$$tools/bin/pip" install -q $(LOCK_PIP_ARGS) $(LOCK_TOOLS) && \
	export CUSTOM_COMPILE_COMMAND="make lock" && \
	echo "Compiling requirements.lock ..." && \
	"$$tools/bin/pip-compile" $(LOCK_ARGS) --output-file=requirements.lock requirements.txt && \
	echo "Compiling requirements-dev.lock ..." && \
	"$$tools/bin/pip-compile" $(LOCK_ARGS) --constraint=requirements.lock --output-file=requirements-dev.lock \
		requirements-dev.txt
	$(PYTHON) deploy/lockcheck.py --stamp

## lock-check: the locks were compiled from the inputs as they are now (no network); `make test` runs it first
lock-check:
	@$(PYTHON) deploy/lockcheck.py

## browser: headless Chromium from Debian for the end-to-end tests (Playwright drives it; no browser download)
browser:
	@command -v chromium >/dev/null || (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver)

## i18n-tools: GNU gettext (msgfmt, xgettext), which makemessages, compilemessages and the translation tests need
i18n-tools:
	@{ command -v msgfmt && command -v xgettext; } >/dev/null || \
	if [ "$$(id -u)" = 0 ]; then apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends gettext; \
	else echo "i18n-tools: run as root to install gettext; the translation tests will fail without it"; fi

## messages: extract the strings into locale/*/LC_MESSAGES/django.po for every language, then compile the .mo files
messages: $(VENV)/.installed i18n-tools
	DEBUG=True $(MANAGE) makemessages --no-obsolete --no-location -l de -l id --ignore=.venv --ignore=test-artifacts
	DEBUG=True $(MANAGE) compilemessages --ignore=.venv

## lint: ruff (rules and format), then the floors and the types (typecheck)
lint: $(VENV)/.installed-dev
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(MAKE) -s typecheck

## typecheck: the floors (import-linter: each app imports only the apps below it) and the types (mypy with the
## Django and DRF stubs); both configured in pyproject.toml. mypy imports the settings (with DEBUG on, so no
## SECRET_KEY is needed); it connects to no database or Redis.
typecheck: export DEBUG = True
typecheck: $(VENV)/.installed-dev
	$(VENV)/bin/lint-imports
	$(VENV)/bin/mypy

format: $(VENV)/.installed-dev
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

migrate: $(VENV)/.installed
	$(MANAGE) migrate --noinput

demo: $(VENV)/.installed
	$(MANAGE) load_demo

worker: $(VENV)/.installed
	$(VENV)/bin/celery -A posproject worker --loglevel=INFO

beat: $(VENV)/.installed
	$(VENV)/bin/celery -A posproject beat --loglevel=INFO

## shell: a Django shell in the production web container when it runs on this machine, else the local one
shell:
	@if [ -n "$$($(COMPOSE) ps -q web 2>/dev/null)" ]; then $(COMPOSE) exec web python manage.py shell; \
	else $(MAKE) -s $(VENV)/.installed && $(MANAGE) shell; fi

## backup-tools: pg_dump/pg_restore (the server's major version), GnuPG, and pgBackRest (WAL archiving and
## point-in-time recovery), which backups and their tests use
backup-tools:
	@{ command -v pg_dump && command -v pg_restore && command -v gpg && command -v pgbackrest; } >/dev/null || \
	if [ "$$(id -u)" = 0 ]; then apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends postgresql-client gnupg pgbackrest; \
	else echo "backup-tools: run as root to install postgresql-client, gnupg and pgbackrest"; fi

## backup: take a backup now (KIND=manual|daily|weekly|monthly|pre-deploy), verify it, copy it offsite, prune
backup: $(VENV)/.installed backup-tools
	$(MANAGE) backup --kind $(or $(KIND),manual)

## restore: BACKUP=<name|latest|path> [YES=1] [KEY=private-key.asc] — writes answer 503 (maintenance) meanwhile;
## TO="2026-12-07 14:03:00"|latest instead: point-in-time recovery of the whole cluster with pgBackRest
restore: $(VENV)/.installed backup-tools
	$(if $(TO),$(MANAGE) restore --to "$(TO)",$(MANAGE) restore $(or $(BACKUP),latest)) $(if $(YES),--yes) \
		$(if $(KEY),--key-file $(KEY))

## drill: restore the latest backup into a scratch database, prove it usable, time it (RTO), drop it
drill: $(VENV)/.installed backup-tools
	$(MANAGE) restore_drill $(if $(KEY),--key-file $(KEY))

## pitr: pgBackRest for point-in-time recovery: DO=setup (configuration and stanza) | postgres-conf (the archiving
## lines for postgresql.conf) | check | status | backup TYPE=full|diff | drill [AT="2026-12-07 13:00"]
pitr: $(VENV)/.installed backup-tools
	$(MANAGE) pitr $(or $(DO),status) $(if $(TYPE),--type $(TYPE)) $(if $(AT),--at "$(AT)")

## deploy-tools: docker-compose, nginx and PgBouncer, which the deploy tests use to run the production files
deploy-tools:
	@{ command -v docker-compose && command -v openssl && { command -v nginx || test -x /usr/sbin/nginx; } && \
		{ command -v pgbouncer || test -x /usr/sbin/pgbouncer; }; } >/dev/null || \
	if [ "$$(id -u)" = 0 ]; then apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends docker-compose nginx openssl \
			pgbouncer; \
	else echo "deploy-tools: run as root to install docker-compose, nginx, openssl and pgbouncer; their tests will be skipped"; fi

## monitoring-tools: promtool (Debian's prometheus package), which checks and tests deploy/monitoring/'s rules
monitoring-tools:
	@command -v promtool >/dev/null || \
	if [ "$$(id -u)" = 0 ]; then apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends prometheus; \
	else echo "monitoring-tools: run as root to install prometheus (promtool); the rule tests will be skipped"; fi

## deploy: pre-deploy backup, build, check, migrate, rolling restart of web, worker/beat restart, health wait
deploy:
	COMPOSE="$(COMPOSE)" deploy/deploy.sh deploy

## rollback: rolling restart onto the image that ran before the last deploy (TILLHOUSE_TAG=<tag> to choose)
rollback:
	COMPOSE="$(COMPOSE)" deploy/deploy.sh rollback

## logs: follow the production logs (SERVICE=web|worker|beat|nginx|db|redis for one)
logs:
	$(COMPOSE) logs --follow --tail=200 $(SERVICE)

ps:
	$(COMPOSE) ps

createsuperuser:
	$(COMPOSE) exec web python manage.py createsuperuser

clean:
	rm -rf $(VENV) var staticfiles test-artifacts

.PHONY: bench-tools bench-checkout bench-pitr
## bench-tools: wrk and pgbench, which bench/checkout.py drives
bench-tools:
	@{ command -v wrk && command -v pgbench; } >/dev/null || \
	if [ "$$(id -u)" = 0 ]; then apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends wrk postgresql-client; \
	else echo "bench-tools: run as root (or apt-get install wrk postgresql-client)"; exit 1; fi

## bench-checkout: checkout API throughput against the raw-SQL limit (figures go to BENCHMARKS.md)
bench-checkout: $(VENV)/.installed bench-tools
	$(PY) bench/checkout.py $(BENCH_ARGS)

## bench-pitr: WAL archive lag under the checkout load and the RTO of restore --to latest (1 GB + an hour of WAL)
bench-pitr: $(VENV)/.installed bench-tools backup-tools
	$(PY) bench/pitr.py $(BENCH_ARGS)
