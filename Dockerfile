# external-secrets-webhook: multi-stage build, compiled JavaScript and production dependencies
# only, on a distroless Node 24 image running as a numeric non-root user. No shell, no package
# manager in the final image; health is checked by the Kubernetes probes (/healthz, /readyz).

# 1. Compile TypeScript to dist/.
FROM node:24-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
# --ignore-scripts: the `node` devDependency's install script would download a second Node
# binary; nothing the build needs has an install script.
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
# The server imports the launcher's memory-limit reader; tsc needs it and its declarations.
COPY bin/node-flags.cjs bin/node-flags.d.cts ./bin/
COPY src ./src
RUN npm run build

# 2. Production dependencies only, installed fresh (no dev package can be left behind).
FROM node:24-bookworm-slim AS deps
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund && npm cache clean --force

# 3. The runtime image.
FROM gcr.io/distroless/nodejs24-debian12:nonroot
WORKDIR /app
ENV NODE_ENV=production
COPY --from=deps /app/package.json ./package.json
COPY --from=deps /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
# bin/node-flags.cjs is the launcher's and the server's too: dist/server/request-bounds.js reads the
# memory limit with it (../../bin from dist/server).
COPY bin/esw.cjs bin/node-flags.cjs ./bin/
USER 65532:65532
EXPOSE 8443
# The esw launcher: it replaces itself (one process) with node dist/main.js and the V8 flags of
# bin/node-flags.cjs — 8 MiB semi-spaces, and an old-generation cap from the container's memory
# limit (docs/install.md, Memory; bench/RESULTS.md, Scale). Same flags for `npx esw` and `npm start`.
ENTRYPOINT ["/nodejs/bin/node", "bin/esw.cjs"]
CMD ["serve"]
