#!/usr/bin/env bash
# make test-stack, before the test: podman set up to run containers on this machine, and the base images the test
# uses instead of the registry's (which it cannot pull) built from Debian packages. An image is kept while it was
# built from the recipe as it is now (a label holds the recipe's hash); a clean machine builds all of them, in a few
# minutes.
#
#   STACK_PYTHON_IMAGE    Debian bookworm (mmdebstrap, minbase) with python3 and venv: python:3.11-slim-bookworm's part
#   STACK_POSTGRES_IMAGE  Debian's PostgreSQL STACK_PG_MAJOR (15 on bookworm) and pgBackRest, tagged STACK_PG_MAJOR-bookworm
#   STACK_REDIS_IMAGE     Debian's Redis 7
#   STACK_NGINX_IMAGE     Debian's nginx
set -euo pipefail
cd "$(dirname "$0")"

PYTHON_IMAGE=${STACK_PYTHON_IMAGE:-localhost/tillhouse-test-python:3.11}
PG_MAJOR=${STACK_PG_MAJOR:-15}
POSTGRES_IMAGE=${STACK_POSTGRES_IMAGE:-localhost/tillhouse-test-postgres}:$PG_MAJOR-bookworm
REDIS_IMAGE=${STACK_REDIS_IMAGE:-localhost/tillhouse-test-redis:7-bookworm}
NGINX_IMAGE=${STACK_NGINX_IMAGE:-localhost/tillhouse-test-nginx:bookworm}
MIRROR=${STACK_DEBIAN_MIRROR:-http://deb.debian.org/debian}

say() { printf '[stack] %s\n' "$*"; }

# podman on this kind of machine (no systemd, cgroups v1/v2 as the host has them): cgroupfs, runc and no default
# ulimits. An existing configuration is the operator's and is left alone.
if [ ! -e /etc/containers/containers.conf ]; then
  mkdir -p /etc/containers
  cat >/etc/containers/containers.conf <<'CONF'
# Written by `make test-stack` (deploy/test-stack/images.sh).
[containers]
default_ulimits = []

[engine]
cgroup_manager = "cgroupfs"
runtime = "runc"
CONF
  say "wrote /etc/containers/containers.conf (cgroupfs, runc, no default ulimits)"
fi

PACKAGES=python3,python3-venv,python-is-python3,ca-certificates
LABEL=org.tillhouse.test-stack.recipe
recipe_of() { cat "$@" | sha256sum | cut -c1-16; }
current() { # image recipe: it exists and was built from this recipe
  [ "$(podman image inspect -f "{{index .Labels \"$LABEL\"}}" "$1" 2>/dev/null)" = "$2" ]
}

recipe=$(echo "bookworm minbase $PACKAGES $MIRROR" | recipe_of)
if current "$PYTHON_IMAGE" "$recipe"; then
  say "base image $PYTHON_IMAGE: present"
else
  say "base image $PYTHON_IMAGE: building a Debian bookworm root filesystem with mmdebstrap"
  rootfs=$(mktemp -d)
  trap 'rm -rf "$rootfs"' EXIT
  mmdebstrap --quiet --variant=minbase --include="$PACKAGES" bookworm "$rootfs/rootfs.tar" "$MIRROR"
  podman import --quiet --change 'CMD ["python3"]' --change "LABEL $LABEL=$recipe" "$rootfs/rootfs.tar" \
    "$PYTHON_IMAGE" >/dev/null
  rm -rf "$rootfs"
  trap - EXIT
fi
base_recipe=$recipe

build() { # image containerfile [build-arg...]
  local image=$1 file=$2 recipe
  shift 2
  recipe=$( (echo "$base_recipe $*" && cat "$file" ./*-entrypoint.sh) | recipe_of)
  if current "$image" "$recipe"; then
    say "base image $image: present"
    return
  fi
  say "base image $image: building from Debian packages ($file)"
  podman build --quiet --network=host --build-arg "BASE_IMAGE=$PYTHON_IMAGE" "$@" --label "$LABEL=$recipe" \
    -f "$file" -t "$image" . >/dev/null
}
build "$POSTGRES_IMAGE" Containerfile.postgres --build-arg "PG_MAJOR=$PG_MAJOR"
build "$REDIS_IMAGE" Containerfile.redis
build "$NGINX_IMAGE" Containerfile.nginx
