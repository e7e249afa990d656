#!/usr/bin/env bash
# cluster.sh: run a ClickHouse cluster on this machine: Debian's ZooKeeper and four
# clickhouse-server 18.16 processes on 127.0.0.1, 2 shards x 2 replicas, cluster `passivedns`.
#
#   scripts/cluster.sh start DIR [BASE_PORT]   (default 19100)
#   scripts/cluster.sh stop DIR
#   scripts/cluster.sh status DIR
#
# Ports: ZooKeeper on BASE_PORT; node N (1..4) on BASE_PORT+10*N (native), +1 (HTTP) and +2
# (interserver). Nodes 1 and 2 are shard 1, nodes 3 and 4 shard 2. Each node lives in DIR/nodeN
# and is run by scripts/clickhouse.sh with the project's one config.xml plus
# DIR/nodeN/config.d/cluster.xml (macros, zookeeper, distributed_ddl, remote_servers), both from
# internal/*/server/. ZooKeeper lives in DIR/zookeeper (pid in zookeeper.pid). start waits until
# every node answers and an ON CLUSTER statement has run on all of them; stop ends the nodes,
# then ZooKeeper, and checks that no process is left. Nothing listens beyond loopback.
set -euo pipefail

# shellcheck source=scripts/process.sh
source "$(dirname "${BASH_SOURCE[0]}")/process.sh"

readonly CLUSTER=passivedns
readonly NODES=4
readonly START_TIMEOUT=60 # seconds, for ZooKeeper and for the first ON CLUSTER statement
readonly STOP_TIMEOUT=30  # seconds to wait after SIGTERM before SIGKILL
readonly ZK_SESSION_MS=3000 # as clustertest.SessionTimeout: a killed node is writable soon after restart
readonly ZK_HEAP=128m

readonly ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
readonly CLICKHOUSE_SH=$ROOT/scripts/clickhouse.sh
readonly TEMPLATES=$ROOT/internal/clustertest/server

die() {
	echo "cluster.sh: $*" >&2
	exit 1
}

usage() {
	sed -n '2,15s/^# \{0,1\}//p' "$0"
	exit "${1:-2}"
}

zk_ok() {
	local answer
	# srvr, not ruok: ruok says imok before the server takes sessions.
	answer=$( (exec 3<>"/dev/tcp/127.0.0.1/$1" && printf srvr >&3 && timeout 1 cat <&3) 2>/dev/null) || true
	[[ $answer == *"Mode: standalone"* ]]
}

# query PORT SQL: one statement over HTTP; the ClickHouse exception goes to stderr.
query() {
	curl -sS --fail-with-body --max-time 120 --data-binary "$2" "http://127.0.0.1:$1/"
}

