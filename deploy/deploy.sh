#!/usr/bin/env bash
# Rolling deploy and rollback of docker-compose.prod.yml; run by `make deploy` and `make rollback`.
#
#   deploy   pre-deploy backup → build (or pull with PULL=1) and the db image → db and redis up, the pgBackRest
#            stanza made → check --deploy → migrate → start new web containers
#            next to the old ones → wait until they are healthy and ready → reload nginx (once it resolves `web`
#            to them) → stop the old ones gracefully → reload nginx → restart worker and beat
#   rollback the same rolling restart onto the image tag that ran before the last deploy (no build, no migration)
#   restore-to "<instant>"|latest [--yes]   point-in-time restore of the db service (deploy/restore-to.sh)
#
# Image tags: TILLHOUSE_TAG (default: the git commit); var/deploy/current and var/deploy/previous remember them
# (DEPLOY_STATE_DIR: elsewhere).
#
# Podman: COMPOSE="podman-compose -f docker-compose.prod.yml" (DOCKER is then podman). Debian's podman-compose
# (1.0.3) knows no --scale and no depends_on conditions, and podman runs no healthcheck on its own without systemd:
# the script starts the new web containers with `compose run -d`, finds containers by their compose labels, waits
# for db and redis itself and runs the healthchecks it waits for.
set -euo pipefail
cd "$(dirname "$0")/.."

read -r -a COMPOSE <<<"${COMPOSE:-docker compose -f docker-compose.prod.yml}"
if [ -z "${DOCKER:-}" ]; then
  case "${COMPOSE[0]}" in
    podman*) DOCKER=podman ;;
    *) DOCKER=docker ;;
  esac
fi
STATE=${DEPLOY_STATE_DIR:-var/deploy}
WAIT_SECONDS=${WAIT_SECONDS:-180}
STOP_SECONDS=${STOP_SECONDS:-40} # as web's stop_grace_period: longer than gunicorn's graceful timeout
mkdir -p "$STATE"

say() { printf '\n==> %s\n' "$*"; }
compose() { "${COMPOSE[@]}" "$@"; }
docker() { command "$DOCKER" "$@"; }

service_ids() { # service: its running containers
  if [ "$DOCKER" = podman ]; then
    local id
    # podman-compose's `ps -q` lists every container of the project (and echoes its podman command): the ids only
    for id in $(compose ps -q 2>/dev/null | grep -E '^[0-9a-f]{12,64}$' || true); do
      if [ "$(podman inspect -f '{{index .Config.Labels "com.docker.compose.service"}} {{.State.Running}}' "$id")" = \
        "$1 true" ]; then
        echo "$id"
      fi
    done | sort
  else
    compose ps -q "$1" | sort
  fi
}
web_ids() { service_ids web; }

healthy() { # container id
  if [ "$DOCKER" = podman ]; then
    podman healthcheck run "$1" >/dev/null 2>&1 # no systemd timer runs it: run it now, and see
  else
    [ "$(docker inspect -f '{{.State.Health.Status}}' "$1")" = healthy ]
  fi
}

web_exec() { # command...: in a running web container
  if [ "$DOCKER" = podman ]; then
    podman exec "$(web_ids | head -n 1)" "$@"
  else
    compose exec -T web "$@"
  fi
}

db_exec() { # command...: in the db container, as postgres
  if [ "$DOCKER" = podman ]; then
    podman exec -u postgres "$(service_ids db | head -n 1)" "$@"
  else
    compose exec -T -u postgres db "$@"
  fi
}

wait_until_healthy() { # service... (podman-compose does not wait for depends_on conditions)
  [ "$DOCKER" = podman ] || return 0
  local deadline=$((SECONDS + WAIT_SECONDS)) service id
  for service in "$@"; do
    for id in $(service_ids "$service"); do
      until healthy "$id"; do
        if [ "$SECONDS" -ge "$deadline" ]; then
          echo "$service ($id) is not healthy after ${WAIT_SECONDS}s" >&2
          return 1
        fi
        sleep 2
      done
    done
  done
}

wait_until_ready() { # container ids...
  local deadline=$((SECONDS + WAIT_SECONDS)) id status
  for id in "$@"; do
    until healthy "$id" && docker exec "$id" python deploy/healthcheck.py http://127.0.0.1:8000/health/ready; do
      if [ "$SECONDS" -ge "$deadline" ]; then
        echo "container $id is not ready after ${WAIT_SECONDS}s" >&2
        docker logs --tail 50 "$id" >&2 || true
        return 1
      fi
      sleep 2
    done
  done
}

