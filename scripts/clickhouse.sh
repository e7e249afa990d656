#!/usr/bin/env bash
# clickhouse.sh: run a private clickhouse-server (Debian's 18.16) in a folder of its own.
#
#   scripts/clickhouse.sh start DIR [TCP_PORT HTTP_PORT]   (defaults 19000 and 18123)
#   scripts/clickhouse.sh stop DIR
#   scripts/clickhouse.sh status DIR
#
# start writes DIR/config.xml, keeps data under DIR/data and logs under DIR/log, starts the
# server in the background (its own session, pid in DIR/clickhouse-server.pid) and waits until
# it answers GET /ping on the HTTP port. It listens on 127.0.0.1 only; DIR/users.xml is Debian's
# (user default, no password) for loopback clients with a short poll_interval, so that stop is
# quick even while clients stay connected. It never touches the system service.
# The configuration comes from internal/chtest/server/, the same files the Go tests use.
set -euo pipefail

# shellcheck source=scripts/process.sh
source "$(dirname "${BASH_SOURCE[0]}")/process.sh"

readonly START_TIMEOUT=30 # seconds to wait for /ping
readonly STOP_TIMEOUT=30  # seconds to wait after SIGTERM before SIGKILL

die() {
	echo "clickhouse.sh: $*" >&2
	exit 1
}

usage() {
	sed -n '2,12s/^# \{0,1\}//p' "$0" >&2
	exit 2
}

ping_ok() {
	[[ $(curl -s --max-time 1 "http://127.0.0.1:$1/ping" 2>/dev/null) == "Ok." ]]
}

# The configuration is internal/chtest/server/*.xml, shared with the Go tests; only the
# folder and the ports are filled in here.
readonly TEMPLATES=$(cd "$(dirname "${BASH_SOURCE[0]}")/../internal/chtest/server" && pwd)

write_config() {
	local dir=$1 tcp=$2 http=$3
	mkdir -p "$dir/data" "$dir/tmp" "$dir/user_files" "$dir/format_schemas" "$dir/log"
	local esc=${dir//&/&amp;} conf
	esc=${esc//</&lt;}
	esc=${esc//>/&gt;}
	conf=$(<"$TEMPLATES/config.xml")
	# Quoted replacements are literal (bash 5.2 would otherwise expand & in them).
	conf=${conf//@DIR@/"$esc"}
	conf=${conf//@TCP_PORT@/"$tcp"}
	conf=${conf//@HTTP_PORT@/"$http"}
	printf '%s\n' "$conf" >"$dir/config.xml"
	cp "$TEMPLATES/users.xml" "$dir/users.xml"
}

show_logs() {
	local dir=$1
	echo "--- tail of $dir/log/clickhouse-server.err.log" >&2
	tail -n 30 "$dir/log/clickhouse-server.err.log" >&2 2>/dev/null || true
	echo "--- tail of $dir/log/stdout.log" >&2
	tail -n 10 "$dir/log/stdout.log" >&2 2>/dev/null || true
}

cmd_start() {
	local dir=$1 tcp=${2:-19000} http=${3:-18123}
	[[ $tcp =~ ^[0-9]+$ && $http =~ ^[0-9]+$ ]] || die "ports must be numbers: '$tcp' '$http'"
	command -v clickhouse-server >/dev/null || die "clickhouse-server not found: run scripts/deps.sh --no-chdb"
	command -v curl >/dev/null || die "curl not found: run scripts/deps.sh --no-chdb"
	mkdir -p "$dir"
	dir=$(cd "$dir" && pwd -P)
	local pidfile=$dir/clickhouse-server.pid

	if [[ -s $pidfile ]] && alive "$(cat "$pidfile")"; then
		if ping_ok "$http"; then
			echo "clickhouse-server already running (pid $(cat "$pidfile"), tcp $tcp, http $http)"
			return 0
		fi
		die "a clickhouse-server (pid $(cat "$pidfile")) already runs in $dir but does not answer on port $http; run: $0 stop $dir"
	fi
	if ping_ok "$http"; then
		die "something already answers /ping on 127.0.0.1:$http"
	fi

	write_config "$dir" "$tcp" "$http"
	# setsid: the server gets its own session, so a ^C in the terminal that started it does not
	# reach it; stop DIR ends it. As a background job of this non-interactive shell, setsid
	# execs in place, so $! is the server's pid.
	setsid clickhouse-server --config-file="$dir/config.xml" </dev/null >"$dir/log/stdout.log" 2>&1 &
	local pid=$!
	echo "$pid" >"$pidfile"

	local i
	for ((i = 0; i < START_TIMEOUT * 10; i++)); do
		if ping_ok "$http"; then
			echo "clickhouse-server started (pid $pid, tcp 127.0.0.1:$tcp, http 127.0.0.1:$http, dir $dir)"
			return 0
		fi
		if ! alive "$pid"; then
			echo "clickhouse.sh: clickhouse-server exited during start" >&2
			show_logs "$dir"
			rm -f "$pidfile"
			exit 1
		fi
		sleep 0.1
	done
	echo "clickhouse.sh: clickhouse-server did not answer /ping on port $http within ${START_TIMEOUT}s" >&2
	show_logs "$dir"
	stop_pid "$pid" "$STOP_TIMEOUT" || true
	rm -f "$pidfile"
	exit 1
}

cmd_stop() {
	local dir=$1
	local pidfile=$dir/clickhouse-server.pid
	if [[ ! -s $pidfile ]]; then
		echo "clickhouse-server not running in $dir (no pid file)"
		return 0
	fi
	local pid
	pid=$(cat "$pidfile")
	if ! alive "$pid"; then
		echo "clickhouse-server not running in $dir (stale pid $pid)"
		rm -f "$pidfile"
		return 0
	fi
	stop_pid "$pid" "$STOP_TIMEOUT" || die "could not stop pid $pid"
	rm -f "$pidfile"
	echo "clickhouse-server stopped (pid $pid)"
}

cmd_status() {
	local dir=$1
	local pidfile=$dir/clickhouse-server.pid
	if [[ -s $pidfile ]] && alive "$(cat "$pidfile")"; then
		echo "clickhouse-server running (pid $(cat "$pidfile"), dir $dir)"
		return 0
	fi
	echo "clickhouse-server not running in $dir"
	return 1
}

[[ $# -ge 2 ]] || usage
case $1 in
start)
	[[ $# -eq 2 || $# -eq 4 ]] || usage
	cmd_start "$2" "${3:-}" "${4:-}"
	;;
stop)
	[[ $# -eq 2 ]] || usage
	cmd_stop "$2"
	;;
status)
	[[ $# -eq 2 ]] || usage
	cmd_status "$2"
	;;
*) usage ;;
esac
