.PHONY: build release image test demo engine-up engine-down

# The image's name for `make image`; VERSION (default: git describe) names
# release binaries and the image's jobrun.
IMAGE ?= jobrun

# -buildvcs=auto: stamp the commit (jobrun version) whatever GOFLAGS says.
build:
	go build -buildvcs=auto -o bin/jobrun .

# dist/jobrun-{linux,darwin}-{amd64,arm64} and dist/SHA256SUMS, offline.
release:
	bash scripts/release.sh binaries

# The image, FROM scratch (no registry, no BuildKit needed), built on the
# engine DOCKER_HOST names; the binary is built for that engine's architecture.
image:
	bash scripts/release.sh context
	docker build -t $(IMAGE) .

test:
	bash scripts/test.sh

demo:
	bash scripts/demo.sh

engine-up:
	bash scripts/engine.sh up

engine-down:
	bash scripts/engine.sh down
