#!/usr/bin/env bash
# README demo: the todobackend release as a team does it, on the private
# engine, with the real application (examples/todobackend, Django 3.2 on
# MariaDB 10.11; images from scripts/images.sh). jobrun deploy of
# examples/stack.yml (app, db, and the jobs migrate and collectstatic inside
# it): a first deploy on an empty database, two todos through the API, the
# dry run of a new version with one migration (migrate's plan shows it),
# that version, then a version whose migration fails at the database while
# the app stays on the version before and still answers. Then
# the hook form (jobrun migrate), the CloudWatch path through Docker's awslogs
# driver and a local CloudWatch Logs endpoint, jobrun logs of the failed
# migration, jobrun exec in its context (showmigrations, and the column the
# failure left behind), and jobrun history. Leaves the engine running; stop it
# with scripts/engine.sh down. JOBRUN_ENGINE picks the engine (scripts/lib.sh):
# 20, the default, or 29; the demo touches no other.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
command -v go >/dev/null || export PATH=$PATH:/usr/local/go/bin

FIRST_VERSION=3db46c4
NEXT_VERSION=5e1f0aa
BAD_VERSION=9b2c7d1 # its todo.0003_todoitem_slug fails once there are two todos
STACK=todobackend
scripts/engine.sh up
eval "$(scripts/engine.sh env)"
IMAGE=385605022855.dkr.ecr.us-east-1.amazonaws.com/docker-in-aws/todobackend

if ! docker secret inspect todobackend_mysql_password >/dev/null 2>&1; then
  printf 'demo-password' | docker secret create todobackend_mysql_password - >/dev/null
fi
go build -o bin/jobrun .

# The engine keeps its swarm between demos, and with it the stack and its
# database: start from none, so the first deploy meets an empty database as a
# team's first release does. The stack's services, and jobrun's of it (a job
# service kept by --keep or left as a stopped job's lock holds the public
# volume too); volumes go once no container of the stack holds them.
reset_stack() {
  local services
  services=$({
    docker service ls -q --filter "label=com.docker.stack.namespace=$STACK"
    docker service ls -q --filter "label=io.jobrun.stack=$STACK"
  } | sort -u)
  [[ -z $services ]] || docker service rm $services >/dev/null
  for _ in $(seq 120); do # 60 s
    [[ -z $(docker volume ls -q --filter "label=com.docker.stack.namespace=$STACK") ]] && return
    docker volume ls -q --filter "label=com.docker.stack.namespace=$STACK" | xargs -r docker volume rm >/dev/null 2>&1 || true
    sleep 0.5
  done
  echo "demo: the volumes of stack $STACK are still in use after 60s" >&2
  exit 1
}
echo "+ remove stack $STACK and its volumes (a fresh database)"
reset_stack

# api SCRIPT: Python run beside the app on the stack's overlay network (no
# port is published: the engine has no routing mesh). Only the engine's
# warning that it forwards no IPv4 is dropped.
api() {
  docker run --rm --network "${STACK}_net" "$IMAGE:$NEXT_VERSION" python3 -c "
import json, urllib.error, urllib.request
def get():
    print('GET /todos ->', urllib.request.urlopen('http://app:8000/todos').read().decode())
def post(title):
    req = urllib.request.Request('http://app:8000/todos', json.dumps({'title': title}).encode(), {'Content-Type': 'application/json'})
    try:
        print('POST /todos ->', urllib.request.urlopen(req).status)
    except urllib.error.HTTPError as e:
        print('POST /todos ->', e.code, e.reason)
$1" 2> >(grep -v 'IPv4 forwarding is disabled' >&2)
}

# A cold database, simulated: the private engine starts MariaDB in about 2 s,
# before migrate's first attempt connects, where a fresh database (a new
# volume, a restored snapshot, a managed instance being created) takes far
# longer. The demo's deploys merge this file after examples/stack.yml (which
# stays as it is) so that db's first start waits 5 s before MariaDB starts:
# migrate's first attempt fails to connect, which the stack's retry-when
# retries, and Swarm runs it again after the restart delay (10 s): it
# succeeds. Every deploy of the demo merges it, so db's spec does not
# change between them and db starts once.
COLD_DB=bin/demo-cold-db.yml
mkdir -p bin
cat >"$COLD_DB" <<'YAML'
version: "3.7"
services:
  db:
    entrypoint: [sh, -c, "echo 'demo: simulating a cold database: MariaDB starts in 5 s'; sleep 5; exec docker-entrypoint.sh mariadbd"]
