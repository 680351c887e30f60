.PHONY: build test demo engine-up engine-down

build:
	go build -o bin/jobrun .

test:
	bash scripts/test.sh

demo:
	bash scripts/demo.sh

engine-up:
	bash scripts/engine.sh up

engine-down:
	bash scripts/engine.sh down
