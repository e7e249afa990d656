#!/usr/bin/env bash
# bench.sh: what recording costs the resolver, side by side with CoreDNS's own loggers, and
# how fast ClickHouse takes the records (`make bench`). The method is in BENCHMARKS.md.
#
#   scripts/bench.sh [--tiny] [--rounds N] [--seconds S] [--dir DIR] [--only LIST]
#
#   --tiny      a run of a few seconds per piece with tiny sizes, to check that every piece
#               works (bench/bench_test.go runs it in `go test ./...`); its figures mean nothing
#   --rounds N  alternating rounds of the resolver comparison (default 3)
#   --seconds S length of each saturation run (default 10)
#   --dir DIR   working folder (default ./.bench); results in DIR/results.md
#   --configs LIST, --workloads LIST  a subset of base,log,dnstap,passivedns,passivedns-spool,
#               passivedns-null
#               and whoami,forward
#   --rate N    the fixed rate of the latency runs (default: half the baseline's QPS)
#   --only LIST comma-separated pieces: overhead,latency,memory,profile,ingest,queries,
#               views,capture
#               (default all)
#   Experiments: BENCH_PASSIVEDNS_EXTRA="batch 5000;flush 100ms" adds passivedns properties,
#   BENCH_RESOLVER_ENV="GOMAXPROCS=2" sets the resolver's environment.
#
# It builds ./cmd/coredns and bench/cmd/benchtool, generates a zone of 100k names and a
# Zipf-distributed query file, starts a private ClickHouse (scripts/clickhouse.sh) on free
# ports and an authoritative CoreDNS, then, with the resolver pinned to CPU 0 and everything
# else (dnsperf, ClickHouse, the authoritative server, the dnstap receiver) on CPU 1:
#   overhead  dnsperf to saturation, configs base/log/dnstap/passivedns in alternating order,
#             and passivedns-spool (the same with a spool, which keeps what ClickHouse cannot
#             take at once), and passivedns-null (the same into a table of engine Null: the
#             plugin's own cost, without ClickHouse's ingest work on the load generator's CPU),
#             workloads whoami and cache+forward: QPS, mean latency, CPU per 1000 queries,
#             peak RSS, and for passivedns rows in ClickHouse = responses answered
#   latency   dnsperf -v at a fixed rate (half the baseline's QPS): p50, p99, mean
#   memory    passivedns with ClickHouse down (a port where nothing listens): peak RSS
#   profile   a CPU profile (pprof) of CoreDNS during a saturation run, per config
#   ingest    the writer's ingest rate on one core per batch size, against clickhouse-client
#             inserting the same rows in Native format
#   queries   10 million answers recorded through the writer, then p50/p99 of each kind of
#             history lookup through the HTTP API and as SQL; bytes on disk per row
#   views     ClickHouse's CPU per row by materialized view: the rows of 200k answers inserted
#             by clickhouse-client with every view, with none, and with each view alone
#   capture   go test -bench 'Capture|Decode' -count 6, root and internal/record (medians)
# All traffic is on 127.0.0.1; every load loop is bounded by a time limit.
set -euo pipefail

# The whole script is one compound command, read before it runs: editing this file while a
# benchmark runs cannot change what the running one does.
{
ROOT=$(cd "$(dirname "$0")/.." && pwd -P)
cd "$ROOT"
if ! command -v go >/dev/null; then export PATH=/usr/local/go/bin:$PATH; fi

tiny=0
CONFIGS_ARG= WORKLOADS_ARG= RATE_ARG=
ROUNDS=3
SECS=10
DIR=$ROOT/.bench
ONLY=overhead,latency,memory,profile,ingest,queries,views,capture
while (($#)); do
	case $1 in
	--tiny) tiny=1 ;;
	--rounds) ROUNDS=$2; shift ;;
	--seconds) SECS=$2; shift ;;
	--dir) DIR=$2; shift ;;
	--only) ONLY=$2; shift ;;
	--configs) CONFIGS_ARG=$2; shift ;;
	--workloads) WORKLOADS_ARG=$2; shift ;;
	--rate) RATE_ARG=$2; shift ;;
	-h | --help) sed -n '2,42s/^# \{0,1\}//p' "$0"; exit 0 ;;
	*) echo "bench.sh: unknown argument '$1' (try --help)" >&2; exit 2 ;;
	esac
	shift
done
[[ $ROUNDS =~ ^[1-9][0-9]*$ && $SECS =~ ^[1-9][0-9]*$ ]] || { echo "bench.sh: --rounds and --seconds take positive whole numbers" >&2; exit 2; }