YAML
echo "+ cat $COLD_DB   # the demo's simulation of a cold database: db waits 5 s before MariaDB starts"
cat "$COLD_DB"
STACK_FILES=(-c examples/stack.yml -c "$COLD_DB")

# --resolve-image never: there is no registry; the images are local.
# --force: the engine keeps the run records between demos; without it a
# version whose jobs already succeeded does not run them again.
run() { echo "+ $*"; "$@" || echo "exit code: $?"; }
run bin/jobrun deploy "${STACK_FILES[@]}" --stack "$STACK" --version "$FIRST_VERSION" --resolve-image never --force
echo "+ two todos through the API"
api 'post("Buy milk"); post("Walk the dog"); get()'
# What the next release would do, before doing it: the services it would
# change, and migrate's plan (x-jobrun plan: Django's migrate --plan) run in
# that version's context against the live database: todo.0002 would apply.
run bin/jobrun deploy "${STACK_FILES[@]}" --stack "$STACK" --version "$NEXT_VERSION" --resolve-image never --force --dry-run
run bin/jobrun deploy "${STACK_FILES[@]}" --stack "$STACK" --version "$NEXT_VERSION" --resolve-image never --force
# The stack's retry-when retries only a database not taking connections yet:
# this migration fails once, at the database, and is not run again on the
# column it left.
run bin/jobrun deploy "${STACK_FILES[@]}" --stack "$STACK" --version "$BAD_VERSION" --resolve-image never --force
echo "+ docker service inspect ${STACK}_app   # still the version before the failed migration"
docker service inspect "${STACK}_app" --format '{{.Spec.TaskTemplate.ContainerSpec.Image}}'
echo "+ the app still answers; a new todo fails: the failed migration left its column, NOT NULL without a default"
api 'get(); post("Third")'

# The hook form: one job, as a deploy pipeline's pre-deploy step runs it.
run bin/jobrun -c examples/stack.yml --stack "$STACK" migrate --version "$NEXT_VERSION" --resolve-image never --force

# The CloudWatch path: the same job with Docker's awslogs driver, against a
# local CloudWatch Logs-compatible endpoint (no AWS account needed). jobrun
# reads each attempt's stream with the AWS SDK, as it would from CloudWatch.
go build -o bin/cwlogs-endpoint ./cmd/cwlogs-endpoint
bin/cwlogs-endpoint -addr 127.0.0.1:0 >bin/cwlogs-endpoint.url 2>/dev/null &
endpoint_pid=$!
trap 'kill "$endpoint_pid" 2>/dev/null || true' EXIT
for _ in $(seq 100); do [[ -s bin/cwlogs-endpoint.url ]] && break; sleep 0.1; done
AWSLOGS_ENDPOINT=$(cat bin/cwlogs-endpoint.url)
export AWSLOGS_ENDPOINT AWS_ACCESS_KEY_ID=AKIDJOBRUNDEMO AWS_SECRET_ACCESS_KEY=jobrun-demo-secret AWS_REGION=us-east-1
run bin/jobrun -c examples/stack.yml -c examples/awslogs.yml --stack "$STACK" migrate --version "$NEXT_VERSION" --resolve-image never --force

run bin/jobrun --stack "$STACK" logs migrate --version "$BAD_VERSION"
# Debug the failed migration where it failed: the same image, environment,
# secret and network as the job, one command, its exit code. Django's record
# says 0003 is not applied; the table says its first half was.
run bin/jobrun -c examples/stack.yml --stack "$STACK" exec migrate --version "$BAD_VERSION" --resolve-image never -- python3 manage.py showmigrations todo
run bin/jobrun -c examples/stack.yml --stack "$STACK" exec migrate --version "$BAD_VERSION" --resolve-image never -- python3 manage.py dbshell -- -e 'SHOW COLUMNS FROM todo_todoitem'
run bin/jobrun --stack "$STACK" history

echo
echo "The engine is still running (DOCKER_HOST=$DOCKER_HOST), and the stack on $NEXT_VERSION."
echo "Stop it with: ${JOBRUN_ENGINE:+JOBRUN_ENGINE=$JOBRUN_ENGINE }scripts/engine.sh down"