fill() { # fill FILE NAME=VALUE...: a template with @NAME@ replaced (values are XML-safe here)
	local text
	text=$(<"$1")
	shift
	local kv
	for kv in "$@"; do
		text=${text//"@${kv%%=*}@"/"${kv#*=}"}
	done
	printf '%s\n' "$text"
}

node_ports() { # node_ports BASE N: tcp http interserver
	echo $(($1 + 10 * $2)) $(($1 + 10 * $2 + 1)) $(($1 + 10 * $2 + 2))
}

start_zookeeper() {
	local dir=$1/zookeeper port=$2 pidfile=$1/zookeeper/zookeeper.pid
	if [[ -s $pidfile ]] && alive "$(cat "$pidfile")"; then
		zk_ok "$port" && return 0
		die "a ZooKeeper (pid $(cat "$pidfile")) runs in $dir but does not answer on port $port; run: $0 stop $1"
	fi
	zk_ok "$port" && die "something already answers srvr on 127.0.0.1:$port"
	mkdir -p "$dir/data"
	fill "$TEMPLATES/zoo.cfg" DIR="$dir" PORT="$port" >"$dir/zoo.cfg"
	# slf4j-simple (a dependency of the package) gives ZooKeeper a log; without it it says nothing.
	setsid java "-Xmx$ZK_HEAP" -XX:-UsePerfData -XX:+UseSerialGC -XX:TieredStopAtLevel=1 \
		-cp /usr/share/java/zookeeper.jar:/usr/share/java/slf4j-simple.jar \
		org.apache.zookeeper.server.ZooKeeperServerMain "$dir/zoo.cfg" </dev/null >"$dir/zookeeper.log" 2>&1 &
	local pid=$! i
	echo "$pid" >"$pidfile"
	for ((i = 0; i < START_TIMEOUT * 10; i++)); do
		if zk_ok "$port"; then
			echo "zookeeper started (pid $pid, 127.0.0.1:$port, dir $dir)"
			return 0
		fi
		if ! alive "$pid"; then
			tail -n 20 "$dir/zookeeper.log" >&2
			rm -f "$pidfile"
			die "zookeeper exited during start"
		fi
		sleep 0.1
	done
	tail -n 20 "$dir/zookeeper.log" >&2
	stop_pid "$pid" "$STOP_TIMEOUT" || true
	rm -f "$pidfile"
	die "zookeeper did not serve on port $port within ${START_TIMEOUT}s"
}

cmd_start() {
	local dir=$1 base=${2:-19100}
	[[ $base =~ ^[0-9]+$ ]] && ((base >= 1024 && base + 10 * NODES + 2 <= 65535)) ||
		die "BASE_PORT must be a number from 1024 to $((65535 - 10 * NODES - 2)): '$base'"
	command -v java >/dev/null && [[ -e /usr/share/java/zookeeper.jar ]] ||
		die "ZooKeeper not found: run scripts/deps.sh --no-chdb"
	mkdir -p "$dir"
	dir=$(cd "$dir" && pwd -P)
	echo "$base" >"$dir/base_port"

	start_zookeeper "$dir" "$base"

	local n tcp http inter shard replica
	local tcps=()
	for ((n = 1; n <= NODES; n++)); do
		read -r tcp http inter < <(node_ports "$base" "$n")
		tcps+=("NODE${n}_TCP=$tcp")
	done
	for ((n = 1; n <= NODES; n++)); do
		read -r tcp http inter < <(node_ports "$base" "$n")
		shard=$(((n - 1) / 2 + 1))
		replica=node$n
		mkdir -p "$dir/node$n/config.d"
		fill "$TEMPLATES/cluster.xml" SHARD="$shard" REPLICA="$replica" INTERSERVER_PORT="$inter" \
			ZK_PORT="$base" ZK_SESSION_MS="$ZK_SESSION_MS" "${tcps[@]}" >"$dir/node$n/config.d/cluster.xml"
		bash "$CLICKHOUSE_SH" start "$dir/node$n" "$tcp" "$http" | sed "s/^/node$n (shard $shard): /"
	done

	# Ready when an ON CLUSTER statement has run on every node: that needs ZooKeeper, the DDL
	# worker of each node and each node's view of the cluster.
	read -r tcp http inter < <(node_ports "$base" 1)
	local i out
	for ((i = 0; i < START_TIMEOUT; i++)); do
		if out=$(query "$http" "CREATE DATABASE IF NOT EXISTS cluster_probe ON CLUSTER $CLUSTER" 2>&1) &&
			out=$(query "$http" "DROP DATABASE IF EXISTS cluster_probe ON CLUSTER $CLUSTER" 2>&1); then
			echo "cluster $CLUSTER ready: ON CLUSTER DDL runs on all $NODES nodes"
			cmd_status "$dir"
			return 0
		fi
		sleep 1
	done
	echo "$out" >&2
	die "ON CLUSTER DDL did not work within ${START_TIMEOUT}s; see $dir/node*/log/clickhouse-server.err.log, then run: $0 stop $dir"
}

cmd_stop() {
	local dir=$1 n rc=0
	[[ -d $dir ]] || die "no folder $dir"
	# The nodes first, in parallel: each stops sooner while ZooKeeper still answers.
	local pids=()
	for ((n = 1; n <= NODES; n++)); do
		[[ -d $dir/node$n ]] || continue
		bash "$CLICKHOUSE_SH" stop "$dir/node$n" | sed "s/^/node$n: /" &
		pids+=($!)
	done
	local p
	for p in "${pids[@]}"; do
		wait "$p" || rc=1
	done
	local pidfile=$dir/zookeeper/zookeeper.pid
	if [[ -s $pidfile ]]; then
		local pid
		pid=$(cat "$pidfile")
		if alive "$pid"; then
			if stop_pid "$pid" "$STOP_TIMEOUT"; then
				echo "zookeeper stopped (pid $pid)"
			else
				echo "cluster.sh: could not stop zookeeper pid $pid" >&2
				rc=1
			fi
		else
			echo "zookeeper not running (stale pid $pid)"
		fi
		rm -f "$pidfile"
	else
		echo "zookeeper not running in $dir (no pid file)"
	fi
	return "$rc"
}

cmd_status() {
	local dir=$1 n rc=0 base tcp http inter
	[[ -s $dir/base_port ]] || {
		echo "no cluster in $dir"
		return 1
	}
	base=$(cat "$dir/base_port")
	local pidfile=$dir/zookeeper/zookeeper.pid
	if [[ -s $pidfile ]] && alive "$(cat "$pidfile")" && zk_ok "$base"; then
		echo "zookeeper  running  pid $(cat "$pidfile")  127.0.0.1:$base"
	else
		echo "zookeeper  down     127.0.0.1:$base"
		rc=1
	fi
	printf '%-10s %-8s %-6s %-8s %-22s %-22s %s\n' node state shard replica tcp http interserver
	for ((n = 1; n <= NODES; n++)); do
		read -r tcp http inter < <(node_ports "$base" "$n")
		local state=down pf=$dir/node$n/clickhouse-server.pid
		if [[ -s $pf ]] && alive "$(cat "$pf")"; then
			state=running
			[[ $(curl -s --max-time 1 "http://127.0.0.1:$http/ping" 2>/dev/null) == "Ok." ]] || state=silent
		fi
		[[ $state == running ]] || rc=1
		printf '%-10s %-8s %-6s %-8s %-22s %-22s %s\n' "node$n" "$state" $(((n - 1) / 2 + 1)) "node$n" \
			"127.0.0.1:$tcp" "127.0.0.1:$http" "127.0.0.1:$inter"
	done
	return "$rc"
}

case ${1:-} in
-h | --help) usage 0 ;;
esac
[[ $# -ge 2 ]] || usage >&2
case $1 in
start)
	[[ $# -eq 2 || $# -eq 3 ]] || usage >&2
	cmd_start "$2" "${3:-}"
	;;
stop)
	[[ $# -eq 2 ]] || usage >&2
	cmd_stop "$2"
	;;
status)
	[[ $# -eq 2 ]] || usage >&2
	cmd_status "$2"
	;;
*) usage >&2 ;;
esac
