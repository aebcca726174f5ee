# syntax=docker/dockerfile:1
# Multi-stage build of the `brewlytics` binary (api, cdc, migrate, roles, metabase setup …).
# The migrations are embedded at compile time (refinery), so migrations/ is part of the build.

FROM rust:1.95-bookworm AS builder
WORKDIR /src
COPY Cargo.toml Cargo.lock build.rs ./
COPY src ./src
COPY migrations ./migrations
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/usr/local/cargo/git \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked --bin brewlytics \
 && install -m 0755 target/release/brewlytics /usr/local/bin/brewlytics

FROM debian:bookworm-slim AS runtime
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --system --gid 10001 brewlytics \
 && useradd --system --uid 10001 --gid brewlytics --home-dir /app --create-home --shell /usr/sbin/nologin brewlytics
COPY --from=builder /usr/local/bin/brewlytics /usr/local/bin/brewlytics
# The dashboard description `brewlytics metabase setup` applies (compose also mounts ./metabase).
COPY --chown=brewlytics:brewlytics metabase/dashboard.json /app/metabase/dashboard.json
WORKDIR /app
USER brewlytics:brewlytics
ENV LOG_FORMAT=json
# API (API_ADDR) and the daemon's Prometheus endpoint (METRICS_ADDR); both default to 127.0.0.1,
# so containers set API_ADDR=0.0.0.0:8000 / METRICS_ADDR=0.0.0.0:9898.
EXPOSE 8000 9898
ENTRYPOINT ["brewlytics"]
CMD ["--help"]
