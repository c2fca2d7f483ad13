#!/usr/bin/env bash
# Installs grpcurl (used by the serving tests to prove reflection works with no .proto files)
# into the user-level cache ~/.cache/stock-mlops/bin, keyed by version; a rerun is a no-op.
#
#   services/predictor/tools/install-grpcurl.sh        # prints the binary's path
set -euo pipefail

GRPCURL_VERSION=${GRPCURL_VERSION:-v1.9.4}
CACHE_DIR=${STOCK_MLOPS_CACHE:-$HOME/.cache/stock-mlops}
DEST_DIR=$CACHE_DIR/grpcurl-$GRPCURL_VERSION
BIN_DIR=$CACHE_DIR/bin

if [ ! -x "$DEST_DIR/grpcurl" ]; then
  command -v go >/dev/null 2>&1 || { echo "install-grpcurl: go is not on PATH" >&2; exit 1; }
  mkdir -p "$DEST_DIR"
  echo "install-grpcurl: building grpcurl $GRPCURL_VERSION (go install)" >&2
  GOBIN="$DEST_DIR" GOFLAGS=-mod=mod go install "github.com/fullstorydev/grpcurl/cmd/grpcurl@$GRPCURL_VERSION"
fi
mkdir -p "$BIN_DIR"
ln -sf "$DEST_DIR/grpcurl" "$BIN_DIR/grpcurl"
echo "$BIN_DIR/grpcurl"
