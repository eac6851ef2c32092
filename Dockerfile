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
USER 65532:65532
EXPOSE 8443
# A young generation of 8 MiB semi-spaces instead of V8's default (up to 64): the refresher's
# per-sync garbage is short-lived, and the larger default let RSS peak ~100 MiB higher at 10,000
# ExternalSecrets for no faster a first sync (bench/RESULTS.md, Scale). Same flag in bin/esw.cjs
# and `npm start`.
ENTRYPOINT ["/nodejs/bin/node", "--max-semi-space-size=8", "dist/main.js"]
CMD ["serve"]