addresses_of() { # container ids...: their addresses on the compose network, sorted
  local id
  for id in "$@"; do
    docker inspect -f '{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}' "$id"
  done | sort -u | xargs
}

web_addresses_in() { # nginx container: the addresses the name `web` resolves to in it now, sorted
  docker exec "$1" getent ahosts web 2>/dev/null | awk '{print $1}' | sort -u | xargs || true
}

nginx_workers() { # nginx container [all]: the pids of its current worker processes (all: and those shutting down)
  { docker exec "$1" sh -c 'for p in /proc/[0-9]*; do
      case "$(tr "\000" " " <"$p/cmdline" 2>/dev/null)" in
        "nginx: worker process is shutting down"*) if [ "$0" = all ]; then echo "${p#/proc/}"; fi ;;
        "nginx: worker process"*) echo "${p#/proc/}" ;;
      esac
    done' "${2:-current}" || true; } | sort | xargs
}

# nginx resolves `web` when it loads its configuration, so a reload must happen once the name lists exactly the web
# containers that should serve. The container runtime's name server registers (and forgets) a container a moment
# after it starts (or stops), and podman's aardvark-dns stops answering while it reloads its records (a lookup then
# waits seconds, or fails over to the host's resolver, which knows no `web`). So: wait until `web` resolves, twice in
# a row, to exactly the expected addresses; reload; and wait until new worker processes run (the master starts them
# only after it has loaded the configuration: `nginx -s reload` returns before that, and a failed load keeps the old
# one), reloading again if they do not come; then until the old workers have finished the requests they had taken
# (they know only the old addresses: a request of theirs cut short by an old container's stop could not be passed to
# another one).
reload_nginx() { # web container ids...: the ones nginx must send requests to from now on
  local expected id deadline workers seen sent before
  expected=$(addresses_of "$@")
  for id in $(service_ids nginx); do
    deadline=$((SECONDS + WAIT_SECONDS))
    seen=0
    until [ "$seen" -ge 2 ]; do
      if [ "$(web_addresses_in "$id")" = "$expected" ]; then seen=$((seen + 1)); else seen=0; fi
      if [ "$SECONDS" -ge "$deadline" ]; then
        echo "nginx ($id) resolves web to [$(web_addresses_in "$id")], not [$expected], after ${WAIT_SECONDS}s" >&2
        return 1
      fi
      sleep 1
    done
    before=$(nginx_workers "$id" all)
    until
      workers=$(nginx_workers "$id")
      docker exec "$id" nginx -s reload
      sent=$SECONDS
      until [ "$SECONDS" -ge $((sent + 20)) ] || [ -n "$(comm -13 <(tr ' ' '\n' <<<"$workers" | sort) \
        <(nginx_workers "$id" | tr ' ' '\n' | sort) | grep .)" ]; do
        sleep 0.5
      done
      [ "$SECONDS" -lt $((sent + 20)) ]
    do
      if [ "$SECONDS" -ge "$deadline" ]; then
        echo "nginx ($id) did not load its configuration again within ${WAIT_SECONDS}s:" >&2
        docker logs --tail 20 "$id" >&2 || true
        return 1
      fi
      echo "nginx ($id) has not reloaded yet: reloading again" >&2
    done
    sent=$SECONDS
    while [ "$SECONDS" -lt $((sent + 60)) ] &&
      [ -n "$(comm -12 <(tr ' ' '\n' <<<"$before" | sort) <(nginx_workers "$id" all | tr ' ' '\n' | sort) | grep .)" ]; do
      sleep 0.5
    done
    echo "nginx reloaded: web is [$expected]"
  done
}

rolling_restart_web() {
  local old new count
  old=$(web_ids)
  if [ -z "$old" ]; then
    say "Starting web (first deployment)"
    compose up -d --no-deps web
    wait_until_ready $(web_ids)
    return
  fi
  count=$(wc -l <<<"$old")
  say "Starting $count new web container(s) next to the old ones"
  if [ "$DOCKER" = podman ]; then
    local project i
    project=$(podman inspect -f '{{index .Config.Labels "com.docker.compose.project"}}' "$(head -n 1 <<<"$old")")
    for i in $(seq "$count"); do
      compose run -d -T --no-deps --name "${project}_web_$(date +%s)_$i" web >/dev/null
    done
  else
    compose up -d --no-deps --no-recreate --scale "web=$((count * 2))" web
  fi
  new=$(comm -13 <(echo "$old") <(web_ids))
  if ! wait_until_ready $new; then
    say "New web containers are not ready: removing them, the old ones keep serving"
    docker rm -f $new >/dev/null
    reload_nginx $old
    exit 1
  fi
  reload_nginx $old $new
  say "Stopping the old web container(s) gracefully (requests in flight finish)"
  docker stop --time "$STOP_SECONDS" $old >/dev/null
  docker rm $old >/dev/null
  if [ "$DOCKER" = podman ]; then # the names podman-compose knows its web containers by (exec, up)
    local project i=0 id
    project=$(podman inspect -f '{{index .Config.Labels "com.docker.compose.project"}}' $(head -n 1 <<<"$new"))
    for id in $new; do
      i=$((i + 1))
      podman rename "$id" "${project}_web_$i"
    done
  fi
  reload_nginx $new
}

