#!/usr/bin/env bash
# Local infrastructure for stock-mlops: Apache Kafka 3.9.x (KRaft; one node, or a cluster) and a
# MongoDB-wire server (a real mongod when on PATH, else FerretDB 1.24.2 on SQLite).
# No Docker needed: Kafka jars come from Maven Central, FerretDB is built with Go.
#
#   infra.sh up [--brokers N] [kafka|mongo]   (N Kafka nodes; 1 = default, 3 = a replicated cluster)
#   infra.sh down|status|env|provision [kafka|mongo]
#   infra.sh start|stop|restart <kafka|mongo>
#   infra.sh down --purge | purge [kafka|mongo]
#   infra.sh logs <kafka|mongo> [lines]
#   infra.sh stacks <kafka [node]|mongo>   (thread dump of a stalled server; FerretDB exits after it)
#   infra.sh kafka-node <i> kill|stop|start|pid|port   (one node of a cluster, for chaos tests)
#   infra.sh kafka-run <main class> [args...]   (runs a class from the Kafka jars)
#
# See scripts/infra/README.md for environment variables, cache and state locations.
set -euo pipefail

SCRIPT_DIR=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd)
REPO_ROOT=$(cd -- "$SCRIPT_DIR/../.." && pwd)

CACHE_DIR=${STOCK_MLOPS_CACHE:-$HOME/.cache/stock-mlops}
STATE_DIR=${STOCK_MLOPS_STATE:-$REPO_ROOT/.infra}

KAFKA_VERSIONS=${KAFKA_VERSION:-3.9.1 3.9.0}   # candidates, first available wins
SCALA_VERSION=2.13
SLF4J_VERSION=1.7.36                           # the slf4j line Kafka 3.9 is built against
RELOAD4J_VERSION=1.2.25                        # log4j 1.x API, as in the Kafka 3.9 distribution
MVN_DEP_PLUGIN=org.apache.maven.plugins:maven-dependency-plugin:3.6.1
FERRETDB_VERSION=${FERRETDB_VERSION:-1.24.2}
MONGO_IMPL=${MONGO_IMPL:-auto}                 # auto | mongod | ferretdb

DEFAULT_KAFKA_PORT=9092
DEFAULT_KAFKA_CONTROLLER_PORT=9093
DEFAULT_MONGO_PORT=27017
KAFKA_START_TIMEOUT=${KAFKA_START_TIMEOUT:-90}
MONGO_START_TIMEOUT=${MONGO_START_TIMEOUT:-60}
STOP_TIMEOUT=${STOP_TIMEOUT:-20}
KAFKA_HEAP_OPTS=${KAFKA_HEAP_OPTS:-}            # default: kafka_heap_opts
BROKERS_ARG=""                                 # --brokers N of this invocation

KAFKA_DIR=$STATE_DIR/kafka
STARTED_KAFKA=0 # set when this invocation spawned the server
STARTED_MONGO=0
MONGO_DIR=$STATE_DIR/mongo
HOST=127.0.0.1

# ---------------------------------------------------------------------------- helpers

log() { printf '[infra] %s\n' "$*" >&2; }
die() { printf '[infra] ERROR: %s\n' "$*" >&2; exit 1; }

need() {
  local tool
  for tool in "$@"; do
    command -v "$tool" >/dev/null 2>&1 ||
      die "required tool '$tool' is not on PATH (install it first; see scripts/infra/README.md)"
  done
}

now() { date +%s; }

# Take an exclusive lock on a file for the rest of this process (fd given by the caller).
# Children started later close these fds, so a running server never holds a lock.
lock() {
  local fd=$1 file=$2
  command -v flock >/dev/null 2>&1 || return 0
  mkdir -p "$(dirname -- "$file")"
  eval "exec $fd>\"\$file\""
  flock -w 900 "$fd" || die "timed out waiting for lock $file"
}

# Print a value shell-sourceable: bare when safe, quoted otherwise.
kv() {
  local key=$1 val=$2
  if [[ $val =~ ^[A-Za-z0-9_./:@,=+-]*$ ]]; then
    printf '%s=%s\n' "$key" "$val"
  else
    printf "%s='%s'\n" "$key" "${val//\'/\'\\\'\'}"
  fi
}

# True when something (anything) prevents binding the port on 127.0.0.1.
port_busy() {
  python3 - "$1" <<'PY' >/dev/null 2>&1 && return 1 || return 0
import socket, sys
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1])))
s.close()
PY
}

free_port() {
  python3 - <<'PY'
import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])
s.close()
PY
}

port_open() { # host port -> can we connect
  python3 - "$1" "$2" <<'PY' >/dev/null 2>&1
import socket, sys
socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=2).close()
PY
}

# Kafka Metadata (v1) request; succeeds when the broker answers listing at least `min` brokers.
kafka_probe() { # host port [min=1]
  python3 - "$1" "$2" "${3:-1}" <<'PY' >/dev/null 2>&1
import socket, struct, sys
host, port, least = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
cid = b"stock-mlops-infra"
req = struct.pack(">hhih", 3, 1, 4242, len(cid)) + cid + struct.pack(">i", -1)
s = socket.create_connection((host, port), timeout=3)
s.settimeout(5)
s.sendall(struct.pack(">i", len(req)) + req)
def recv(n):
    b = b""
    while len(b) < n:
        c = s.recv(n - len(b))
        if not c:
            raise SystemExit(2)
        b += c
    return b
size = struct.unpack(">i", recv(4))[0]
body = recv(size)
corr, nbrokers = struct.unpack(">ii", body[:8])
sys.exit(0 if corr == 4242 and nbrokers >= least else 1)
PY
}