NAMES=100000
QUERIES=1000000
LAT_SECS=5
INGEST_N=1000000
QUERY_N=10000000
QUERY_LOOKUPS=200
BATCHES="1000 10000 50000 100000"
VIEWS_N=200000 VIEWS_BATCH=25000 VIEWS_ROUNDS=2
GOBENCH=(-count 6)
WORKLOADS=${WORKLOADS_ARG:-whoami forward}
CONFIGS=${CONFIGS_ARG:-base log dnstap passivedns passivedns-spool passivedns-null}
WORKLOADS=${WORKLOADS//,/ } CONFIGS=${CONFIGS//,/ }
if ((tiny)); then
	ROUNDS=1 SECS=1 LAT_SECS=1 NAMES=1000 QUERIES=5000 INGEST_N=5000 BATCHES=1000 QUERY_N=20000 QUERY_LOOKUPS=10
	VIEWS_N=2000 VIEWS_BATCH=1000 VIEWS_ROUNDS=1
	GOBENCH=(-count 1 -benchtime 2000x)
fi
want() { [[ ,$ONLY, == *,$1,* ]]; }

log() { echo "bench.sh: $(date +%T) $*" >&2; }
die() { log "$*"; exit 1; }

for tool in dnsperf clickhouse-server clickhouse-client curl dig taskset; do
	if ! command -v "$tool" >/dev/null; then
		((tiny)) && die "$tool not found: run scripts/deps.sh"
		log "$tool not found: installing the dependencies"
		bash "$ROOT/scripts/deps.sh" --no-chdb
		break
	fi
done

# Priority: on a machine shared with other work, the resolver under test, the load generator
# and the authoritative server run at nice -10 (when root), so that other processes disturb
# the comparison less; the sinks (ClickHouse, the dnstap receiver) keep the normal priority.
PRIO=()
[[ $(id -u) -eq 0 ]] && PRIO=(nice -n -10)

# CPUs: the resolver under test gets one, the rest of the machine the other.
NCPU=$(nproc)
RES_CPU=0
LOAD_CPU=1
((NCPU >= 2)) || LOAD_CPU=0
CLK_TCK=$(getconf CLK_TCK)

LOAD_START=$(cut -d' ' -f1-3 /proc/loadavg)
mkdir -p "$DIR"
DIR=$(cd "$DIR" && pwd -P)
BIN=$DIR/bin
RUNS=$DIR/runs
DATA=$DIR/data
rm -rf "$RUNS" "$DIR/ch"
mkdir -p "$BIN" "$RUNS" "$DATA"
TSV=$DIR/results.tsv
: >"$TSV"
FAILED=0

# Processes this script started, stopped on exit by pid.
PIDS=()
CH_STARTED=0
cleanup() {
	local p
	for p in "${PIDS[@]}"; do
		kill -TERM "$p" 2>/dev/null || true
	done
	for p in "${PIDS[@]}"; do
		wait "$p" 2>/dev/null || true
	done
	if ((CH_STARTED)); then bash "$ROOT/scripts/clickhouse.sh" stop "$DIR/ch" >/dev/null || true; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

forget_pid() {
	local p keep=()
	for p in "${PIDS[@]}"; do [[ $p == "$1" ]] || keep+=("$p"); done
	PIDS=("${keep[@]}")
}

# stop_pid PID: SIGTERM, then wait up to 20 s (passivedns flushes on the way out).
stop_pid() {
	local pid=$1 i
	kill -TERM "$pid" 2>/dev/null || true
	for ((i = 0; i < 200; i++)); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	kill -KILL "$pid" 2>/dev/null || true
	wait "$pid" 2>/dev/null || true
	forget_pid "$pid"
}

record() { printf '%s\n' "$*" >>"$TSV"; }

# ---------------------------------------------------------------------------------------
log "building coredns and benchtool"
go build -o "$BIN/coredns" ./cmd/coredns
go build -o "$BIN/benchtool" ./bench/cmd/benchtool

log "generating the zone ($NAMES names) and $QUERIES queries"
"$BIN/benchtool" gen -names "$NAMES" -queries "$QUERIES" -out "$DATA"

read -r CH_TCP CH_HTTP AUTH_PORT DEAD_PORT < <("$BIN/benchtool" ports 4)
CH_DSN=clickhouse://127.0.0.1:$CH_TCP/passivedns
chq() { clickhouse-client --host 127.0.0.1 --port "$CH_TCP" -q "$@"; }
# mat_views DB: the names of DB's materialized views.
mat_views() { chq "SELECT name FROM system.tables WHERE database = '$1' AND engine = 'MaterializedView' ORDER BY name"; }

need_ch=0
for p in overhead latency profile ingest queries views; do want "$p" && need_ch=1; done
if ((need_ch)); then
	log "starting ClickHouse on 127.0.0.1:$CH_TCP (CPU $LOAD_CPU)"
	CH_STARTED=1
	# ClickHouse stands for a server elsewhere: it runs on the load generator's CPU at a lower
	# priority, so that its inserts do not slow the load generator down in the passivedns
	# runs only (see ch_priority for the latency runs).
	taskset -c "$LOAD_CPU" bash "$ROOT/scripts/clickhouse.sh" start "$DIR/ch" "$CH_TCP" "$CH_HTTP" >&2
	CH_VERSION=$(chq "SELECT version()")
	((tiny)) || sleep 2 # let its start-up work settle before the first run
fi

# passivedns-null writes into nullsink, whose responses table has engine Null and no views:
# the server parses each block and keeps nothing. A busy CPU beside the resolver's costs the
# resolver itself (a wake-up of dnsperf there is dearer), and ClickHouse's ingest work
# (parts, views, merges) lands on that CPU; this config shows the plugin's cost without it.
NULL_DB=nullsink
if ((need_ch)) && [[ " $CONFIGS " == *" passivedns-null "* ]]; then
	chq "DROP DATABASE IF EXISTS $NULL_DB"
	"$BIN/benchtool" ingest -dsn "clickhouse://127.0.0.1:$CH_TCP/$NULL_DB" -n 0 -port "$("$BIN/benchtool" ports 1)" \
		-zone "$DATA/zone.db" -queries "$DATA/queries.txt"
	for v in $(mat_views "$NULL_DB"); do
		chq "DROP TABLE $NULL_DB.\`$v\`"
	done
	chq "CREATE TABLE $NULL_DB.responses_null AS $NULL_DB.responses ENGINE = Null"
	chq "DROP TABLE $NULL_DB.responses"
	chq "RENAME TABLE $NULL_DB.responses_null TO $NULL_DB.responses"
fi

# The authoritative server of the generated zone, for the cache+forward workload.
cat >"$DATA/Corefile.auth" <<EOF
bench.test.:$AUTH_PORT {
    bind 127.0.0.1
    file $DATA/zone.db
}
EOF
# GOGC=1000: its zone is 100k names of live heap; fewer collections of it mean fewer
# pauses of the one CPU it shares with dnsperf, which otherwise show up as forward latency.
GOGC=1000 "${PRIO[@]}" taskset -c "$LOAD_CPU" "$BIN/coredns" -conf "$DATA/Corefile.auth" >"$DATA/auth.log" 2>&1 &
PIDS+=($!)
AUTH_PID=$!

# wait_dns PORT NAME: until the server answers (10 s at most).
wait_dns() {
	local i
	for ((i = 0; i < 100; i++)); do
		if dig +time=1 +tries=1 -p "$1" @127.0.0.1 "$2" A >/dev/null 2>&1; then return 0; fi
		sleep 0.1
	done
	return 1
}
wait_dns "$AUTH_PORT" "ns.bench.test." || die "the authoritative CoreDNS did not answer; see $DATA/auth.log"

# metric URL NAME: the sum of a Prometheus counter over its labels.
metric() {
	curl -s --max-time 5 "$1" | awk -v n="$2" '$1 == n || index($1, n "{") == 1 { s += $2 } END { printf "%d\n", s }'
}

cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }
hwm_kb() { awk '/^VmHWM:/ { print $2 }' "/proc/$1/status"; }

# corefile CONFIG WORKLOAD PORT METRICS PPROF DSN SENSOR TAPSOCK SPOOLDIR: the resolver under
# test. Identical for every config except the one logging line.
corefile() {
	local config=$1 workload=$2 port=$3 mport=$4 pport=$5 dsn=$6 sensor=$7 tap=$8 spooldir=$9
	echo ".:$port {"
	echo "    bind 127.0.0.1"
	echo "    prometheus 127.0.0.1:$mport"
	echo "    pprof 127.0.0.1:$pport"
	case $config in
	base) ;;
	log) echo "    log" ;;
	dnstap) echo "    dnstap unix://$tap full" ;;
	passivedns | passivedns-spool | passivedns-null)
		echo "    passivedns $dsn {"
		echo "        sensor $sensor"
		[[ $config == passivedns-spool ]] && echo "        spool $spooldir"
		[[ $config == passivedns-null ]] && echo "        schema off"
		# The default path of a stock server (9000 + 8123): Native blocks over HTTP.
		[[ $dsn == *":$CH_TCP/"* ]] && echo "        clickhouse_http http://127.0.0.1:$CH_HTTP/"
		# Experiments: BENCH_PASSIVEDNS_EXTRA="batch 5000;flush 100ms" adds properties.
		local prop props
		IFS=';' read -ra props <<<"${BENCH_PASSIVEDNS_EXTRA:-}"
		for prop in "${props[@]}"; do [[ -n $prop ]] && echo "        $prop"; done
		echo "    }"
		;;
	esac
	case $workload in
	whoami) echo "    whoami" ;;
	forward)
		echo "    cache"
		echo "    forward . 127.0.0.1:$AUTH_PORT"
		;;
	esac
	echo "}"
}

