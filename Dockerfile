# syntax=docker/dockerfile:1
# podwall's container image: `docker build -t podwall:0.1.0 .` (BuildKit, the default builder).
# Stage 1 builds the release binary; templates and static files are compiled into it.
# Stage 2 holds only that binary on a distroless base and runs it as UID/GID 10001, the
# same as deploy/20-deployment.yaml's securityContext.

FROM rust:1.95-bookworm AS build
WORKDIR /src
COPY . .
# The cache mounts keep the crate registry and compiled dependencies between builds; the
# binary is copied out because cache mounts are not part of the image.
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked --bin podwall \
    && install -D -m 0755 target/release/podwall /out/podwall

# glibc-linked rather than static musl: musl's allocator is slow under the many-threaded
# allocation of an HTTP server, and distroless/cc carries the same glibc as bookworm.
FROM gcr.io/distroless/cc-debian12:nonroot
COPY --from=build /out/podwall /usr/local/bin/podwall
USER 10001:10001
EXPOSE 8080
ENTRYPOINT ["podwall", "serve"]
