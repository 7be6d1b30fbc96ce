# syntax=docker/dockerfile:1
#
# The eci-virtual-node controller image:
#   docker build -t <registry>/eci-virtual-node:0.1.0 . && docker push <registry>/eci-virtual-node:0.1.0
#
# Node.js 24 runs the TypeScript sources directly (type stripping), so there is no build step: the image
# is the production dependencies, package.json, bin/ and src/. The `node` npm package is a
# devDependency that brings Node 24 to development machines; `--omit=dev` leaves it out and the base
# image's Node 24 runs bin/eci-virtual-node.js (which only hands over to node_modules/node on Node < 24).

FROM node:24-slim AS deps
WORKDIR /app
COPY package.json package-lock.json ./
# --ignore-scripts: no production dependency has an install script (only the dev-only `node` package).
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund \
  && npm cache clean --force

FROM node:24-slim
ENV NODE_ENV=production
WORKDIR /app
# Owned by root and read-only to the runtime user.
COPY --from=deps /app/node_modules ./node_modules
COPY package.json ./
COPY bin ./bin
COPY src ./src
# `eci-virtual-node` on PATH, as the Deployment's command and `kubectl exec ... eci-virtual-node` use it.
RUN ln -s /app/bin/eci-virtual-node.js /usr/local/bin/eci-virtual-node
# The base image's `node` user, by number so Kubernetes can verify runAsNonRoot.
USER 1000:1000
# 10250 kubelet API, 10255 metrics and probes, 9443 admission webhook.
EXPOSE 10250 10255 9443
ENTRYPOINT ["node", "/app/bin/eci-virtual-node.js"]
CMD ["run", "--metrics-port=10255"]