# run_one MODE WORKLOAD CONFIG ROUND [RATE]: one CoreDNS, one dnsperf run, one TSV line.
#   MODE sat: saturation for SECS; lat: fixed RATE with per-query latencies for LAT_SECS;
#   down: saturation with passivedns pointed at a dead port; prof: saturation with a CPU profile.
run_one() {
	local mode=$1 workload=$2 config=$3 round=$4 rate=${5:-0}
	local id=$mode-$workload-$config-$round
	local rd=$RUNS/$id
	mkdir -p "$rd"
	local port mport pport
	read -r port mport pport < <("$BIN/benchtool" ports 3)
	local dsn=$CH_DSN sensor=$id tap=$rd/tap.sock
	[[ $mode == down ]] && dsn=clickhouse://127.0.0.1:$DEAD_PORT/passivedns
	[[ $config == passivedns-null ]] && dsn=clickhouse://127.0.0.1:$CH_TCP/$NULL_DB
	corefile "$config" "$workload" "$port" "$mport" "$pport" "$dsn" "$sensor" "$tap" "$rd/spool" >"$rd/Corefile"

	local tap_pid=
	if [[ $config == dnstap ]]; then
		taskset -c "$LOAD_CPU" "$BIN/benchtool" tapsink -socket "$tap" -out "$rd/tap.txt" -max 10m 2>"$rd/tapsink.log" &
		tap_pid=$!
		PIDS+=("$tap_pid")
		local i
		for ((i = 0; i < 50; i++)); do [[ -S $tap ]] && break; sleep 0.1; done
	fi
	# Experiments: BENCH_RESOLVER_ENV="GOMAXPROCS=2" sets the environment of the resolver.
	env ${BENCH_RESOLVER_ENV:-} "${PRIO[@]}" taskset -c "$RES_CPU" "$BIN/coredns" -conf "$rd/Corefile" >"$rd/stdout.log" 2>"$rd/stderr.log" &
	local pid=$!
	PIDS+=("$pid")
	if ! wait_dns "$port" "ns.bench.test."; then
		log "$id: CoreDNS did not answer; see $rd"
		cat "$rd/stdout.log" "$rd/stderr.log" >&2
		exit 1
	fi
	local resp0
	resp0=$(metric "http://127.0.0.1:$mport/metrics" coredns_dns_responses_total)

	local perf=("${PRIO[@]}" taskset -c "$LOAD_CPU" dnsperf -s 127.0.0.1 -p "$port" -d "$DATA/queries.txt" -q 100 -t 2)
	local secs=$SECS
	case $mode in
	lat)
		secs=$LAT_SECS
		perf+=(-Q "$rate" -v)
		;;
	esac
	perf+=(-l "$secs")
	local prof_pid=
	if [[ $mode == prof ]]; then
		curl -s --max-time $((secs + 10)) -o "$rd/cpu.pprof" \
			"http://127.0.0.1:$pport/debug/pprof/profile?seconds=$((secs > 3 ? secs - 2 : 1))" &
		prof_pid=$!
	fi
	local t0 t1
	t0=$(cpu_ticks "$pid")
	"${perf[@]}" >"$rd/dnsperf.txt" 2>"$rd/dnsperf.err" || {
		log "$id: dnsperf failed"
		cat "$rd/dnsperf.err" >&2
		exit 1
	}
	t1=$(cpu_ticks "$pid")
	if [[ -n $prof_pid ]]; then
		wait "$prof_pid"
		curl -s --max-time 10 -o "$rd/heap.pprof" "http://127.0.0.1:$pport/debug/pprof/heap"
	fi
	local hwm
	hwm=$(hwm_kb "$pid")

	local mu=http://127.0.0.1:$mport/metrics
	local responses
	responses=$(($(metric "$mu" coredns_dns_responses_total) - resp0))
	local extra=""
	if [[ $config == passivedns* ]]; then
		local captured written dropped i
		if [[ $mode != down ]]; then
			# Every captured record is written within a flush interval (1 s) plus the insert,
			# or, with a spool, once the replay has caught up (60 s at most).
			for ((i = 0; i < 600; i++)); do
				captured=$(metric "$mu" coredns_passivedns_captured_total)
				written=$(metric "$mu" coredns_passivedns_written_total)
				dropped=$(metric "$mu" coredns_passivedns_dropped_total)
				((written + dropped >= captured)) && break
				sleep 0.1
			done
		fi
		captured=$(metric "$mu" coredns_passivedns_captured_total)
		written=$(metric "$mu" coredns_passivedns_written_total)
		dropped=$(metric "$mu" coredns_passivedns_dropped_total)
		extra="captured=$captured written=$written dropped=$dropped"
		# Inserts that took over a second (retries not included): with the defaults, the
		# queue fills while the writer waits on one, so they explain drops below saturation.
		local inserts fast
		inserts=$(metric "$mu" coredns_passivedns_flush_duration_seconds_count)
		fast=$(metric "$mu" 'coredns_passivedns_flush_duration_seconds_bucket{le="1.024"}')
		extra+=" inserts=$inserts inserts_over_1s=$((inserts - fast))"
	fi
	if [[ $mode == down ]]; then
		# Nothing to flush to: do not wait for passivedns's shutdown flush to give up (10 s).
		kill -KILL "$pid" 2>/dev/null || true
		wait "$pid" 2>/dev/null || true
		forget_pid "$pid"
	else
		stop_pid "$pid"
	fi
	if [[ $config == passivedns* && $mode != down ]]; then
		# The answers dnsperf got before the warm-up query was counted are in ClickHouse too:
		# count rows of this sensor against all responses of this process (wait_dns's queries
		# included) by counting the queries before resp0 as well.
		local rows
		rows=$(chq "SELECT count() FROM passivedns.responses WHERE sensor = '$sensor'")
		# A Null table keeps no rows: the server's acknowledgements count them.
		[[ $config == passivedns-null ]] && rows=$written
		extra+=" rows=$rows rows_expected=$((responses + resp0))"
		if ((rows != responses + resp0)); then
			log "$id: $rows rows in ClickHouse for $((responses + resp0)) responses answered"
			FAILED=1
		fi
	fi
	if [[ -n $tap_pid ]]; then
		sleep 0.5
		stop_pid "$tap_pid"
		local frames tapresp
		read -r frames tapresp <"$rd/tap.txt"
		extra+=" tap_frames=$frames tap_responses=$tapresp"
		((frames > 0)) || { log "$id: the dnstap receiver got nothing"; FAILED=1; }
	fi

	local qps mean completed lost runtime
	qps=$(awk '/Queries per second:/ { print $4 }' "$rd/dnsperf.txt")
	mean=$(awk '/Average Latency \(s\):/ { printf "%.3f", $4 * 1000 }' "$rd/dnsperf.txt")
	completed=$(awk '/Queries completed:/ { print $3 }' "$rd/dnsperf.txt")
	lost=$(awk '/Queries lost:/ { print $3 }' "$rd/dnsperf.txt")
	runtime=$(awk '/Run time \(s\):/ { print $4 }' "$rd/dnsperf.txt")
	[[ -n $qps && -n $completed ]] || { log "$id: no figures in $rd/dnsperf.txt"; cat "$rd/dnsperf.txt" >&2; exit 1; }
	((completed > 0)) || { log "$id: no query was answered"; exit 1; }
	local cpu
	cpu=$(awk -v a="$t0" -v b="$t1" -v t="$CLK_TCK" 'BEGIN { printf "%.2f", (b - a) / t }')
	if [[ $mode == lat ]]; then
		local n p50 p99 vmean
		read -r n p50 p99 vmean < <("$BIN/benchtool" latency "$rd/dnsperf.txt")
		extra+=" rate=$rate p50_ms=$p50 p99_ms=$p99"
	fi
	record "$mode workload=$workload config=$config round=$round qps=$qps mean_ms=$mean completed=$completed lost=$lost runtime=$runtime cpu_s=$cpu responses=$responses hwm_kb=$hwm $extra"
	log "$id: qps=$qps mean=${mean}ms cpu=${cpu}s hwm=${hwm}kB $extra"
	if [[ $mode == prof ]]; then
		go tool pprof -top -nodecount=35 "$BIN/coredns" "$rd/cpu.pprof" >"$rd/cpu.top" 2>/dev/null ||
			{ log "$id: go tool pprof could not read the profile"; FAILED=1; }
		go tool pprof -top -cum -nodecount=60 "$BIN/coredns" "$rd/cpu.pprof" >"$rd/cpu.cum" 2>/dev/null || true
		go tool pprof -sample_index=inuse_space -top -nodecount=25 "$BIN/coredns" "$rd/heap.pprof" >"$rd/heap.top" 2>/dev/null || true
	fi
	# The per-query lines of dnsperf -v are large; keep only the summary.
	if [[ $mode == lat ]]; then grep -v '^> ' "$rd/dnsperf.txt" >"$rd/dnsperf.sum" || true; rm -f "$rd/dnsperf.txt"; fi
}

