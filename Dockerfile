# syntax=docker/dockerfile:1
# kubetrail: one image for every service. The command picks the role:
#   produce | process <name> | topics init        (see docker-compose.yml and charts/kubetrail/)
#
# Build:  docker build -t kubetrail:local .
# No secret is baked in: connection settings and credentials come from the environment at run time.

# ---- build: compile TypeScript to dist/ ---------------------------------------------------------
FROM node:24-slim AS build
WORKDIR /app
# Dependencies first, so a code change does not reinstall them. --ignore-scripts: nothing the
# build needs has an install script (the ones in the tree are optional native builds of dev-only
# packages and a banner), and it keeps the build offline-reproducible from the lock file.
COPY package.json package-lock.json ./
RUN npm ci --ignore-scripts --no-audit --no-fund
# Only what the build needs enters the context (.dockerignore is an allowlist).
COPY tsconfig.json ./
COPY cli ./cli
COPY lib ./lib
COPY producer ./producer
COPY processors ./processors
COPY sinks ./sinks
COPY schemas ./schemas
# stack/ (the embedded dev stack and the Argo simulator) only so that `stack` and `demo`, which
# load it with a dynamic import when they run, type-check; it is compiled and then removed: the
# image does not need it (every other command works without it, and `--help` lists them all).
COPY stack ./stack
# tsconfig also includes test/ and bench/: they are not in the context, so only the service code
# is compiled. Avro schemas need no copying: schemas/generated/*.ts export them as constants.
RUN npm run build && rm -rf dist/stack

# ---- runtime: production dependencies + dist/ ----------------------------------------------------
FROM node:24-slim AS runtime
ENV NODE_ENV=production
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund && npm cache clean --force
COPY --from=build /app/dist ./dist
# The node image's unprivileged `node` user, by number so that Kubernetes' runAsNonRoot can verify it.
USER 1000:1000
# /healthz, /readyz, /metrics (KUBETRAIL_HTTP_PORT, default 8080).
EXPOSE 8080
ENTRYPOINT ["node", "dist/cli/main.js"]
CMD ["--help"]
