# snatch in a container: built with the locked dependencies, run as a
# non-root user on a slim Debian with ffmpeg. Used by
# docs/recipes/kubernetes-indexed-job.yaml.
#
#   docker build -t snatch .
#   docker run --rm -v "$PWD:/work" snatch run jobs.yaml
#
# Not built on the machine where this file was written (it has no container
# daemon): see docs/sharding.md for what was and was not checked.

FROM rust:1-slim-bookworm AS build
WORKDIR /src
COPY . .
RUN cargo build --release --locked

FROM debian:bookworm-slim
RUN apt-get update \
    && apt-get install -y --no-install-recommends ffmpeg ca-certificates \
    && rm -rf /var/lib/apt/lists/* \
    && groupadd --system --gid 10001 snatch \
    && useradd --system --uid 10001 --gid 10001 --create-home --home-dir /home/snatch snatch \
    && mkdir -p /work \
    && chown snatch:snatch /work
COPY --from=build /src/target/release/snatch /usr/local/bin/snatch
USER 10001:10001
WORKDIR /work
ENTRYPOINT ["snatch"]
CMD ["--help"]