# Rotating order: round r starts at config r, so no config always runs first or last.
rotated() {
	local r=$1 list=($CONFIGS) out=() i n=${#list[@]}
	for ((i = 0; i < n; i++)); do out+=("${list[((i + r) % n)]}"); done
	echo "${out[@]}"
}

if want overhead; then
	for ((r = 1; r <= ROUNDS; r++)); do
		for w in $WORKLOADS; do
			for c in $(rotated "$r"); do
				run_one sat "$w" "$c" "$r"
			done
		done
	done
fi

# In --tiny, the pieces after the comparison run once with one workload and the configs
# whose code differs; the comparison itself runs every config and workload.
# The spool makes a difference only where ClickHouse cannot keep up: at saturation.
LAT_WORKLOADS=$WORKLOADS LAT_CONFIGS=$(tr ' ' '\n' <<<"$CONFIGS" | grep -vx 'passivedns-spool\|passivedns-null' | tr '\n' ' ' || true)
((tiny)) && LAT_WORKLOADS=whoami LAT_CONFIGS="base passivedns"

# ch_priority NICE: every thread of the ClickHouse server at NICE (threads inherit it).
# The latency runs put it at 19, the lowest: at dnsperf's -10 against ClickHouse's 0, the
# server still took the load generator's core for milliseconds at a time while inserting,
# and dnsperf, waiting for its core, counted that as the resolver's latency (the p50 of
# whoami at half saturation: 0.14 ms for plain CoreDNS, 2.1 ms with passivedns at nice 0,
# 0.16-0.18 ms at 19). The saturation runs leave it at 0, as every run before did.
ch_priority() {
	local pid t
	pid=$(cat "$DIR/ch/clickhouse-server.pid" 2>/dev/null) || return 0
	for t in /proc/"$pid"/task/*; do
		renice -n "$1" -p "${t##*/}" >/dev/null 2>&1 || true
	done
}

