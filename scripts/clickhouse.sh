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
# The Go test helper internal/chtest (config.go) writes the same configuration.
set -euo pipefail

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

# alive PID: the process exists and is not a zombie.
alive() {
	local state
	state=$(ps -o stat= -p "$1" 2>/dev/null) || return 1
	[[ $state != Z* ]]
}

ping_ok() {
	[[ $(curl -s --max-time 1 "http://127.0.0.1:$1/ping" 2>/dev/null) == "Ok." ]]
}

write_config() {
	local dir=$1 tcp=$2 http=$3
	mkdir -p "$dir/data" "$dir/tmp" "$dir/user_files" "$dir/format_schemas" "$dir/log"
	cat >"$dir/config.xml" <<EOF
<?xml version="1.0"?>
<!-- Written by scripts/clickhouse.sh; rewritten at every start. -->
<yandex>
    <logger>
        <level>information</level>
        <log>$dir/log/clickhouse-server.log</log>
        <errorlog>$dir/log/clickhouse-server.err.log</errorlog>
        <size>10M</size>
        <count>2</count>
    </logger>
    <listen_host>127.0.0.1</listen_host>
    <tcp_port>$tcp</tcp_port>
    <http_port>$http</http_port>
    <path>$dir/data/</path>
    <tmp_path>$dir/tmp/</tmp_path>
    <user_files_path>$dir/user_files/</user_files_path>
    <format_schema_path>$dir/format_schemas/</format_schema_path>
    <users_config>$dir/users.xml</users_config>
    <default_profile>default</default_profile>
    <default_database>default</default_database>
    <timezone>UTC</timezone>
    <mark_cache_size>67108864</mark_cache_size>
    <uncompressed_cache_size>67108864</uncompressed_cache_size>
    <max_concurrent_queries>100</max_concurrent_queries>
    <keep_alive_timeout>3</keep_alive_timeout>
</yandex>
EOF
	# poll_interval: native-protocol handlers notice a shutdown only once per poll_interval
	# (10 s by default), so every idle client connection would delay stop by that much.
	cat >"$dir/users.xml" <<'EOF'
<?xml version="1.0"?>
<!-- Written by scripts/clickhouse.sh; rewritten at every start. -->
<yandex>
    <profiles>
        <default>
            <max_memory_usage>10000000000</max_memory_usage>
            <use_uncompressed_cache>0</use_uncompressed_cache>
            <load_balancing>random</load_balancing>
            <poll_interval>1</poll_interval>
        </default>
        <readonly>
            <readonly>1</readonly>
        </readonly>
    </profiles>
    <users>
        <default>
            <password></password>
            <networks>
                <ip>::1</ip>
                <ip>127.0.0.1</ip>
            </networks>
            <profile>default</profile>
            <quota>default</quota>
        </default>
        <readonly>
            <password></password>
            <networks>
                <ip>::1</ip>
                <ip>127.0.0.1</ip>
            </networks>
            <profile>readonly</profile>
            <quota>default</quota>
        </readonly>
    </users>
    <quotas>
        <default>
            <interval>
                <duration>3600</duration>
                <queries>0</queries>
                <errors>0</errors>
                <result_rows>0</result_rows>
                <read_rows>0</read_rows>
                <execution_time>0</execution_time>
            </interval>
        </default>
    </quotas>
</yandex>
EOF
}

show_logs() {
	local dir=$1
	echo "--- tail of $dir/log/clickhouse-server.err.log" >&2
	tail -n 30 "$dir/log/clickhouse-server.err.log" >&2 2>/dev/null || true
	echo "--- tail of $dir/log/stdout.log" >&2
	tail -n 10 "$dir/log/stdout.log" >&2 2>/dev/null || true
}

stop_pid() {
	local pid=$1 i
	kill -TERM "$pid" 2>/dev/null || true
	kill -CONT "$pid" 2>/dev/null || true # a paused server would never see SIGTERM
	for ((i = 0; i < STOP_TIMEOUT * 10; i++)); do
		alive "$pid" || return 0
		sleep 0.1
	done
	echo "clickhouse.sh: pid $pid ignored SIGTERM for ${STOP_TIMEOUT}s, sending SIGKILL" >&2
	kill -KILL "$pid" 2>/dev/null || true
	for ((i = 0; i < 50; i++)); do
		alive "$pid" || return 0
		sleep 0.1
	done
	return 1
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
	stop_pid "$pid" || true
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
	stop_pid "$pid" || die "could not stop pid $pid"
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
