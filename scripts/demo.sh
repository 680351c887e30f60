#!/usr/bin/env bash
# README demo: the todobackend release as a team does it, on the private
# engine. jobrun deploy of examples/stack.yml (app, db, and the jobs migrate
# and collectstatic inside it): a first deploy, a new version, then a version
# whose migration fails and leaves the app untouched. Then the hook form
# (jobrun migrate), the CloudWatch path through Docker's awslogs driver and a
# local CloudWatch Logs endpoint, jobrun logs, jobrun exec showmigrations in the
# failed migration's context, and jobrun history. Leaves the
# engine running; stop it with scripts/engine.sh down.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
command -v go >/dev/null || export PATH=$PATH:/usr/local/go/bin

export DEMO_VERSION=${DEMO_VERSION:-3db46c4} # also read by images.sh
NEXT_VERSION=5e1f0aa
BAD_VERSION=9b2c7d1
scripts/engine.sh up
eval "$(scripts/engine.sh env)"

# The team's build pushes an image per version; here they are local tags.
IMAGE=385605022855.dkr.ecr.us-east-1.amazonaws.com/docker-in-aws/todobackend
for v in "$NEXT_VERSION" "$BAD_VERSION"; do docker tag "$IMAGE:$DEMO_VERSION" "$IMAGE:$v"; done
if ! docker secret inspect todobackend_mysql_password >/dev/null 2>&1; then
  printf 'demo-password' | docker secret create todobackend_mysql_password - >/dev/null
fi
go build -o bin/jobrun .

# --resolve-image never: there is no registry; the images are local.
# --force: the engine keeps its swarm, and the run records, between demos;
# without it a version whose jobs already succeeded does not run them again.
run() { echo "+ $*"; "$@" || echo "exit code: $?"; }
run bin/jobrun deploy -c examples/stack.yml --stack todobackend --version "$DEMO_VERSION" --resolve-image never --force
run bin/jobrun deploy -c examples/stack.yml --stack todobackend --version "$NEXT_VERSION" --resolve-image never --force
run bin/jobrun deploy -c examples/stack.yml -c examples/broken-migration.yml --stack todobackend --version "$BAD_VERSION" --resolve-image never --force --restart-delay 1s --max-attempts 1
echo "+ docker service inspect todobackend_app   # still the version before the failed migration"
docker service inspect todobackend_app --format '{{.Spec.TaskTemplate.ContainerSpec.Image}}'

# The hook form: one job, as a deploy pipeline's pre-deploy step runs it.
run bin/jobrun -c examples/stack.yml --stack todobackend migrate --version "$NEXT_VERSION" --resolve-image never

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
run bin/jobrun -c examples/stack.yml -c examples/awslogs.yml --stack todobackend migrate --version "$NEXT_VERSION" --resolve-image never --force

run bin/jobrun --stack todobackend logs migrate --version "$BAD_VERSION"
# Debug the failed migration where it failed: the same image, environment,
# secret and network as the job, one command, its exit code.
run bin/jobrun -c examples/stack.yml -c examples/broken-migration.yml --stack todobackend exec migrate --version "$BAD_VERSION" --resolve-image never -- python3 manage.py showmigrations
run bin/jobrun --stack todobackend history

echo
echo "The engine is still running (DOCKER_HOST=unix:///run/jobrun-engine/docker.sock)."
echo "Stop it with: scripts/engine.sh down"