if want latency; then
	((CH_STARTED)) && ch_priority 19
	for w in $LAT_WORKLOADS; do
		# Half of the baseline's saturation QPS (median), or a fixed rate without it.
		rate=$({ grep "^sat workload=$w config=base " "$TSV" || true; } | tr ' ' '\n' | sed -n 's/^qps=//p' | sort -n |
			awk '{ q[NR] = $1 } END { printf "%d\n", NR ? q[int((NR + 1) / 2)] / 2 : 0 }')
		[[ -n $RATE_ARG ]] && rate=$RATE_ARG
		((rate > 0)) || rate=$(((tiny) ? 2000 : 20000))
		for ((r = 1; r <= ROUNDS; r++)); do
			for c in $(CONFIGS=$LAT_CONFIGS rotated "$r"); do
				run_one lat "$w" "$c" "$r" "$rate"
			done
		done
	done
	((CH_STARTED)) && ch_priority 0
fi

if want memory; then
	for w in $LAT_WORKLOADS; do
		run_one down "$w" passivedns 1
	done
fi

if want profile; then
	pcfgs=$LAT_CONFIGS
	[[ " $CONFIGS " == *" passivedns-null "* ]] && pcfgs+=" passivedns-null"
	((tiny)) && pcfgs=passivedns
	for w in $LAT_WORKLOADS; do
		for c in $pcfgs; do
			run_one prof "$w" "$c" 1
		done
	done
