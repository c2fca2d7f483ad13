# syntax=docker/dockerfile:1.7
#
# One image for every stock-mlops service (extractor, transformer, loader, trainer, predictor,
# monitor, dashboard).
# The service is chosen at run time: `docker run IMAGE predictor`, or bake a default with
# `--build-arg SERVICE=predictor`. There is no build step: services run from TypeScript source
# with `node --import tsx` (tsx is a runtime dependency).
#
#   docker build -t stock-mlops:local .
#   docker build -t stock-mlops:slim --build-arg TFJS_NODE=false .   # no native TensorFlow
#
# Runtime contract (matches k8s/base): runs as uid/gid 10001, needs no writable path but /tmp
# (tsx's compile cache), so it works with a read-only root filesystem and all capabilities dropped.

ARG NODE_IMAGE=node:20-bookworm-slim

# ---------------------------------------------------------------------------------------------
FROM ${NODE_IMAGE} AS base
WORKDIR /app
ENV NODE_ENV=production \
    NPM_CONFIG_UPDATE_NOTIFIER=false \
    NPM_CONFIG_FUND=false \
    NPM_CONFIG_AUDIT=false

# ---------------------------------------------------------------------------------------------
# Only what `npm ci` reads: the root manifest, the lockfile, every workspace's package.json and
# patches/ (applied to node_modules by the postinstall script: see docs/operations.md).
# A source change leaves /out byte-identical, so the dependency layers below stay cached; a new
# workspace (services/<new>/package.json) is picked up without editing this file.
FROM base AS manifests
WORKDIR /src
COPY . .
RUN mkdir -p /out \
 && cp package.json package-lock.json /out/ \
 && cp -r patches /out/ \
 && find packages services -mindepth 2 -maxdepth 2 -name package.json -exec cp --parents {} /out/ \;

# ---------------------------------------------------------------------------------------------
FROM base AS deps
COPY --from=manifests /out/ ./
RUN --mount=type=cache,target=/root/.npm,sharing=locked \
    npm ci --omit=dev

# Optional native TensorFlow. @tensorflow/tfjs-node downloads libtensorflow while installing
# (Docker build hosts have internet); the code uses it automatically when it loads, else it falls
# back to the WebAssembly backend. Its version must equal @tensorflow/tfjs's, so it is read from
# package.json. No prebuilt binary exists for some platforms (e.g. linux/arm64): the build then
# goes on without it.
FROM deps AS deps-tf
ARG TFJS_NODE=true
RUN --mount=type=cache,target=/root/.npm,sharing=locked \
    if [ "$TFJS_NODE" = "true" ]; then \
      v="$(node -p "require('./package.json').dependencies['@tensorflow/tfjs']")"; \
      npm install --no-save --omit=dev "@tensorflow/tfjs-node@${v}" \
        || echo "WARNING: @tensorflow/tfjs-node@${v} could not be installed; the services will use the wasm backend" >&2; \
    fi

# ---------------------------------------------------------------------------------------------
FROM base AS runtime
ARG SERVICE=""
ARG GIT_SHA=unknown
LABEL org.opencontainers.image.title="stock-mlops" \
      org.opencontainers.image.description="stock-mlops services: extractor, transformer, loader, trainer, predictor, monitor, dashboard" \
      org.opencontainers.image.licenses="MIT" \
      org.opencontainers.image.revision="${GIT_SHA}"

RUN groupadd --system --gid 10001 app \
 && useradd --system --uid 10001 --gid app --home-dir /tmp --no-create-home --shell /usr/sbin/nologin app

# Dependencies first (cached), then the source; both stay owned by root, so read-only to the app.
COPY --from=deps-tf /app/ ./
COPY . .

# HTTP_HOST/GRPC_HOST/WS_HOST/… default to 127.0.0.1 in the code: a container must listen on all
# interfaces. HTTP_PORT is overridden per service by docker-compose.yml and k8s.
ENV SERVICE=${SERVICE} \
    GIT_SHA=${GIT_SHA} \
    HOME=/tmp \
    HTTP_HOST=0.0.0.0 \
    HTTP_PORT=9100 \
    GRPC_HOST=0.0.0.0 \
    WS_HOST=0.0.0.0 \
    MONITOR_GRPC_HOST=0.0.0.0 \
    DASHBOARD_HOST=0.0.0.0 \
    EXTRACT_REPLAY_PATH=/app/data/prices

USER 10001:10001
# ops HTTP (/healthz, /readyz, /metrics), predictor gRPC and WebSocket, monitor gRPC, dashboard
EXPOSE 9100 50051 8081 50052 8080

# No curl in the slim image: node's fetch checks liveness.
HEALTHCHECK --interval=15s --timeout=5s --start-period=60s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:'+(process.env.HTTP_PORT||9100)+'/healthz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]

# `IMAGE <service>` or $SERVICE; exec so node is the process that gets SIGTERM.
ENTRYPOINT ["/bin/sh", "-c", "svc=\"${1:-$SERVICE}\"; if [ -z \"$svc\" ] || [ ! -f \"services/$svc/src/main.ts\" ]; then echo \"usage: IMAGE <service> (or SERVICE=<service>); services: $(cd services && ls -d */src/main.ts | cut -d/ -f1 | tr '\\n' ' ')\" >&2; exit 64; fi; exec node --import tsx \"services/$svc/src/main.ts\"", "--"]
CMD []
