#!/bin/sh
# As the official redis image: with no configuration file, other containers may connect.
set -eu
if [ "${1:-}" = redis-server ]; then
  shift
  set -- redis-server --protected-mode no "$@"
fi
exec "$@"
