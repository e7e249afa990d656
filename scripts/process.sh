# Sourced by the scripts that run servers (clickhouse.sh, cluster.sh, run.sh): checking on
# a process and stopping it. Messages name the script that sourced this file.

# alive PID: the process exists and is not a zombie.
alive() {
	local state
	state=$(ps -o stat= -p "$1" 2>/dev/null) || return 1
	[[ $state != Z* ]]
}

# stop_pid PID SECONDS: SIGTERM, SIGKILL if the process is still there after SECONDS, and
# wait until it is gone (fails if it is not 5 s after SIGKILL). SIGCONT goes with SIGTERM: a
# paused process would never see it.
stop_pid() {
	local pid=$1 timeout=$2 i
	kill -TERM "$pid" 2>/dev/null || true
	kill -CONT "$pid" 2>/dev/null || true
	for ((i = 0; i < timeout * 10; i++)); do
		alive "$pid" || return 0
		sleep 0.1
	done
	echo "${0##*/}: pid $pid ignored SIGTERM for ${timeout}s, sending SIGKILL" >&2
	kill -KILL "$pid" 2>/dev/null || true
	for ((i = 0; i < 50; i++)); do
		alive "$pid" || return 0
		sleep 0.1
	done
	return 1
}