restart_the_rest() {
  say "Restarting worker and beat on the new image, starting nginx"
  if [ "$DOCKER" = podman ]; then # podman-compose would start the old containers again: replace them
    local old
    old=$( (service_ids worker && service_ids beat) | xargs)
    if [ -n "$old" ]; then
      podman stop --time 60 $old >/dev/null
      podman rm $old >/dev/null
    fi
  fi
  compose up -d --no-deps worker beat
  compose up -d --no-deps nginx
  local deadline=$((SECONDS + WAIT_SECONDS))
  # podman: a first start that failed (web did not resolve yet) is restarted by the restart policy; wait for it
  until [ "$DOCKER" != podman ] || [ -n "$(service_ids nginx)" ]; do
    if [ "$SECONDS" -ge "$deadline" ]; then
      echo "nginx is not running after ${WAIT_SECONDS}s" >&2
      return 1
    fi
    sleep 1
  done
  reload_nginx $(web_ids)
}

UNRESOLVED='failed to resolve host|Name or service not known|could not translate host name|Temporary failure in name resolution'
once() { # service command...: a one-off container of the service (compose run -T --rm --no-deps), its output shown
  # and its exit status returned. podman-compose 1.0 exits 0 whatever the container did and prints "exit code: N":
  # that N is the status there. Run again while `db` does not resolve yet: podman's name server stops answering while
  # it reloads its records as containers start and stop (docs/RUNBOOK.md §4); a command that could not connect did
  # nothing, so running it again is safe.
  local service=$1 try status=0 code out
  shift
  out=$(mktemp)
  for try in 1 2 3 4 5 6 7 8 9 10; do
    if compose run -T --rm --no-deps "$service" "$@" 2>&1 | tee "$out"; then status=0; else status=${PIPESTATUS[0]}; fi
    # (at the end of a line: the container's last line may have no newline of its own)
    code=$(tr -d '\r' <"$out" | sed -n 's/^\(.*\)\{0,1\}exit code: \([0-9][0-9]*\)$/\2/p' | tail -n 1)
    if [ "$status" -eq 0 ] && [ -n "$code" ]; then status=$code; fi
    if [ "$status" -eq 0 ] || ! grep -qE "$UNRESOLVED" "$out"; then
      break
    fi
    echo "(db did not resolve yet, try $try: again in 3 s)" >&2
    sleep 3
  done
  rm -f "$out"
  return "$status"
}

deploy() {
  local previous tag
  previous=$(cat "$STATE/current" 2>/dev/null || echo "${TILLHOUSE_TAG:-latest}")
  tag=${TILLHOUSE_TAG:-$(git rev-parse --short HEAD 2>/dev/null || date +%Y%m%d%H%M%S)}
  export TILLHOUSE_TAG=$tag

  local backed_up=0
  if [ -n "$(web_ids)" ]; then
    say "Pre-deploy backup"
    web_exec python manage.py backup --kind pre-deploy
    backed_up=1
  fi

  if [ "${PULL:-0}" = 1 ]; then
    say "Pulling ${TILLHOUSE_IMAGE:-tillhouse}:$tag"
    compose pull web
  else
    say "Building ${TILLHOUSE_IMAGE:-tillhouse}:$tag"
    compose build web
  fi
  # The db image: the PostgreSQL image with pgBackRest (deploy/db/); unchanged layers come from the build cache.
  say "Building the db image ${TILLHOUSE_DB_IMAGE:-tillhouse-db}:${PG_MAJOR:-16}"
  compose build db
  if [ "$DOCKER" = podman ]; then # podman-compose (1.0.3) does not pass a failed build's exit status on
    local image
    for image in "${TILLHOUSE_IMAGE:-tillhouse}:$tag" "${TILLHOUSE_DB_IMAGE:-tillhouse-db}:${PG_MAJOR:-16}"; do
      podman image exists "$image" || {
        echo "the image $image was not built" >&2
        exit 1
      }
    done
  fi

  say "Starting db and redis, checking the production settings"
  compose up -d db redis
  wait_until_healthy db redis
  # The db container archives WAL with pgBackRest: its stanza is made once the server answers (a no-op later), and
  # pgBackRest's check switches a WAL segment and finds it in the repository (archiving works, or the deploy stops).
  say "pgBackRest: stanza and check"
  db_exec pgbackrest stanza-create
  db_exec pgbackrest check
  once migrate python manage.py check --deploy --fail-level WARNING
  if [ "$backed_up" = 0 ]; then
    # First deployment on this server (no web container yet): the database may still hold data (a move from another
    # server, a restored volume), so it is backed up before the first migration too; an empty one is said so.
    say "Pre-deploy backup (first deployment: no web container runs yet)"
    once migrate python manage.py backup --kind pre-deploy --if-installed
  fi
  say "Migrating"
  once migrate python manage.py migrate --noinput

  rolling_restart_web
  restart_the_rest
  echo "$previous" >"$STATE/previous"
  echo "$tag" >"$STATE/current"
  say "Deployed $tag (rollback target: $previous)"
  compose ps
}

