# Tempered: one image for every role (api, worker, migrate).
#   docker build -t tempered:local .
#   docker run --rm tempered:local migrate|worker|api
# The image holds no secrets: DATABASE_URL, TEMPORAL_* and friends come from the environment.

ARG NODE_IMAGE=node:20-bookworm-slim

# ---- build: dev dependencies + TypeScript compile ---------------------------------------------
FROM ${NODE_IMAGE} AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json ./
COPY src ./src
RUN npm run build

# ---- runtime: production dependencies + compiled JS only --------------------------------------
FROM ${NODE_IMAGE} AS runtime
ENV NODE_ENV=production \
    API_HOST=0.0.0.0 \
    API_PORT=6385 \
    TEMPORAL_NAMESPACE=default \
    TEMPORAL_TASK_QUEUE=tempered \
    LOG_LEVEL=info
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force
COPY --from=build /app/dist ./dist
# The SQL migrations are not compiled; dist/db/migrate.js reads them from ../../src/db/migrations.
COPY --from=build /app/src/db/migrations ./src/db/migrations

# Unprivileged user shipped with the node image (uid 1000); the app never writes to /app.
USER node
EXPOSE 6385
ENTRYPOINT ["node", "dist/cli/index.js"]
CMD ["api"]