fi

# ch_cpu: the ClickHouse server's CPU seconds so far (every thread).
ch_cpu() {
	local pid
	pid=$(cat "$DIR/ch/clickhouse-server.pid")
	awk -v tck="$CLK_TCK" '{ printf "%.2f", ($14 + $15) / tck }' "/proc/$pid/stat"
}
# ch_settled: ClickHouse's CPU seconds once the merges an insert set off are done (60 s
# at most), so that the server's cost of the rows is counted whole for both inserters.
ch_settled() {
	local i
	for ((i = 0; i < 600; i++)); do
		(($(chq "SELECT count() FROM system.merges") == 0)) && break
		sleep 0.1
	done
	ch_cpu
}
# Each run writes into a database of its own, created empty, so that neither inserter
# pays for merging the other's parts.
fresh_db() {
	chq "DROP DATABASE IF EXISTS $1"
	"$BIN/benchtool" ingest -dsn "clickhouse://127.0.0.1:$CH_TCP/$1" -n 0 -port "$("$BIN/benchtool" ports 1)" \
		-zone "$DATA/zone.db" -queries "$DATA/queries.txt"
}
# export_native DB ROWS FILE: DB's responses in the order they were answered, as the writer
# sends them, in Native blocks of ROWS rows. Exported in the table's key order, each block
# would hold runs of the same name, which the server sorts and aggregates into its views at
# half the cost.
export_native() {
	chq "SELECT * FROM $1.responses ORDER BY time, time_ms SETTINGS max_block_size = $2 FORMAT Native" >"$3"
}
# insert_native DB ROWS FILE: clickhouse-client inserts FILE into DB.responses from the
# resolver's CPU; the server squashes its blocks to at least ROWS rows, as one insert of the
# writer's is one block.
insert_native() {
	"${PRIO[@]}" taskset -c "$RES_CPU" clickhouse-client --host 127.0.0.1 --port "$CH_TCP" \
		--max_insert_block_size "$2" --min_insert_block_size_rows "$2" --min_insert_block_size_bytes 0 \
		-q "INSERT INTO $1.responses FORMAT Native" <"$3"
}
if want ingest; then
	for b in $BATCHES; do
		sensor=ingest-$b
		fresh_db ingest
		log "ingest: $INGEST_N records, batch $b, CoreDNS on CPU $RES_CPU"
		cpu0=$(ch_settled)
		read -r rows secs push cpu < <("${PRIO[@]}" taskset -c "$RES_CPU" "$BIN/benchtool" ingest -dsn "clickhouse://127.0.0.1:$CH_TCP/ingest" -http "http://127.0.0.1:$CH_HTTP/" -n "$INGEST_N" -batch "$b" \
			-sensor "$sensor" -port "$("$BIN/benchtool" ports 1)" -zone "$DATA/zone.db" -queries "$DATA/queries.txt")
		ch_s=$(awk -v a="$cpu0" -v b="$(ch_settled)" 'BEGIN { printf "%.2f", b - a }')
		got=$(chq "SELECT count() FROM ingest.responses WHERE sensor = '$sensor'")
		if ((got != INGEST_N)); then
			log "ingest: $got rows in ClickHouse for $INGEST_N records"
			FAILED=1
		fi
		record "ingest batch=$b rows=$rows seconds=$secs push_s=$push cpu_s=$cpu ch_cpu_s=$ch_s landed=$got"
		log "ingest batch $b: $(awk -v n="$rows" -v s="$secs" 'BEGIN { printf "%d", n / s }') rows/s, cpu ${cpu}s, ClickHouse cpu ${ch_s}s"
	done
	# The same rows, exported in Native format and inserted by clickhouse-client on the same
	# CPU: the server's own limit for these rows (materialized views included), in blocks of
	# each batch size and in one block of all of them.
	nrows=$(chq "SELECT count() FROM ingest.responses")
	for b in $BATCHES all; do
		fresh_db native
		rows_per=$b
		[[ $b == all ]] && rows_per=$INGEST_N
		export_native ingest "$rows_per" "$DATA/rows.native"
		cpu0=$(ch_settled)
		start=$(date +%s.%N)
		insert_native native "$rows_per" "$DATA/rows.native"
		end=$(date +%s.%N)
		ch_s=$(awk -v a="$cpu0" -v b="$(ch_settled)" 'BEGIN { printf "%.2f", b - a }')
		got=$(chq "SELECT count() FROM native.responses")
		((got == nrows)) || { log "native insert: $got rows of $nrows"; FAILED=1; }
		parts=$(chq "SELECT count() FROM system.parts WHERE database = 'native' AND table = 'responses'")
		record "native batch=$b rows=$nrows seconds=$(awk -v a="$start" -v b="$end" 'BEGIN { printf "%.3f", b - a }') ch_cpu_s=$ch_s parts=$parts bytes=$(stat -c %s "$DATA/rows.native")"
	done
