#!/bin/sh
# The db container's start: pgBackRest's configuration written from the environment, then the image's own entrypoint
# (the official postgres image's contract: a cluster made on an empty data volume, PostgreSQL run as postgres).
#
#   PGBACKREST_STANZA     the stanza (pgBackRest reads this variable itself too): tillhouse
#   PITR_CIPHER_PASS      encrypts the repository (aes-256-cbc) when set; keep a copy outside the server
#   PITR_RETENTION_DAYS   full backups (and the WAL they need) kept this many days: 14
#
# The repository is /var/lib/pgbackrest (a volume of its own, not the data volume). PostgreSQL's archive_command
# (docker-compose.prod.yml) pushes each WAL segment there; `deploy/deploy.sh` creates the stanza once the server
# answers (`pgbackrest stanza-create`, a no-op when it exists). `pgbackrest ...` as the command runs that, as postgres
# (`compose run --rm --no-deps db pgbackrest ... restore` with PostgreSQL stopped: docs/RUNBOOK.md).
set -eu
stanza="${PGBACKREST_STANZA:-tillhouse}"
conf=/etc/pgbackrest/pgbackrest.conf
if [ "$(id -u)" = 0 ]; then
  umask 027
  {
    echo "# Written at each start of the db container from its environment (deploy/db/entrypoint.sh)."
    echo "[global]"
    echo "repo1-path=/var/lib/pgbackrest"
    echo "repo1-retention-full-type=time"
    echo "repo1-retention-full=${PITR_RETENTION_DAYS:-14}"
    if [ -n "${PITR_CIPHER_PASS:-}" ]; then
      echo "repo1-cipher-type=aes-256-cbc"
      echo "repo1-cipher-pass=${PITR_CIPHER_PASS}"
    fi
    echo "start-fast=y"
    echo "compress-type=gz"
    echo "compress-level=3"
    echo "log-level-console=warn"
    echo "log-level-stderr=warn"
    echo "log-level-file=info"
    echo ""
    echo "[$stanza]"
    echo "pg1-path=${PGDATA:-/var/lib/postgresql/data}"
    echo "pg1-socket-path=/var/run/postgresql"
    echo "pg1-user=${POSTGRES_USER:-postgres}"
  } >"$conf.tmp"
  chown root:postgres "$conf.tmp"
  mv "$conf.tmp" "$conf"
  chown postgres:postgres /var/lib/pgbackrest /var/log/pgbackrest
  umask 022
fi
unset PITR_CIPHER_PASS
if [ "${1:-}" = pgbackrest ] && [ "$(id -u)" = 0 ]; then # a one-off pgBackRest command: as postgres
  exec setpriv --reuid=postgres --regid=postgres --init-groups "$@"
fi
if [ "${1:-}" = pitr-restore ]; then # deploy/restore-to.sh, with PostgreSQL stopped: `pitr-restore <restore options>`
  # pgBackRest rewrites the data directory, and the next start of the server is read-only for every session until
  # `manage.py restore --step finish` has checked it (it removes the line with ALTER SYSTEM RESET).
  if [ "$(id -u)" = 0 ]; then
    exec setpriv --reuid=postgres --regid=postgres --init-groups "$0" "$@"
  fi
  shift
  if [ "$#" -eq 0 ]; then # the plan's options (--delta, the target): never a restore chosen by default
    echo "pitr-restore: give the restore options (manage.py restore --step options prints them)" >&2
    exit 2
  fi
  pgbackrest --stanza="$stanza" restore "$@" # named: the restore_command it writes names it too
  printf '%s\n' "default_transaction_read_only = 'on'  # set by the Tillhouse restore until it has checked the cluster" \
    >>"${PGDATA:-/var/lib/postgresql/data}/postgresql.auto.conf"
  exit 0
fi
exec /usr/local/bin/docker-entrypoint.sh "$@"