# MongoDB wire OP_MSG {ping: 1, $db: "admin"}; succeeds on {ok: 1}.
mongo_probe() { # host port
  python3 - "$1" "$2" <<'PY' >/dev/null 2>&1
import socket, struct, sys
host, port = sys.argv[1], int(sys.argv[2])
def el(t, name, val):
    return bytes([t]) + name.encode() + b"\0" + val
body = el(0x10, "ping", struct.pack("<i", 1)) + el(0x02, "$db", struct.pack("<i", 6) + b"admin\0")
doc = struct.pack("<i", len(body) + 5) + body + b"\0"
msg = struct.pack("<I", 0) + b"\0" + doc
s = socket.create_connection((host, port), timeout=3)
s.settimeout(5)
s.sendall(struct.pack("<iiii", 16 + len(msg), 1, 0, 2013) + msg)
def recv(n):
    b = b""
    while len(b) < n:
        c = s.recv(n - len(b))
        if not c:
            raise SystemExit(2)
        b += c
    return b
size = struct.unpack("<i", recv(4))[0]
rest = recv(size - 4)
if struct.unpack("<i", rest[8:12])[0] != 2013 or rest[16] != 0:
    sys.exit(3)
d = rest[17:]
i, end = 4, struct.unpack("<i", d[:4])[0] - 1
fixed = {0x01: 8, 0x07: 12, 0x08: 1, 0x09: 8, 0x0A: 0, 0x10: 4, 0x11: 8, 0x12: 8, 0x13: 16}
while i < end:
    t = d[i]; j = d.index(b"\0", i + 1); name = d[i + 1:j].decode(); i = j + 1
    if name == "ok":
        v = {0x01: lambda: struct.unpack("<d", d[i:i + 8])[0], 0x10: lambda: struct.unpack("<i", d[i:i + 4])[0],
             0x12: lambda: struct.unpack("<q", d[i:i + 8])[0], 0x08: lambda: d[i]}.get(t, lambda: 0)()
        sys.exit(0 if v == 1 else 4)
    if t in fixed: i += fixed[t]
    elif t in (0x02, 0x0D, 0x0E): i += 4 + struct.unpack("<i", d[i:i + 4])[0]
    elif t in (0x03, 0x04): i += struct.unpack("<i", d[i:i + 4])[0]
    elif t == 0x05: i += 5 + struct.unpack("<i", d[i:i + 4])[0]
    else: sys.exit(5)
sys.exit(6)
PY
}

# --- process management: every server runs in its own process group (setsid) --------

cmdline_of() {
  if [[ -r /proc/$1/cmdline ]]; then
    tr '\0' ' ' <"/proc/$1/cmdline" 2>/dev/null || true
  else
    ps -ww -o args= -p "$1" 2>/dev/null || true
  fi
}

# Live (non-zombie) pids of a process group.
group_pids() {
  ps -eo pid=,pgid=,stat= 2>/dev/null | awk -v g="$1" '$2 == g && $3 !~ /^Z/ { print $1 }'
}

# Pid recorded in <dir>/pid if that process is alive and is ours (its command line
# mentions our component dir); a stale pid file is removed.
running_pid() { # dir
  local dir=$1 pid
  [[ -f $dir/pid ]] || return 1
  pid=$(<"$dir/pid")
  if [[ $pid =~ ^[0-9]+$ ]] && [[ -n $(group_pids "$pid") ]] &&
    [[ $(cmdline_of "$pid") == *"$dir/"* ]]; then
    printf '%s\n' "$pid"
    return 0
  fi
  rm -f "$dir/pid"
  return 1
}

# Stray processes of ours whose pid file was lost, found by an exact piece of their
# command line (which names this state dir).
stray_pids() { # marker
  local pid
  for pid in $(pgrep -f -- "$1" 2>/dev/null || true); do
    [[ $pid != "$$" && $(cmdline_of "$pid") == *"$1"* ]] && printf '%s\n' "$pid"
  done
  return 0
}

kafka_marker() { printf 'kafka.Kafka %s/server.properties' "$1"; } # node dir
mongo_marker() {
  if [[ $(mongo_impl) == mongod ]]; then
    printf -- '--dbpath %s/db' "$MONGO_DIR"
  else
    printf -- '--state-dir=%s/state' "$MONGO_DIR"
  fi
}

kill_group() { # pgid name
  local pgid=$1 name=$2 deadline
  [[ -n $(group_pids "$pgid") ]] || return 0
  log "stopping $name (process group $pgid)"
  kill -TERM -- "-$pgid" 2>/dev/null || true
  deadline=$(($(now) + STOP_TIMEOUT))
  while [[ -n $(group_pids "$pgid") ]]; do
    if (($(now) >= deadline)); then
      log "$name did not stop within ${STOP_TIMEOUT}s, sending SIGKILL"
      kill -KILL -- "-$pgid" 2>/dev/null || true
      sleep 0.5
      break
    fi
    sleep 0.2
  done
  # our own children (a failed start in this run) become zombies until reaped
  wait "$pgid" 2>/dev/null || true
}

# Spawn a server detached in its own session/process group; echoes the pid (= pgid).
spawn() { # dir logfile cmd...
  local dir=$1 logfile=$2 pid
  shift 2
  setsid "$@" </dev/null >>"$logfile" 2>&1 8>&- 9>&- &
  pid=$!
  printf '%s\n' "$pid" >"$dir/pid"
  printf '%s\n' "$pid"
}

# Keep the previous run's console output as <file>.1; start the new one empty.
rotate_log() {
  [[ -s $1 ]] && mv -f "$1" "$1.1"
  : >"$1"
}

tail_logs() {
  local f
  for f in "$@"; do
    [[ -s $f ]] || continue
    printf -- '----- last lines of %s -----\n' "$f" >&2
    tail -n 30 "$f" >&2
  done
}

# Choose a port: explicit env override > port recorded last time (if free) > default
# (if free) > a free ephemeral port.
choose_port() { # recorded_file env_value default label
  local file=$1 env_val=$2 def=$3 label=$4 rec=""
  if [[ -n $env_val ]]; then
    port_busy "$env_val" && die "$label port $env_val (from environment) is already in use by another process"
    printf '%s\n' "$env_val"
    return
  fi
  [[ -f $file ]] && rec=$(<"$file")
  if [[ $rec =~ ^[0-9]+$ ]] && ! port_busy "$rec"; then
    printf '%s\n' "$rec"
    return
  fi
  if ! port_busy "$def"; then
    printf '%s\n' "$def"
    return
  fi
  rec=$(free_port)
  log "$label default port $def is busy (not ours); using $rec"
  printf '%s\n' "$rec"
}

# ---------------------------------------------------------------------------- external

kafka_external() {
  [[ -n ${KAFKA_BROKERS:-} ]] || return 1
  # our own env file sourced into the shell is not "external"
  [[ -f $(kafka_node_dir 1)/port && $KAFKA_BROKERS == "$(kafka_local_url)" ]] && return 1
  return 0
}

mongo_external() {
  [[ -n ${MONGO_URL:-} ]] || return 1
  [[ -f $MONGO_DIR/port && $MONGO_URL == "mongodb://$HOST:$(<"$MONGO_DIR/port")" ]] && return 1
  return 0
}