fi

if want queries; then
	# 10 million answers recorded through the real path (capture, queue, writer, insert) into
	# a database of their own, then every kind of history lookup through the HTTP API and as
	# the equivalent SQL.
	QDB=history
	log "queries: recording $QUERY_N answers into database $QDB (both CPUs)"
	read -r rows secs push cpu < <("${PRIO[@]}" "$BIN/benchtool" ingest -dsn "clickhouse://127.0.0.1:$CH_TCP/$QDB" -http "http://127.0.0.1:$CH_HTTP/" -n "$QUERY_N" \
		-batch 100000 -chunk 500000 -sensor history -port "$("$BIN/benchtool" ports 1)" -timeout 20m \
		-zone "$DATA/zone.db" -queries "$DATA/queries.txt")
	got=$(chq "SELECT count() FROM $QDB.responses")
	((got == QUERY_N)) || { log "queries: $got rows in $QDB.responses for $QUERY_N answers"; FAILED=1; }
	record "load rows=$rows seconds=$secs landed=$got"
	log "queries: $rows answers in ${secs}s; merging parts"
	chq "OPTIMIZE TABLE $QDB.responses FINAL" || true
	# Every table a lookup reads, the API's detail and RRset tables too: left in parts, they
	# made the API read four parts where the SQL beside it read one.
	for t in history_by_name history_by_ip history_by_rdata history_detail_by_name history_detail_by_ip \
		history_detail_by_rdata history_rrset; do chq "OPTIMIZE TABLE $QDB.$t FINAL" || true; done
	read -r port api_port < <("$BIN/benchtool" ports 2)
	mkdir -p "$RUNS/api"
	printf '%s\n' ".:$port {" "    bind 127.0.0.1" "    passivedns clickhouse://127.0.0.1:$CH_TCP/$QDB {" "        sensor api" \
		"        http 127.0.0.1:$api_port" "    }" "    whoami" "}" >"$RUNS/api/Corefile"
	"$BIN/coredns" -conf "$RUNS/api/Corefile" >"$RUNS/api/stdout.log" 2>&1 &
	api_pid=$!
	PIDS+=("$api_pid")
	for ((i = 0; i < 100; i++)); do
		curl -sf --max-time 1 -o /dev/null "http://127.0.0.1:$api_port/api/v1/openapi.json" && break
		sleep 0.1
	done
	"$BIN/benchtool" querybench -ch "http://127.0.0.1:$CH_HTTP" -api "http://127.0.0.1:$api_port" -db "$QDB" -n "$QUERY_LOOKUPS" >"$RUNS/api/querybench.txt" ||
		{ cat "$RUNS/api/querybench.txt" >&2; log "querybench failed; see $RUNS/api"; FAILED=1; }
	stop_pid "$api_pid"
	while read -r line; do record "$line"; done <"$RUNS/api/querybench.txt"
	# Bytes on disk per raw and per history row.
	chq "SELECT table, sum(rows), sum(bytes_on_disk) FROM system.parts WHERE database = '$QDB' AND active GROUP BY table ORDER BY table FORMAT TSV" |
		while read -r table prow pbytes; do record "disk table=$table rows=$prow bytes=$pbytes"; done
