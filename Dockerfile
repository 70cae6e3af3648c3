# syntax=docker/dockerfile:1
# The service only: Envoy runs beside it (gateway or sidecar) from the bootstrap this image prints, e.g.
#   docker run --rm IMAGE envoy-bootstrap --config /etc/llm-extproc/config.yaml --extproc 127.0.0.1:50051 > envoy.yaml
# (or `istio-manifests` for a mesh). `npm start`'s local Envoy is a development convenience, not part of the image.
# Protos stage: Envoy's API (Go module github.com/envoyproxy/go-control-plane/envoy, pinned in protos/envoy-api) printed
# as .proto files; the stamp tells scripts/gen-protos.mjs they match go.sum, so the Node stage needs no Go.
FROM golang:1.26-bookworm AS protos
WORKDIR /src/protos/envoy-api
COPY protos/envoy-api ./
RUN go run -mod=readonly . /out/gen && cp go.sum /out/gen/.go.sum

# Build stage: compile TypeScript (and generate proto types with buf) with dev dependencies. tsconfig.build.json
# compiles src/cli/main.ts and what it imports, nothing else: no tests, bench, fixtures or test helpers in dist/.
FROM node:20-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci
COPY tsconfig.json tsconfig.build.json buf.yaml buf.gen.yaml ./
COPY protos ./protos
COPY --from=protos /out/gen ./protos/gen
COPY scripts ./scripts
COPY src ./src
RUN npm run build:runtime

# Runtime stage: production dependencies and compiled JS only, as a non-root user.
FROM node:20-bookworm-slim
ENV NODE_ENV=production
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev && npm cache clean --force
COPY --from=build /app/dist ./dist
# The service loads Envoy's .proto files at run time (proto-loader, strict decoding).
COPY --from=build /app/protos/gen ./protos/gen
# The default config is read from src/config at run time (see src/config/load.ts).
COPY src/config/default-config.yaml ./src/config/default-config.yaml
COPY deploy/container-config.yaml /etc/llm-extproc/config.yaml
USER node
# 50051: ext_proc gRPC, which also serves grpc.health.v1 (Envoy's health checks); SIGTERM drains
# (extproc.drainGraceMs, then extproc.drainTimeoutMs). The shipped config binds it to loopback (an Envoy sidecar in
# the same pod); beyond loopback it needs extproc.tls (mutual TLS + allowedClients). 9090: admin (/healthz, /readyz,
# /metrics open for probes; /budgets needs the bearer token in LLM_EXTPROC_ADMIN_TOKEN).
EXPOSE 50051 9090
HEALTHCHECK --interval=10s --timeout=3s --start-period=10s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:9090/healthz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
ENTRYPOINT ["node", "--max-semi-space-size=8", "dist/src/cli/main.js"]
CMD ["start", "--config", "/etc/llm-extproc/config.yaml"]
