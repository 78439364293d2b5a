# syntax=docker/dockerfile:1
# One image for every actor: the command picks the actor, e.g.
#   docker run --rm quorum-actors dist/actors/tm/main.js
# (ENTRYPOINT is node with the launcher's flags; infra/docker-compose.yml sets each service's command and the
# environment cli/launcher/network-runner.ts gives that actor). Build from the repository root:
#   docker build -t quorum-actors .
ARG NODE_IMAGE=node:20-bookworm-slim

# --- build: compile TypeScript (dev dependencies included) ---------------------------------------------
FROM ${NODE_IMAGE} AS build
WORKDIR /src
COPY package.json package-lock.json ./
# Install scripts stay off, as on our dev machines: secp256k1 then uses its pure-JS fallback (no compiler needed).
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY tsconfig.json ./
COPY lib ./lib
COPY actors ./actors
COPY cli ./cli
RUN npx tsc -p tsconfig.json

# --- deps: production node_modules only -------------------------------------------------------------
FROM ${NODE_IMAGE} AS deps
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund && npm cache clean --force

# --- runtime ---------------------------------------------------------------------------------------
FROM ${NODE_IMAGE} AS runtime
ENV NODE_ENV=production
WORKDIR /app
COPY --from=deps /app/package.json ./package.json
COPY --from=deps /app/node_modules ./node_modules
# The actors' entry points (dist/actors/**/main.js), the code they share, and the operator CLIs (admin, nats-config).
COPY --from=build /src/dist/lib ./dist/lib
COPY --from=build /src/dist/actors ./dist/actors
COPY --from=build /src/dist/cli ./dist/cli
# The image's unprivileged user; compose overrides the uid/gid to the owner of the mounted secrets (0600).
USER node
# The flags the local launcher starts every actor with.
ENTRYPOINT ["node", "--enable-source-maps", "--max-semi-space-size=32"]
CMD ["dist/actors/gateway/main.js"]