fi

if want views; then
	# ClickHouse's CPU per row by materialized view. The rows of VIEWS_N answers recorded through
	# the writer, exported in the order answered, are inserted by clickhouse-client in blocks of
	# VIEWS_BATCH into an empty database with the whole schema: with every view, with none (the
	# raw table alone) and with each view alone, the others dropped. The server's CPU time
	# over the insert and the merges it set off, per row.
	fresh_db views_src
	log "views: $VIEWS_N records through the writer, batch $VIEWS_BATCH"
	"${PRIO[@]}" taskset -c "$RES_CPU" "$BIN/benchtool" ingest -dsn "clickhouse://127.0.0.1:$CH_TCP/views_src" -http "http://127.0.0.1:$CH_HTTP/" -n "$VIEWS_N" -batch "$VIEWS_BATCH" \
		-sensor views -port "$("$BIN/benchtool" ports 1)" -zone "$DATA/zone.db" -queries "$DATA/queries.txt" >/dev/null
	export_native views_src "$VIEWS_BATCH" "$DATA/views.native"
	views=$(mat_views views_src)
	[[ -n $views ]] || die "views: the schema has no materialized views"
	for ((r = 1; r <= VIEWS_ROUNDS; r++)); do
		for keep in all none $views; do
			fresh_db views_dst
			if [[ $keep != all ]]; then
				for v in $views; do [[ $v == "$keep" ]] || chq "DROP TABLE views_dst.\`$v\`"; done
			fi
			cpu0=$(ch_settled)
			insert_native views_dst "$VIEWS_BATCH" "$DATA/views.native"
			ch_s=$(awk -v a="$cpu0" -v b="$(ch_settled)" 'BEGIN { printf "%.2f", b - a }')
			got=$(chq "SELECT count() FROM views_dst.responses")
			((got == VIEWS_N)) || { log "views: $got rows of $VIEWS_N"; FAILED=1; }
			record "views keep=$keep round=$r rows=$got ch_cpu_s=$ch_s"
			log "views keep=$keep: ClickHouse cpu ${ch_s}s for $got rows"
		done
	done
	chq "DROP DATABASE IF EXISTS views_src"
	chq "DROP DATABASE IF EXISTS views_dst"
fi

if want capture; then
	# The Go benchmarks share the machine with ClickHouse, which after the 10M-row load may
	# still merge parts on the other core. Wait (two minutes at most) for its merges to end.
	for ((i = 0; i < 120; i++)); do
		merges=$(chq "SELECT count() FROM system.merges" 2>/dev/null) || break
		((merges == 0)) && break
		sleep 1
	done
	log "go test -bench 'Capture|Decode' ${GOBENCH[*]} (ClickHouse merges running: ${merges:-none})"
	go test -run '^$' -bench 'Capture|Decode' -benchmem "${GOBENCH[@]}" . ./internal/record >"$DIR/gobench.txt" ||
		{ cat "$DIR/gobench.txt" >&2; die "the Go benchmarks failed"; }
	grep '^Benchmark' "$DIR/gobench.txt" | while read -r name n ns _ b _ allocs _; do
		record "gobench name=${name%-*} ns_op=$ns b_op=$b allocs_op=$allocs"
	done
fi

stop_pid "$AUTH_PID"

{
	echo "# passivedns benchmark results"
	echo
	echo "$(date -u '+%Y-%m-%d %H:%M UTC'); $NCPU CPUs ($(awk -F': ' '/model name/ { print $2; exit }' /proc/cpuinfo)), $(awk '/MemTotal/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo) RAM; ClickHouse ${CH_VERSION:-not started}; $(dnsperf -h 2>&1 | awk '/^Version/ { print "dnsperf " $2 }'); $(go version | awk '{ print $3 }')"
	echo "load average at the start: $LOAD_START; at the end: $(cut -d' ' -f1-3 /proc/loadavg) (the machine may be shared)"
	echo "rounds=$ROUNDS seconds=$SECS names=$NAMES queries=$QUERIES ingest=$INGEST_N$( ((tiny)) && echo ' (tiny: a check that the pieces run, not figures)')"
	echo
	"$BIN/benchtool" summarize "$TSV"
} >"$DIR/results.md"
cat "$DIR/results.md"
if ((FAILED)); then
	die "some checks failed (see above); these figures are not a result"
fi
exit 0
}
