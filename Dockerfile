# jobrun as an image, for the places Swarm teams run their tools from: a
# manager's docker-CLI shell, a CI job's image:. FROM scratch, so building it
# needs no registry and no BuildKit: `make image` stages the static linux
# binary and the host's CA bundle (HTTPS to CloudWatch Logs) in dist/image/.
#
#   docker run --rm -v /var/run/docker.sock:/var/run/docker.sock \
#     -v "$PWD":/stack -w /stack jobrun --stack todobackend migrate --version 3db46c4
FROM scratch
COPY dist/image/ca-certificates.crt /etc/ssl/certs/ca-certificates.crt
COPY dist/image/jobrun /jobrun
# ~/.docker/config.json and ~/.aws are read from /root when mounted there.
ENV HOME=/root
WORKDIR /stack
ENTRYPOINT ["/jobrun"]
