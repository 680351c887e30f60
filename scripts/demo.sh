#!/usr/bin/env bash
# README demo: deploy the todobackend stack (app, db) on the private engine, then
# let jobrun run its one-shot jobs (migrate, collectstatic) with output from the
# engine, run migrate again (already succeeded: not run twice), run it through
# Docker's awslogs driver and a local CloudWatch Logs endpoint, and show
# jobrun logs and history. Leaves the engine running; stop it with
# scripts/engine.sh down.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
command -v go >/dev/null || export PATH=$PATH:/usr/local/go/bin

export DEMO_VERSION=${DEMO_VERSION:-3db46c4} # also read by images.sh
scripts/engine.sh up
eval "$(scripts/engine.sh env)"

if ! docker secret inspect todobackend_mysql_password >/dev/null 2>&1; then
  printf 'demo-password' | docker secret create todobackend_mysql_password - >/dev/null
fi

# --resolve-image never: there is no registry; the images are local.
echo "+ docker stack deploy -c examples/stack.yml todobackend"
APP_VERSION=$DEMO_VERSION docker stack deploy --resolve-image never -c examples/stack.yml todobackend
# jobrun attaches jobs to the stack's network, so wait until it exists.
for _ in $(seq 300); do # 30 s
  docker network inspect todobackend_net >/dev/null 2>&1 && break
  sleep 0.1
done
docker network inspect todobackend_net >/dev/null 2>&1 || { echo "demo: network todobackend_net missing" >&2; exit 1; }

go build -o bin/jobrun .

# --force: the engine keeps its swarm between demos, and with it the run
# records; without it a version that already succeeded is not run again.
echo "+ bin/jobrun -c examples/stack.yml -c examples/jobs.yml --stack todobackend migrate collectstatic --version $DEMO_VERSION --force"
rc=0
bin/jobrun -c examples/stack.yml -c examples/jobs.yml --stack todobackend migrate collectstatic --version "$DEMO_VERSION" --force || rc=$?
echo "jobrun exit code: $rc"

echo "+ bin/jobrun -c examples/stack.yml -c examples/jobs.yml --stack todobackend migrate --version $DEMO_VERSION   # again"
bin/jobrun -c examples/stack.yml -c examples/jobs.yml --stack todobackend migrate --version "$DEMO_VERSION" || rc=$?
echo "jobrun exit code: $rc"

# The CloudWatch path: the same jobs with Docker's awslogs driver, against a
# local CloudWatch Logs-compatible endpoint (no AWS account needed). jobrun
# reads each attempt's stream with the AWS SDK, as it would from CloudWatch.
go build -o bin/cwlogs-endpoint ./cmd/cwlogs-endpoint
bin/cwlogs-endpoint -addr 127.0.0.1:0 >bin/cwlogs-endpoint.url 2>/dev/null &
endpoint_pid=$!
trap 'kill "$endpoint_pid" 2>/dev/null || true' EXIT
for _ in $(seq 100); do [[ -s bin/cwlogs-endpoint.url ]] && break; sleep 0.1; done
AWSLOGS_ENDPOINT=$(cat bin/cwlogs-endpoint.url)
export AWSLOGS_ENDPOINT AWS_ACCESS_KEY_ID=AKIDJOBRUNDEMO AWS_SECRET_ACCESS_KEY=jobrun-demo-secret AWS_REGION=us-east-1

echo "+ bin/jobrun -c examples/stack.yml -c examples/jobs.yml -c examples/awslogs.yml --stack todobackend migrate --version $DEMO_VERSION --force"
bin/jobrun -c examples/stack.yml -c examples/jobs.yml -c examples/awslogs.yml --stack todobackend migrate --version "$DEMO_VERSION" --force || rc=$?
echo "jobrun exit code: $rc"

echo "+ bin/jobrun --stack todobackend logs migrate"
bin/jobrun --stack todobackend logs migrate || rc=$?

echo "+ bin/jobrun --stack todobackend history"
bin/jobrun --stack todobackend history

echo
echo "The engine is still running (DOCKER_HOST=unix:///run/jobrun-engine/docker.sock)."
echo "Stop it with: scripts/engine.sh down"
exit "$rc"
