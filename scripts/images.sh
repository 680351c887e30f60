#!/usr/bin/env bash
# Builds the offline test images into the private engine (called by engine.sh up).
# There is no registry access, so images are imported from a rootfs made of the
# host's static busybox. An image is rebuilt only when missing or when this
# script changed (its hash is stored as an image label).
#
#   jobrun-test/busybox:latest     plain busybox, for integration tests
#   385605022855.dkr.ecr.us-east-1.amazonaws.com/docker-in-aws/todobackend:$DEMO_VERSION
#                                  busybox + fake python3 (Django manage.py), for the demo
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
eval "$(scripts/engine.sh env)"

TEST_IMAGE=jobrun-test/busybox:latest
DEMO_IMAGE=385605022855.dkr.ecr.us-east-1.amazonaws.com/docker-in-aws/todobackend:${DEMO_VERSION:-3db46c4}
BUILD=$(sha256sum "${BASH_SOURCE[0]}" | cut -c1-16)

current() { # true if $1 exists and was built by this version of the script
  [[ $(docker image inspect --format '{{index .Config.Labels "jobrun.build"}}' "$1" 2>/dev/null) == "$BUILD" ]]
}

if current "$TEST_IMAGE" && current "$DEMO_IMAGE"; then exit 0; fi

ROOT=$(mktemp -d)
trap 'rm -rf "$ROOT"' EXIT

# --- base rootfs: busybox with every applet linked at its usual path ---
mkdir -p "$ROOT"/{bin,sbin,usr/bin,usr/sbin,usr/local/bin,etc,root,tmp}
chmod 1777 "$ROOT/tmp"
cp "$(command -v busybox)" "$ROOT/bin/busybox"
busybox --list-full | grep -vx bin/busybox | while read -r applet; do
  ln -s /bin/busybox "$ROOT/$applet"
done
echo 'root:x:0:0:root:/root:/bin/sh' >"$ROOT/etc/passwd"
echo 'root:x:0:' >"$ROOT/etc/group"

# Long-running stand-in for servers (app, db). PID 1 ignores SIGTERM unless it
# handles it, so trap it: stopping a service then takes no time instead of the
# 10 s grace period.
cat >"$ROOT/usr/local/bin/idle" <<'SH'
#!/bin/sh
name=${1:-idle}
trap 'echo "$name: stopping"; exit 0' TERM INT
echo "$name: ready"
while :; do sleep 3600 & wait $!; done
SH
chmod 755 "$ROOT/usr/local/bin/idle"

PATHS='ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'
import_rootfs() { # rootfs -> image; remaining args are extra --change options
  local image=$1; shift
  tar -C "$ROOT" --numeric-owner -c . |
    docker import --change "$PATHS" --change "LABEL jobrun.build=$BUILD" "$@" - "$image" >/dev/null
  echo "images: built $image"
}

import_rootfs "$TEST_IMAGE" --change 'CMD ["sh"]'

# --- demo image: same rootfs plus a fake python3 for manage.py ---
mkdir -p "$ROOT/app" "$ROOT/public"
cat >"$ROOT/app/manage.py" <<'PY'
# placeholder: the offline demo image fakes python3 itself (/usr/local/bin/python3)
PY
cat >"$ROOT/usr/local/bin/python3" <<'SH'
#!/bin/sh
# Offline stand-in for the todobackend image's Python: fakes exactly the Django
# management commands the jobs run.
usage() {
  echo "usage: python3 manage.py {migrate|collectstatic} --no-input | showmigrations (offline fake, got: python3 $*)" >&2
  exit 2
}
# The app's migrations, in the order migrate applies them.
MIGRATIONS="contenttypes.0001_initial auth.0001_initial admin.0001_initial
  admin.0002_logentry_remove_auto_add admin.0003_logentry_add_action_flag_choices
  contenttypes.0002_remove_content_type_name auth.0002_alter_permission_name_max_length
  auth.0003_alter_user_email_max_length auth.0004_alter_user_username_opts
  auth.0005_alter_user_last_login_null auth.0006_require_contenttypes_0002
  auth.0007_alter_validators_add_error_messages auth.0008_alter_user_username_max_length
  auth.0009_alter_user_last_name_max_length sessions.0001_initial todo.0001_initial"
if [ $# -lt 2 ] || [ "$1" != manage.py ]; then usage "$@"; fi
cmd=$2
shift 2
for arg in "$@"; do
  case $arg in --no-input | --noinput) ;; *) usage manage.py "$cmd" "$@" ;; esac
done
case $cmd in
migrate)
  echo "Operations to perform:"
  echo "  Apply all migrations: admin, auth, contenttypes, sessions, todo"
  echo "Running migrations:"
  for m in $MIGRATIONS; do
    echo "  Applying $m... OK"
  done
  if [ -n "${TODOBACKEND_BROKEN_MIGRATION:-}" ]; then # examples/broken-migration.yml
    echo "  Applying $TODOBACKEND_BROKEN_MIGRATION..."
    echo "Traceback (most recent call last):" >&2
    echo "  File \"/app/manage.py\", line 15, in <module>" >&2
    echo "django.db.utils.OperationalError: (1054, \"Unknown column 'todo_todoitem.due_date' in 'field list'\")" >&2
    exit 1
  fi
  ;;
collectstatic)
  echo
  echo "159 static files copied to '/public'."
  ;;
showmigrations)
  # As Django lists them: applied [X], and the broken release's one [ ]
  # (the failed migrate rolled it back).
  broken=${TODOBACKEND_BROKEN_MIGRATION:-}
  for app in admin auth contenttypes sessions todo; do
    echo "$app"
    for m in $MIGRATIONS; do
      case $m in "$app".*) echo " [X] ${m#*.}" ;; esac
    done
    if [ "${broken%%.*}" = "$app" ]; then echo " [ ] ${broken#*.}"; fi
  done
  ;;
*) usage manage.py "$cmd" "$@" ;;
esac
SH
chmod 755 "$ROOT/usr/local/bin/python3"

import_rootfs "$DEMO_IMAGE" --change 'WORKDIR /app' --change 'CMD ["idle", "app"]'
