# syntax=docker/dockerfile:1
#
# The one image every Aetherveil function runs on Cloud Run (terraform/run.tf): the `aetherveil`
# binary started as `aetherveil run-function`, which serves the registry entry named by
# FUNCTION_TARGET on $PORT (the Functions Framework contract). `aetherveil serve` runs from the
# same image with `--entrypoint /usr/local/bin/aetherveil` and the argument `serve`.
#
# Build (BuildKit, for the cache mounts):
#   DOCKER_BUILDKIT=1 docker build -t aetherveil .
# Run one function locally:
#   docker run --rm -p 8080:8080 -e FUNCTION_TARGET=webhook -e AETHERVEIL_WEBHOOK_SECRET=s aetherveil

ARG RUST_VERSION=1.95

FROM rust:${RUST_VERSION}-slim-bookworm AS build
WORKDIR /src
COPY . .
# The registry and the target directory live in cache mounts, so a rebuild recompiles only what
# changed; the binary is copied out of the mount into the image layer.
RUN --mount=type=cache,target=/usr/local/cargo/registry,sharing=locked \
    --mount=type=cache,target=/usr/local/cargo/git,sharing=locked \
    --mount=type=cache,target=/src/target,sharing=locked \
    cargo build --release --locked -p aetherveil --bin aetherveil \
    && install -D -m 0755 target/release/aetherveil /out/aetherveil

# glibc, libgcc and CA certificates, no shell; runs as uid 65532 (nonroot).
FROM gcr.io/distroless/cc-debian12:nonroot
COPY --from=build /out/aetherveil /usr/local/bin/aetherveil
# Cloud Run sets PORT; FUNCTION_TARGET is set per service. The data directory holds only what
# the embedded backends would keep (nothing in the cloud shape); /tmp is writable by nonroot.
ENV PORT=8080 \
    AETHERVEIL_SERVER_DATA_DIR=/tmp/aetherveil \
    AETHERVEIL_LOG_FORMAT=json
USER nonroot:nonroot
EXPOSE 8080
ENTRYPOINT ["/usr/local/bin/aetherveil", "run-function"]