rollback() {
  local current target
  target=${TILLHOUSE_TAG:-$(cat "$STATE/previous" 2>/dev/null || true)}
  current=$(cat "$STATE/current" 2>/dev/null || echo unknown)
  if [ -z "$target" ]; then
    echo "No previous deployment is recorded in $STATE/previous; set TILLHOUSE_TAG=<tag> to choose one." >&2
    exit 1
  fi
  export TILLHOUSE_TAG=$target
  say "Rolling back from $current to $target (the database schema stays as it is)"
  rolling_restart_web
  restart_the_rest
  echo "$current" >"$STATE/previous"
  echo "$target" >"$STATE/current"
  say "Running $target"
  compose ps
}

restore_to() { # "<instant>"|latest [--yes]: point-in-time restore of the db service (deploy/restore-to.sh)
  local to=${1:-} yes=${2:-} info
  if [ -z "$to" ] || { [ -n "$yes" ] && [ "$yes" != --yes ]; }; then
    echo 'usage: deploy/restore-to.sh "2026-12-07 14:03:00"|latest [--yes]' >&2
    exit 2
  fi
  local restore=(python manage.py restore) listing options=()
  # pgBackRest runs in the db container (its repository is on the pgbackrest-repo volume); the app checks the
  # instant against the backups kept before it touches anything. `run`: it works with db up or down (a crash).
  say "pgBackRest: the backups kept"
  # pgBackRest's JSON ends without a newline: podman-compose's "exit code: 0" follows it on the same line
  info=$(once db pgbackrest info --output=json | tr -d '\r' | sed -E 's/exit code: [0-9]+$//' | grep -E '^\[' | tail -n 1)
  say "Prepare (app): maintenance on, the pre-restore safety copy, the receipt and Z numbers issued noted"
  once migrate "${restore[@]}" --to "$to" --step prepare --pgbackrest-info "$info" $yes
  listing=$(once migrate "${restore[@]}" --step options) || { once migrate "${restore[@]}" --step abort; exit 1; }
  mapfile -t options < <(printf '%s\n' "$listing" | tr -d '\r' | grep -E '^--')
  if [ "${#options[@]}" -eq 0 ]; then
    echo "The restore plan gave no pgBackRest options: nothing was stopped; maintenance off again." >&2
    once migrate "${restore[@]}" --step abort
    exit 1
  fi
  say "Stopping db (a clean shutdown; the volumes stay)"
  compose stop db
  say "Restore (db): pgbackrest restore ${options[*]}"
  if ! once db pitr-restore "${options[@]}"; then
    say "pgBackRest's restore failed: db started again; if it is the cluster as it was, maintenance is left"
    compose up -d db
    wait_until_healthy db
    once migrate "${restore[@]}" --step abort
    exit 1
  fi
  say "Starting db: it replays the archive to the instant and is promoted, read-only until checked"
  compose up -d db
  wait_until_healthy db
  say "Finish (app): the barrier back on, migrate, counters above every number issued, checks, maintenance off"
  once migrate "${restore[@]}" --step finish
}

case "${1:-}" in
  deploy) deploy ;;
  rollback) rollback ;;
  restore-to)
    shift
    restore_to "$@"
    ;;
  *)
    echo "usage: $0 deploy|rollback|restore-to" >&2
    exit 2
    ;;
esac
