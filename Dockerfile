# oasys-migrate in a container: the packed package, its runtime dependencies
# only (no dev dependencies, no embedded-postgres: `demo` is not for
# containers), running as the unprivileged `node` user.
#
#   docker build -t oasys-migrate .
#   docker run --rm -e OASYS_SOURCE_URL='postgres://migrator@db:5432/app' -e PGPASSWORD oasys-migrate plan
#
# Stage 1 builds and packs exactly what `npm pack` ships (package.json "files").
FROM node:20-slim AS build
WORKDIR /build
COPY package.json package-lock.json tsconfig.json ./
RUN npm ci --omit=optional --ignore-scripts --no-audit --no-fund
COPY bin ./bin
COPY src ./src
COPY sql ./sql
COPY README.md RUNBOOK.md ./
COPY docs ./docs
RUN npm pack --pack-destination /tmp \
 && mkdir /app && tar -xzf /tmp/oasys-migrate-*.tgz -C /app --strip-components=1 \
 && cp package-lock.json /app/

# Stage 2: the unpacked tarball and `npm ci --omit=dev` from the lock file.
FROM node:20-slim
ENV NODE_ENV=production
WORKDIR /app
COPY --from=build --chown=root:root /app ./
RUN npm ci --omit=dev --omit=optional --ignore-scripts --no-audit --no-fund \
 && npm cache clean --force \
 && chmod 0755 /app/bin/oasys-migrate.js \
 && ln -s /app/bin/oasys-migrate.js /usr/local/bin/oasys-migrate \
 && mkdir /work && chown node:node /work
USER node
# Files the commands write (plan.json, reports, logs) land here: mount a volume on /work to keep them.
WORKDIR /work
ENTRYPOINT ["oasys-migrate"]
CMD ["--help"]
