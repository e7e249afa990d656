# Sourced by the scripts that run servers (clickhouse.sh, cluster.sh, run.sh): checking on
# a process and stopping it. Messages name the script that sourced this file. Locals carry
# a prefix: a local named like a readonly variable of the caller (run.sh's state) fails.

# alive PID: the process exists and is not a zombie.
alive() {
	local proc_stat
	proc_stat=$(ps -o stat= -p "$1" 2>/dev/null) || return 1
	[[ $proc_stat != Z* ]]
}

# stop_pid PID SECONDS: SIGTERM, SIGKILL if the process is still there after SECONDS, and
# wait until it is gone (fails if it is not 5 s after SIGKILL). SIGCONT goes with SIGTERM: a
# paused process would never see it.
stop_pid() {
	local proc_pid=$1 proc_timeout=$2 proc_i
	kill -TERM "$proc_pid" 2>/dev/null || true
	kill -CONT "$proc_pid" 2>/dev/null || true
	for ((proc_i = 0; proc_i < proc_timeout * 10; proc_i++)); do
		alive "$proc_pid" || return 0
		sleep 0.1
	done
	echo "${0##*/}: pid $proc_pid ignored SIGTERM for ${proc_timeout}s, sending SIGKILL" >&2
	kill -KILL "$proc_pid" 2>/dev/null || true
	for ((proc_i = 0; proc_i < 50; proc_i++)); do
		alive "$proc_pid" || return 0
		sleep 0.1
	done
	return 1
}