# host port of the first broker in KAFKA_BROKERS
external_kafka_hostport() {
  local first=${KAFKA_BROKERS%%,*}
  first=${first#*://}
  printf '%s %s\n' "${first%:*}" "${first##*:}"
}

# host port from a mongodb:// URL (first host); empty for mongodb+srv or unparsable
external_mongo_hostport() {
  local rest=${MONGO_URL#mongodb://}
  [[ $rest != "$MONGO_URL" ]] || return 0
  rest=${rest##*@}
  rest=${rest%%/*}
  rest=${rest%%\?*}
  rest=${rest%%,*}
  if [[ $rest == *:* ]]; then printf '%s %s\n' "${rest%:*}" "${rest##*:}"; else printf '%s 27017\n' "$rest"; fi
}

# ---------------------------------------------------------------------------- provisioning

kafka_home() { printf '%s/kafka-%s\n' "$CACHE_DIR" "$1"; }

# Version of an already provisioned Kafka (first complete candidate), if any.
kafka_provisioned_version() {
  local v
  for v in $KAFKA_VERSIONS; do
    if [[ -f $(kafka_home "$v")/.complete ]]; then
      printf '%s\n' "$v"
      return 0
    fi
  done
  return 1
}

fetch_kafka() { # version
  local v=$1 final tmp
  final=$(kafka_home "$v")
  tmp=$(mktemp -d "$CACHE_DIR/.kafka-$v.tmp.XXXXXX")
  chmod 755 "$tmp"
  cat >"$tmp/pom.xml" <<EOF
<?xml version="1.0" encoding="UTF-8"?>
<project xmlns="http://maven.apache.org/POM/4.0.0"
         xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"
         xsi:schemaLocation="http://maven.apache.org/POM/4.0.0 http://maven.apache.org/xsd/maven-4.0.0.xsd">
  <modelVersion>4.0.0</modelVersion>
  <groupId>local.stock-mlops</groupId>
  <artifactId>kafka-runtime</artifactId>
  <version>$v</version>
  <packaging>pom</packaging>
  <dependencies>
    <dependency><groupId>org.apache.kafka</groupId><artifactId>kafka_$SCALA_VERSION</artifactId><version>$v</version></dependency>
    <dependency><groupId>org.apache.kafka</groupId><artifactId>kafka-tools</artifactId><version>$v</version></dependency>
    <dependency><groupId>org.slf4j</groupId><artifactId>slf4j-reload4j</artifactId><version>$SLF4J_VERSION</version></dependency>
    <dependency><groupId>ch.qos.reload4j</groupId><artifactId>reload4j</artifactId><version>$RELOAD4J_VERSION</version></dependency>
  </dependencies>
</project>
EOF
  log "downloading Kafka $v jars from Maven Central (mvn)"
  if ! mvn -B -q -Dstyle.color=never -f "$tmp/pom.xml" "$MVN_DEP_PLUGIN:copy-dependencies" \
    -DoutputDirectory="$tmp/libs" -DincludeScope=runtime >"$tmp/mvn.log" 2>&1; then
    log "mvn failed for Kafka $v:"
    tail -n 25 "$tmp/mvn.log" >&2
    rm -rf "$tmp"
    return 1
  fi
  if ! compgen -G "$tmp/libs/kafka_$SCALA_VERSION-$v.jar" >/dev/null; then
    log "Kafka $v: kafka_$SCALA_VERSION-$v.jar missing after download"
    rm -rf "$tmp"
    return 1
  fi
  printf '%s\n' "$v" >"$tmp/.complete"
  rm -rf "$final"
  mv "$tmp" "$final"
  log "Kafka $v ready in $final ($(find "$final/libs" -name '*.jar' | wc -l) jars)"
}

provision_kafka() {
  kafka_external && { log "kafka: external (KAFKA_BROKERS=$KAFKA_BROKERS), nothing to provision"; return 0; }
  kafka_provisioned_version >/dev/null && return 0
  need java mvn
  mkdir -p "$CACHE_DIR"
  lock 8 "$CACHE_DIR/.lock"
  kafka_provisioned_version >/dev/null && return 0   # another process did it meanwhile
  rm -rf "$CACHE_DIR"/.kafka-*.tmp.* 2>/dev/null || true
  local v
  for v in $KAFKA_VERSIONS; do
    fetch_kafka "$v" && return 0
  done
  die "could not download Kafka (tried: $KAFKA_VERSIONS) from Maven Central"
}

mongo_impl() {
  case $MONGO_IMPL in
    mongod | ferretdb) printf '%s\n' "$MONGO_IMPL" ;;
    auto) if command -v mongod >/dev/null 2>&1; then echo mongod; else echo ferretdb; fi ;;
    *) die "MONGO_IMPL must be auto, mongod or ferretdb (got '$MONGO_IMPL')" ;;
  esac
}

# Our patches to FerretDB's source (scripts/infra/ferretdb/*.patch, applied in name order).
# The cache key names them, so a changed patch set builds a new binary.
FERRETDB_PATCH_DIR=$SCRIPT_DIR/ferretdb
ferretdb_patch_id() {
  cat "$FERRETDB_PATCH_DIR"/*.patch 2>/dev/null | sha256sum | cut -c1-8
}
ferretdb_home() { printf '%s/ferretdb-%s-p%s\n' "$CACHE_DIR" "$FERRETDB_VERSION" "$(ferretdb_patch_id)"; }

build_ferretdb() { # tmp dir (output: <tmp>/bin/ferretdb)
  local tmp=$1 mod=github.com/FerretDB/FerretDB src
  src=$(cd "$tmp" && go mod download -json "$mod@v$FERRETDB_VERSION" |
    python3 -c 'import json, sys; print(json.load(sys.stdin)["Dir"])')
  [[ -d $src ]] || { echo "go mod download gave no source dir"; return 1; }
  cp -R "$src" "$tmp/src"
  chmod -R u+w "$tmp/src"
  local p
  for p in "$FERRETDB_PATCH_DIR"/*.patch; do
    [[ -f $p ]] || continue
    echo "applying $(basename -- "$p")"
    patch -d "$tmp/src" -p1 --forward --batch <"$p" || return 1
  done
  printf 'v%s\n' "$FERRETDB_VERSION" >"$tmp/src/build/version/version.txt"
  printf 'stock-mlops\n' >"$tmp/src/build/version/package.txt"
  mkdir -p "$tmp/bin"
  (cd "$tmp/src" && CGO_ENABLED=0 GOFLAGS=-buildvcs=false GOWORK=off \
    go build -trimpath -o "$tmp/bin/ferretdb" ./cmd/ferretdb)
  "$tmp/bin/ferretdb" --version
  rm -rf "$tmp/src"
}

provision_mongo() {
  mongo_external && { log "mongo: external (MONGO_URL set), nothing to provision"; return 0; }
  if [[ $(mongo_impl) == mongod ]]; then
    need mongod
    return 0
  fi
  local final tmp
  final=$(ferretdb_home)
  [[ -f $final/.complete && -x $final/bin/ferretdb ]] && return 0
  need go
  need patch
  mkdir -p "$CACHE_DIR"
  lock 8 "$CACHE_DIR/.lock"
  [[ -f $final/.complete && -x $final/bin/ferretdb ]] && return 0
  rm -rf "$CACHE_DIR"/.ferretdb-*.tmp.* 2>/dev/null || true
  tmp=$(mktemp -d "$CACHE_DIR/.ferretdb-$FERRETDB_VERSION.tmp.XXXXXX")
  chmod 755 "$tmp"
  log "building FerretDB $FERRETDB_VERSION (go build; a few minutes when Go's caches are cold)"
  # A plain `go install .../cmd/ferretdb@v1.24.2` builds a binary that panics at start:
  # build/version/version.txt is generated by FerretDB's release tooling and is not in the
  # module. So: fetch the module source through the Go module proxy, add version.txt, build.
  if ! build_ferretdb "$tmp" >"$tmp/go.log" 2>&1; then
    tail -n 25 "$tmp/go.log" >&2
    rm -rf "$tmp"
    die "building FerretDB $FERRETDB_VERSION failed"
  fi
  [[ -x $tmp/bin/ferretdb ]] || { rm -rf "$tmp"; die "FerretDB binary missing after the build"; }
  printf '%s\n' "$FERRETDB_VERSION" >"$tmp/.complete"
  rm -rf "$final"
  mv "$tmp" "$final"
  log "FerretDB $FERRETDB_VERSION ready in $final/bin/ferretdb"
}

# ---------------------------------------------------------------------------- kafka
#
# One node (the default): everything in $KAFKA_DIR. A cluster (`up --brokers N`, N > 1): node i in
# $KAFKA_DIR/node-<i> (node.id i, its own ports and log dir), every node broker+controller, one
# static controller quorum of all N. $KAFKA_DIR/brokers records N for later commands.

kafka_libs() {
  local v
  v=$(kafka_provisioned_version) || die "Kafka is not provisioned (run: $0 provision)"
  printf '%s/libs\n' "$(kafka_home "$v")"
}

# Nodes of the local Kafka: `--brokers` of this invocation, else the recorded count, else 1.
kafka_size() {
  if [[ -n $BROKERS_ARG ]]; then
    printf '%s\n' "$BROKERS_ARG"
  elif [[ -f $KAFKA_DIR/brokers ]]; then
    cat "$KAFKA_DIR/brokers"
  else
    echo 1
  fi
}

kafka_node_dir() { # i
  if (($(kafka_size) == 1)); then printf '%s\n' "$KAFKA_DIR"; else printf '%s/node-%s\n' "$KAFKA_DIR" "$1"; fi
}

kafka_nodes() { seq 1 "$(kafka_size)"; }

# Replication settings the broker defaults to (topics we create set theirs explicitly).
kafka_rf() { local n; n=$(kafka_size); echo $((n < 3 ? n : 3)); }
kafka_min_isr() { local rf; rf=$(kafka_rf); echo $((rf < 2 ? rf : 2)); }

kafka_voters() {
  local i out=""
  for i in $(kafka_nodes); do
    out+="${out:+,}$i@$HOST:$(<"$(kafka_node_dir "$i")/controller.port")"
  done
  printf '%s\n' "$out"
}

write_kafka_config() { # node
  local i=$1 dir port ctrl rf isr
  dir=$(kafka_node_dir "$i")
  port=$(<"$dir/port")
  ctrl=$(<"$dir/controller.port")
  rf=$(kafka_rf)
  isr=$(kafka_min_isr)
  mkdir -p "$dir/data" "$dir/logs"
  cat >"$dir/server.properties" <<EOF
# generated by scripts/infra/infra.sh, rewritten on every start
process.roles=broker,controller
node.id=$i
controller.quorum.voters=$(kafka_voters)
listeners=PLAINTEXT://$HOST:$port,CONTROLLER://$HOST:$ctrl
advertised.listeners=PLAINTEXT://$HOST:$port
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
log.dirs=$dir/data
num.partitions=3
default.replication.factor=$rf
min.insync.replicas=$isr
auto.create.topics.enable=false
delete.topic.enable=true
offsets.topic.replication.factor=$rf
offsets.topic.num.partitions=10
transaction.state.log.replication.factor=$rf
transaction.state.log.min.isr=$isr
transaction.state.log.num.partitions=10
group.initial.rebalance.delay.ms=0
num.network.threads=3
num.io.threads=4
num.recovery.threads.per.data.dir=1
# dev/CI retention: a day, at most 256 MiB per partition, 64 MiB segments
log.retention.hours=24
log.retention.bytes=268435456
log.segment.bytes=67108864
log.retention.check.interval.ms=60000
# message.max.bytes: broker default (1 MiB)
EOF
  cat >"$dir/log4j.properties" <<'EOF'
log4j.rootLogger=INFO, file
log4j.appender.file=org.apache.log4j.RollingFileAppender
log4j.appender.file.File=${kafka.logs.dir}/server.log
log4j.appender.file.MaxFileSize=20MB
log4j.appender.file.MaxBackupIndex=3
log4j.appender.file.layout=org.apache.log4j.PatternLayout
log4j.appender.file.layout.ConversionPattern=[%d] %p %m (%c)%n
log4j.logger.kafka.request.logger=WARN
log4j.logger.kafka.network.RequestChannel$=WARN
log4j.logger.state.change.logger=WARN
log4j.logger.kafka.log.LogCleaner=WARN
log4j.logger.org.apache.kafka.raft=WARN
log4j.logger.org.apache.kafka.storage.internals.log=WARN
log4j.logger.kafka.log=WARN
EOF
}

tools_log4j() {
  mkdir -p "$STATE_DIR"
  cat >"$STATE_DIR/tools-log4j.properties" <<'EOF'
log4j.rootLogger=WARN, stderr
log4j.appender.stderr=org.apache.log4j.ConsoleAppender
log4j.appender.stderr.Target=System.err
log4j.appender.stderr.layout=org.apache.log4j.PatternLayout
log4j.appender.stderr.layout.ConversionPattern=[%d] %p %m (%c)%n
EOF
  printf '%s\n' "$STATE_DIR/tools-log4j.properties"
}

kafka_cluster_id() {
  python3 -c 'import base64, uuid; print(base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("="))'
}

# A recorded size other than the requested one, with data on disk, is an error (the nodes'
# storage is formatted for one quorum).
kafka_check_size() {
  [[ -n $BROKERS_ARG && -f $KAFKA_DIR/brokers ]] || return 0
  local rec
  rec=$(<"$KAFKA_DIR/brokers")
  [[ $rec == "$BROKERS_ARG" ]] && return 0
  if compgen -G "$KAFKA_DIR/data/meta.properties" >/dev/null || compgen -G "$KAFKA_DIR/node-*/data/meta.properties" >/dev/null; then
    die "kafka: the state dir holds a $rec-broker Kafka; to change to $BROKERS_ARG: $0 down --purge kafka"
  fi
}

# Ports of node i: node 1 honours KAFKA_PORT / KAFKA_CONTROLLER_PORT, node i defaults to
# 9092+2(i-1) / 9093+2(i-1); a port recorded last time is kept.
kafka_choose_ports() { # node
  local i=$1 dir port ctrl off
  dir=$(kafka_node_dir "$i")
  off=$((2 * (i - 1)))
  mkdir -p "$dir"
  if ((i == 1)); then
    port=$(choose_port "$dir/port" "${KAFKA_PORT:-}" "$DEFAULT_KAFKA_PORT" kafka)
    ctrl=$(choose_port "$dir/controller.port" "${KAFKA_CONTROLLER_PORT:-}" "$DEFAULT_KAFKA_CONTROLLER_PORT" kafka-controller)
  else
    port=$(choose_port "$dir/port" "" $((DEFAULT_KAFKA_PORT + off)) "kafka node $i")
    ctrl=$(choose_port "$dir/controller.port" "" $((DEFAULT_KAFKA_CONTROLLER_PORT + off)) "kafka node $i controller")
  fi
  [[ $ctrl == "$port" ]] && ctrl=$(free_port)
  printf '%s\n' "$port" >"$dir/port"
  printf '%s\n' "$ctrl" >"$dir/controller.port"
}

kafka_start() { # [node...]: spawn only (all nodes by default); kafka_wait does the readiness check
  if kafka_external; then
    log "kafka: external at $KAFKA_BROKERS (not managed here)"
    return 0
  fi
  kafka_check_size
  local -a todo=() nodes
  local i dir pid stray libs cid
  read -r -a nodes <<<"${*:-$(kafka_nodes | tr '\n' ' ')}"
  for i in "${nodes[@]}"; do
    dir=$(kafka_node_dir "$i")
    if pid=$(running_pid "$dir"); then
      log "kafka${i:+ node $i}: already running (pid $pid)"
      continue
    fi
    stray=$(stray_pids "$(kafka_marker "$dir")")
    [[ -z $stray ]] || die "kafka: found a broker of $dir without pid file (pids: $stray); run '$0 stop kafka'"
    todo+=("$i")
  done
  ((${#todo[@]} > 0)) || return 0
  provision_kafka
  need java python3
  libs=$(kafka_libs)
  mkdir -p "$KAFKA_DIR"
  kafka_size >"$KAFKA_DIR/brokers.tmp"
  mv "$KAFKA_DIR/brokers.tmp" "$KAFKA_DIR/brokers"
  # Every node's config names every controller, so all ports are known before any starts.
  for i in $(kafka_nodes); do
    dir=$(kafka_node_dir "$i")
    if [[ " ${todo[*]} " == *" $i "* ]] || [[ ! -f $dir/port || ! -f $dir/controller.port ]]; then kafka_choose_ports "$i"; fi
  done
  [[ -f $KAFKA_DIR/cluster.id ]] || kafka_cluster_id >"$KAFKA_DIR/cluster.id"
  cid=$(<"$KAFKA_DIR/cluster.id")
  local -a jvm
  read -r -a jvm <<<"$(kafka_heap_opts)"
  for i in "${todo[@]}"; do
    dir=$(kafka_node_dir "$i")
    basename -- "$(dirname -- "$libs")" | sed 's/^kafka-//' >"$dir/version"
    write_kafka_config "$i"
    if [[ ! -f $dir/data/meta.properties ]]; then
      log "kafka node $i: formatting storage (cluster id $cid)"
      java -cp "$libs/*" -Dlog4j.configuration="file:$(tools_log4j)" kafka.tools.StorageTool format \
        -t "$cid" -c "$dir/server.properties" >"$dir/logs/format.log" 2>&1 ||
        { tail_logs "$dir/logs/format.log"; die "kafka node $i: storage format failed"; }
    fi
    rotate_log "$dir/logs/stdout.log"
    pid=$(spawn "$dir" "$dir/logs/stdout.log" java "${jvm[@]}" \
      -XX:+UseG1GC -XX:MaxGCPauseMillis=20 -XX:+ExplicitGCInvokesConcurrent -Djava.awt.headless=true \
      -Dlog4j.configuration="file:$dir/log4j.properties" -Dkafka.logs.dir="$dir/logs" \
      -cp "$libs/*" kafka.Kafka "$dir/server.properties")
    STARTED_KAFKA=1
    log "kafka node $i: started $(<"$dir/version") pid $pid on $HOST:$(<"$dir/port") (controller $(<"$dir/controller.port"))"
  done
}

# A smaller heap per node in a cluster (three JVMs on a small machine), unless KAFKA_HEAP_OPTS is set.
kafka_heap_opts() {
  if [[ -n $KAFKA_HEAP_OPTS ]]; then
    printf '%s\n' "$KAFKA_HEAP_OPTS"
  elif (($(kafka_size) > 1)); then
    printf '%s\n' '-Xmx384m -Xms64m'
  else
    printf '%s\n' '-Xmx512m -Xms128m'
  fi
}

kafka_hostport() { # [node] (default 1)
  if kafka_external; then external_kafka_hostport; else printf '%s %s\n' "$HOST" "$(cat "$(kafka_node_dir "${1:-1}")/port" 2>/dev/null || echo "$DEFAULT_KAFKA_PORT")"; fi
}

# Every node answers a Metadata request; node 1 (or the external first broker) lists them all.
kafka_ready() {
  local h p i
  if kafka_external; then
    read -r h p <<<"$(kafka_hostport)"
    kafka_probe "$h" "$p"
    return
  fi
  for i in $(kafka_nodes); do
    read -r h p <<<"$(kafka_hostport "$i")"
    kafka_probe "$h" "$p" "$([[ $i == 1 ]] && kafka_size || echo 1)" || return 1
  done
}

kafka_wait() { # [node...]: these nodes answer (all by default: then every node lists all brokers)
  local deadline h p pid i dir
  local -a nodes
  read -r -a nodes <<<"${*:-$(kafka_nodes | tr '\n' ' ')}"
  deadline=$(($(now) + KAFKA_START_TIMEOUT))
  for i in "${nodes[@]}"; do
    read -r h p <<<"$(kafka_hostport "$i")"
    dir=$(kafka_node_dir "$i")
    while ! kafka_probe "$h" "$p" "$([[ $# -eq 0 ]] && kafka_size || echo 1)"; do
      if ! kafka_external && ! pid=$(running_pid "$dir"); then
        tail_logs "$dir/logs/stdout.log" "$dir/logs/server.log"
        die "kafka: the broker process exited during startup (logs above, in $dir/logs)"
      fi
      if (($(now) >= deadline)); then
        if ! kafka_external; then
          tail_logs "$dir/logs/stdout.log" "$dir/logs/server.log"
          # do not leave a half-started server behind (only the nodes waited for: a cluster's others stay up)
          if ((STARTED_KAFKA)); then kafka_stop "${nodes[@]}"; fi
        fi
        die "kafka: not ready at $h:$p after ${KAFKA_START_TIMEOUT}s"
      fi
      sleep 0.5
    done
    kafka_external && break
  done
  log "kafka: ready at $(kafka_url)"
}

# SIGTERM (a controlled shutdown: leaders move away first) to the nodes at once, SIGKILL after
# STOP_TIMEOUT. `kafka_stop KILL <node>` sends SIGKILL right away (a crash).
kafka_stop() { # [KILL] [node...]
  if kafka_external; then
    log "kafka: external, not stopping it"
    return 0
  fi
  local sig=TERM pid s i dir
  [[ ${1:-} == KILL ]] && { sig=KILL; shift; }
  local -a nodes pgids=()
  read -r -a nodes <<<"${*:-$(kafka_nodes | tr '\n' ' ')}"
  for i in "${nodes[@]}"; do
    dir=$(kafka_node_dir "$i")
    if pid=$(running_pid "$dir"); then pgids+=("$pid"); fi
    for s in $(stray_pids "$(kafka_marker "$dir")"); do
      s=$(ps -o pgid= -p "$s" | tr -d ' ')
      [[ -z $s || " ${pgids[*]} " == *" $s "* ]] || pgids+=("$s")
    done
    rm -f "$dir/pid"
  done
  ((${#pgids[@]} > 0)) || return 0
  if [[ $sig == KILL ]]; then
    for pid in "${pgids[@]}"; do
      log "kafka: kill -9 process group $pid"
      kill -KILL -- "-$pid" 2>/dev/null || true
    done
    for pid in "${pgids[@]}"; do
      while [[ -n $(group_pids "$pid") ]]; do sleep 0.1; done
    done
    return 0
  fi
  local -a jobs=()
  for pid in "${pgids[@]}"; do
    kill_group "$pid" kafka &
    jobs+=($!)
  done
  wait "${jobs[@]}"
}

# ---------------------------------------------------------------------------- mongo

mongo_start() {
  if mongo_external; then
    log "mongo: external (MONGO_URL), not managed here"
    return 0
  fi
  local pid port impl stray bin
  if pid=$(running_pid "$MONGO_DIR"); then
    log "mongo: already running (pid $pid)"
    return 0
  fi
  stray=$(stray_pids "$(mongo_marker)")
  [[ -z $stray ]] || die "mongo: found a server of this state dir without pid file (pids: $stray); run '$0 stop mongo'"
  provision_mongo
  need python3
  impl=$(mongo_impl)
  mkdir -p "$MONGO_DIR/logs"
  port=$(choose_port "$MONGO_DIR/port" "${MONGO_PORT:-}" "$DEFAULT_MONGO_PORT" mongo)
  printf '%s\n' "$port" >"$MONGO_DIR/port"
  if [[ $impl == mongod ]]; then
    mkdir -p "$MONGO_DIR/db"
    printf 'mongod %s\n' "$(mongod --version 2>/dev/null | sed -n 1p | sed 's/^db version //')" >"$MONGO_DIR/impl"
    rotate_log "$MONGO_DIR/logs/stdout.log"
    pid=$(spawn "$MONGO_DIR" "$MONGO_DIR/logs/stdout.log" mongod --dbpath "$MONGO_DIR/db" \
      --bind_ip "$HOST" --port "$port" --logpath "$MONGO_DIR/logs/mongod.log" --logappend)
  else
    bin=$(ferretdb_home)/bin/ferretdb
    mkdir -p "$MONGO_DIR/sqlite" "$MONGO_DIR/state"
    printf 'ferretdb %s\n' "$FERRETDB_VERSION" >"$MONGO_DIR/impl"
    rotate_log "$MONGO_DIR/logs/stdout.log"
    pid=$(spawn "$MONGO_DIR" "$MONGO_DIR/logs/stdout.log" "$bin" --handler=sqlite \
      --sqlite-url="file:$MONGO_DIR/sqlite/" --listen-addr="$HOST:$port" \
      --state-dir="$MONGO_DIR/state" --telemetry=disable --debug-addr=- \
      --log-level="${FERRETDB_LOG_LEVEL:-WARN}")
  fi
  STARTED_MONGO=1
  log "mongo: started $(<"$MONGO_DIR/impl") pid $pid on $HOST:$port"
}

mongo_hostport() {
  if mongo_external; then external_mongo_hostport; else printf '%s %s\n' "$HOST" "$(cat "$MONGO_DIR/port" 2>/dev/null || echo "$DEFAULT_MONGO_PORT")"; fi
}

mongo_ready() {
  local h p
  read -r h p <<<"$(mongo_hostport)"
  [[ -n $h ]] || return 0 # mongodb+srv or unparsable external URL: trust it
  mongo_probe "$h" "$p"
}

mongo_wait() {
  local deadline h p pid
  deadline=$(($(now) + MONGO_START_TIMEOUT))
  read -r h p <<<"$(mongo_hostport)"
  [[ -n $h ]] || { log "mongo: external URL not probed"; return 0; }
  while ! mongo_probe "$h" "$p"; do
    if ! mongo_external && ! pid=$(running_pid "$MONGO_DIR"); then
      tail_logs "$MONGO_DIR/logs/stdout.log" "$MONGO_DIR/logs/mongod.log"
      die "mongo: the server process exited during startup (logs above, in $MONGO_DIR/logs)"
    fi
    if (($(now) >= deadline)); then
      if ! mongo_external; then
        tail_logs "$MONGO_DIR/logs/stdout.log" "$MONGO_DIR/logs/mongod.log"
        # do not leave a half-started server behind
        if ((STARTED_MONGO)); then mongo_stop; fi
      fi
      die "mongo: no ping reply from $h:$p after ${MONGO_START_TIMEOUT}s"
    fi
    sleep 0.3
  done
  log "mongo: ready at $h:$p"
}

mongo_stop() {
  if mongo_external; then
    log "mongo: external, not stopping it"
    return 0
  fi
  local pid s
  if pid=$(running_pid "$MONGO_DIR"); then
    kill_group "$pid" mongo
  fi
  for s in $(stray_pids "$(mongo_marker)"); do
    kill_group "$(ps -o pgid= -p "$s" | tr -d ' ')" "mongo (stray pid $s)"
  done
  rm -f "$MONGO_DIR/pid"
}

# ---------------------------------------------------------------------------- commands

# host:port of every local node, comma-separated
kafka_local_url() {
  local i out=""
  for i in $(kafka_nodes); do
    out+="${out:+,}$HOST:$(cat "$(kafka_node_dir "$i")/port" 2>/dev/null || echo "$DEFAULT_KAFKA_PORT")"
  done
  printf '%s\n' "$out"
}

kafka_url() {
  if kafka_external; then printf '%s\n' "$KAFKA_BROKERS"; else kafka_local_url; fi
}

mongo_url() {
  if mongo_external; then printf '%s\n' "$MONGO_URL"; else printf 'mongodb://%s:%s\n' "$HOST" "$(cat "$MONGO_DIR/port" 2>/dev/null || echo "$DEFAULT_MONGO_PORT")"; fi
}

# Lines for components that are external or were started at least once (port recorded).
env_lines() {
  if kafka_external || [[ -f $(kafka_node_dir 1)/port ]]; then
    kv KAFKA_BROKERS "$(kafka_url)"
    # topics the services create: replicated on a local cluster (min.insync.replicas follows)
    if ! kafka_external && (($(kafka_rf) > 1)); then kv KAFKA_TOPIC_REPLICATION "$(kafka_rf)"; fi
  fi
  if mongo_external || [[ -f $MONGO_DIR/port ]]; then kv MONGO_URL "$(mongo_url)"; fi
  return 0
}

write_env_file() {
  mkdir -p "$STATE_DIR"
  env_lines >"$STATE_DIR/env.tmp"
  mv "$STATE_DIR/env.tmp" "$STATE_DIR/env"
}

init_state() {
  mkdir -p "$STATE_DIR"
  # keep runtime state out of git without touching the repo's .gitignore
  [[ -f $STATE_DIR/.gitignore ]] || printf '*\n' >"$STATE_DIR/.gitignore"
  lock 9 "$STATE_DIR/.lock"
}

components() { # optional component arg -> list
  case ${1:-} in
    "") echo "kafka mongo" ;;
    kafka | mongo) echo "$1" ;;
    *) die "unknown component '$1' (expected kafka or mongo)" ;;
  esac
}

component_status() { # comp -> prints a line; returns 0 when up and answering
  local c=$1 pid h p ok=1 extra=""
  if "${c}_external"; then
    read -r h p <<<"$("${c}_hostport")"
    if "${c}_ready"; then ok=0; fi
    printf '%-7s external  %s  %s\n' "$c:" "$([[ $c == kafka ]] && kafka_url || echo "${h:-?}:${p:-?}")" \
      "$( ((ok == 0)) && echo reachable || echo UNREACHABLE)"
    return $ok
  fi
  [[ $c == kafka ]] && { kafka_status; return; }
  local dir=$MONGO_DIR
  if pid=$(running_pid "$dir"); then
    read -r h p <<<"$("${c}_hostport")"
    if "${c}_ready"; then ok=0; fi
    extra="impl=$(tr ' ' '-' <"$dir/impl" 2>/dev/null)"
    printf '%-7s running   pid=%s  port=%s  %s  %s\n' "$c:" "$pid" "$p" "$extra" \
      "$( ((ok == 0)) && echo ready || echo NOT-READY)"
    return $ok
  fi
  printf '%-7s stopped\n' "$c:"
  return 1
}

# One line per node; 0 when every node runs and answers (node 1 listing all of them).
kafka_status() {
  local i dir pid rc=0 label n
  n=$(kafka_size)
  for i in $(kafka_nodes); do
    dir=$(kafka_node_dir "$i")
    label=$( ((n == 1)) && echo "kafka:" || echo "kafka-$i:")
    if pid=$(running_pid "$dir"); then
      local state=NOT-READY
      kafka_probe "$HOST" "$(<"$dir/port")" "$([[ $i == 1 ]] && echo "$n" || echo 1)" && state=ready
      [[ $state == ready ]] || rc=1
      printf '%-7s running   pid=%s  port=%s  controller=%s version=%s  %s\n' "$label" "$pid" "$(<"$dir/port")" \
        "$(cat "$dir/controller.port" 2>/dev/null)" "$(cat "$dir/version" 2>/dev/null)" "$state"
    else
      printf '%-7s stopped\n' "$label"
      rc=1
    fi
  done
  return $rc
}

# Every node of the local Kafka has a live process.
kafka_running() {
  local i
  for i in $(kafka_nodes); do running_pid "$(kafka_node_dir "$i")" >/dev/null || return 1; done
}

comp_running() { # comp
  if [[ $1 == kafka ]]; then kafka_running; else running_pid "$MONGO_DIR" >/dev/null; fi
}

cmd_status() {
  local c rc=0
  for c in $(components "${1:-}"); do
    component_status "$c" || rc=3
  done
  if ((rc == 0)); then env_lines | sed 's/^/  /'; fi
  return $rc
}

cmd_up() {
  local c
  if [[ ${1:-} == --brokers ]]; then
    [[ ${2:-} =~ ^[1-9]$ ]] || die "--brokers takes a node count from 1 to 9 (got '${2:-}')"
    BROKERS_ARG=$2
    shift 2
  fi
  init_state
  for c in $(components "${1:-}"); do "provision_$c"; done
  for c in $(components "${1:-}"); do
    if "${c}_external"; then continue; fi
    if comp_running "$c" && "${c}_ready"; then
      log "$c: already up"
    else
      "${c}_start"
    fi
  done
  # mongo is fast; wait for it first, then kafka
  for c in mongo kafka; do
    [[ " $(components "${1:-}") " == *" $c "* ]] && "${c}_wait"
  done
  write_env_file
  env_lines
}

cmd_down() {
  local purge=0 comp="" a c
  for a in "$@"; do
    case $a in
      --purge) purge=1 ;;
      *) comp=$a ;;
    esac
  done
  init_state
  for c in $(components "$comp"); do "${c}_stop"; done
  if ((purge)); then
    for c in $(components "$comp"); do
      if "${c}_external"; then continue; fi
      log "$c: wiping data"
      rm -rf "${STATE_DIR:?}/$c"
    done
  fi
  rm -f "$STATE_DIR/env"
}

cmd_one() { # start|stop|restart comp
  local action=$1 comp=${2:-}
  [[ $comp == kafka || $comp == mongo ]] || die "usage: $0 $action <kafka|mongo>"
  init_state
  case $action in
    start)
      "${comp}_start"
      "${comp}_wait"
      write_env_file
      ;;
    stop) "${comp}_stop" ;;
    restart)
      "${comp}_stop"
      "${comp}_start"
      "${comp}_wait"
      write_env_file
      ;;
  esac
}

cmd_env() {
  env_lines
  local c
  for c in kafka mongo; do
    "${c}_external" && continue
    comp_running "$c" ||
      { log "warning: $c is not running (start it with: $0 up)"; return 3; }
  done
}

cmd_logs() {
  local comp=${1:-} n=${2:-100}
  case $comp in
    kafka)
      local i
      for i in $(kafka_nodes); do tail -n "$n" "$(kafka_node_dir "$i")/logs/server.log" "$(kafka_node_dir "$i")/logs/stdout.log"; done
      ;;
    mongo) tail -n "$n" "$MONGO_DIR"/logs/*.log ;;
    *) die "usage: $0 logs <kafka|mongo> [lines]" ;;
  esac
}

# Goroutine/thread dump of a running server, for a stall that nothing logs. mongo (FerretDB):
# SIGQUIT makes the Go runtime write every goroutine's stack to the console log and exit (the
# server is down afterwards); prints where the goroutines wait, most frequent first. kafka:
# SIGQUIT makes the JVM print its threads to the console log and go on.
cmd_stacks() {
  local comp=${1:-} pid dir log
  case $comp in
    kafka) dir=$(kafka_node_dir "${2:-1}") ;;
    mongo) dir=$MONGO_DIR ;;
    *) die "usage: $0 stacks <kafka [node]|mongo>" ;;
  esac
  "${comp}_external" && die "$comp is external: no process of ours to dump"
  pid=$(running_pid "$dir") || die "$comp is not running"
  log=$dir/logs/stdout.log
  if [[ $comp == mongo ]]; then
    [[ $(mongo_impl) == ferretdb ]] || die "stacks: only FerretDB (Go) can be dumped"
    pid=$(pgrep -g "$pid" -f ferretdb | sed -n 1p)
  fi
  kill -QUIT "$pid"
  sleep 2
  log "$comp: stacks written to $log"
  python3 - "$log" <<'PY'
import collections, re, sys
text = open(sys.argv[1], errors="replace").read()
start = text.rfind("SIGQUIT: quit")
blocks = re.split(r"\n\n(?=goroutine \d+ )", text[start:] if start >= 0 else text)
where = collections.Counter()
for b in blocks:
    m = re.match(r"goroutine \d+ [^\[\n]*\[([^\]]*)\]:\n", b)
    if not m:
        continue
    frames = [l for l in b.splitlines()[1::2] if "FerretDB/FerretDB" in l or "database/sql" in l]
    # Group by function, not by call: argument values differ per goroutine.
    frame = re.sub(r"\([^()]*\)$", "", frames[0].strip()) if frames else "(runtime)"
    where[(m.group(1).split(",")[0], frame)] += 1
before = [l for l in (text[:start] if start >= 0 else "").splitlines()
          if re.match(r"\d{4}-\d\d-\d\dT\S+\t(WARN|ERROR|DPANIC|PANIC)", l) and "\tResponse " not in l]
print(f"  last {min(8, len(before))} of {len(before)} warnings before the dump:")
for l in before[-8:]:
    print("    " + l[:220])
print(f"  {sum(where.values())} goroutines")
for (state, frame), n in where.most_common(25):
    print(f"{n:6d}  [{state}]  {frame[:160]}")
PY
}

# One node of the local Kafka (chaos tests): kill (SIGKILL, a crash), stop (SIGTERM: a controlled
# shutdown that moves its leaderships away first), start (and wait until it answers), pid, port.
cmd_kafka_node() {
  local i=${1:-} action=${2:-} n dir
  init_state
  n=$(kafka_size)
  [[ $i =~ ^[0-9]+$ ]] && ((i >= 1 && i <= n)) || die "usage: $0 kafka-node <1..$n> kill|stop|start|pid|port"
  kafka_external && die "kafka is external: no node of ours"
  dir=$(kafka_node_dir "$i")
  case $action in
    kill) kafka_stop KILL "$i" ;;
    stop) kafka_stop "$i" ;;
    start)
      kafka_start "$i"
      kafka_wait "$i"
      ;;
    pid) running_pid "$dir" || die "kafka node $i is not running" ;;
    port) cat "$dir/port" ;;
    *) die "usage: $0 kafka-node <1..$n> kill|stop|start|pid|port" ;;
  esac
}

cmd_kafka_run() {
  [[ $# -ge 1 ]] || die "usage: $0 kafka-run <main class> [args...]"
  provision_kafka
  need java
  local libs
  libs=$(kafka_libs)
  exec java -Xmx256m -cp "$libs/*" -Dlog4j.configuration="file:$(tools_log4j)" "$@"
}

usage() {
  sed -n '2,13p' "$0" | sed 's/^# \{0,1\}//'
}

main() {
  local cmd=${1:-}
  [[ $# -gt 0 ]] && shift
  case $cmd in
    up) cmd_up "$@" ;;
    down) cmd_down "$@" ;;
    purge) cmd_down --purge "$@" ;;
    status) cmd_status "$@" ;;
    env) cmd_env ;;
    start | stop | restart) cmd_one "$cmd" "$@" ;;
    provision)
      local c
      for c in $(components "${1:-}"); do "provision_$c"; done
      log "provisioned (cache: $CACHE_DIR)"
      ;;
    logs) cmd_logs "$@" ;;
    stacks) cmd_stacks "$@" ;;
    kafka-run) cmd_kafka_run "$@" ;;
    kafka-node) cmd_kafka_node "$@" ;;
    -h | --help | help) usage ;;
    *)
      usage >&2
      exit 2
      ;;
  esac
}

main "$@"
