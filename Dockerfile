# Vigil as production runs it: the release binary and the built web app on a slim Debian, no build tools.
FROM node:20-bookworm-slim AS web
WORKDIR /src
COPY openapi openapi
COPY web/package.json web/package-lock.json web/
RUN cd web && npm ci --no-audit --no-fund
COPY web web
RUN cd web && npm run build

FROM rust:1-bookworm AS build
RUN apt-get update && apt-get install -y --no-install-recommends libpq-dev libsqlite3-dev && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY Cargo.toml Cargo.lock rustfmt.toml clippy.toml ./
COPY api api
COPY migrations migrations
RUN cargo build --release --locked --bin vigil

FROM debian:bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends libpq5 libsqlite3-0 ca-certificates curl \
    && rm -rf /var/lib/apt/lists/* && useradd --system --home /var/lib/vigil vigil && mkdir -p /var/lib/vigil \
    && chown vigil /var/lib/vigil
COPY --from=build /src/target/release/vigil /usr/local/bin/vigil
COPY --from=web /src/web/dist /usr/share/vigil/web
USER vigil
WORKDIR /var/lib/vigil
ENV BIND=0.0.0.0:8080 DATA_DIR=/var/lib/vigil WEB_DIR=/usr/share/vigil/web
EXPOSE 8080
HEALTHCHECK --interval=10s --timeout=3s CMD curl -fsS http://127.0.0.1:8080/readyz || exit 1
ENTRYPOINT ["vigil"]
CMD ["serve"]
