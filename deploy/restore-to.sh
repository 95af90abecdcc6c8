#!/usr/bin/env bash
# Point-in-time restore of docker-compose.prod.yml's database: the cluster as of an instant, or everything archived.
#
#   deploy/restore-to.sh "2026-12-07 14:03:00" --yes     # local time (TIME_ZONE), or with an offset
#   deploy/restore-to.sh latest --yes                    # after a crash or a lost data volume
#
# The steps of `manage.py restore --to` on one machine, each where it can run: `restore --step prepare` in an app
# container (maintenance on, the pre-restore safety copy, the receipt and Z numbers issued noted in a plan on the
# backups volume), db stopped, `pitr-restore` in the db container (pgBackRest's restore, the next start read-only),
# db started (it replays the archive and is promoted), `restore --step finish` in an app container (the barrier back,
# migrate, counters moved above every number issued, checks, the run recorded, maintenance off). web, worker and
# beat keep running: writes answer 503 `maintenance` meanwhile. docs/RUNBOOK.md, "Point-in-time recovery".
exec "$(dirname "$0")/deploy.sh" restore-to "$@"
