#!/usr/bin/env bash
# Builds every Go reference oracle (one `package main` per folder test/oracles/<name>/) into
# test/oracles/bin/<name>. The oracles use only Debian's Go toolchain and Debian-packaged Go
# libraries (no module downloads: CI reaches no Go proxy), hence GOPATH mode on /usr/share/gocode:
#   apt-get install -y golang-go golang-github-masterminds-sprig-dev golang-github-tidwall-gjson-dev \
#     golang-k8s-sigs-yaml-dev golang-sslmate-src-go-pkcs12-dev golang-gopkg-square-go-jose.v2-dev golang-github-robfig-cron-dev \
#     golang-golang-x-crypto-dev
# Usage: test/oracles/build.sh            (exit 1 with the reason when go or a build fails)
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
cd "$here"
if ! command -v go >/dev/null 2>&1; then
  echo "oracles: go not found (apt-get install -y golang-go)" >&2
  exit 1
fi
mkdir -p bin
export GO111MODULE=off GOPATH=/usr/share/gocode GOFLAGS= CGO_ENABLED=0
# HOME may be unset under CI; keep the build cache beside the (ignored) binaries.
export GOCACHE="${GOCACHE:-$here/bin/.gocache}"
built=0
for dir in */; do
  name="${dir%/}"
  [ "$name" = bin ] && continue
  compgen -G "$name/*.go" >/dev/null || continue
  # Build beside the target and rename, so test files building at once never run a half-written binary.
  go build -o "bin/.$name.$$" "./$name"
  mv -f "bin/.$name.$$" "bin/$name"
  echo "oracles: built bin/$name ($(go version | awk '{print $3}'))"
  built=$((built + 1))
done
[ "$built" -gt 0 ] || { echo "oracles: no Go program found under $here/*/" >&2; exit 1; }
