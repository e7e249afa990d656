#!/usr/bin/env bash
# run.sh: what `make run` does. Installs what is missing (scripts/deps.sh --no-chdb
# --no-browser), starts a private ClickHouse with its data in .run/clickhouse, builds ./coredns
# with passivedns, and runs it with examples/Corefile: DNS on 127.0.0.1:1053, the demo zone
# example.org served locally, everything else forwarded to the resolvers of /etc/resolv.conf,
# every answer recorded into the ClickHouse database passivedns (a few demo answers at once),
# and the history API with the analyst's page on http://127.0.0.1:8053/. Ctrl-C stops CoreDNS
# (which writes what it still holds), then ClickHouse. The data stays in .run/ for the next run.
#
#   scripts/run.sh
#
# Ports, when the defaults are taken: DNS_PORT (1053), CH_TCP_PORT (19000), CH_HTTP_PORT
# (18123), HEALTH_PORT (8080), READY_PORT (8181), METRICS_PORT (9153), API_PORT (8053). The
# Corefile actually run is .run/Corefile: examples/Corefile with these ports.
set -euo pipefail

# shellcheck source=scripts/process.sh
source "$(dirname "${BASH_SOURCE[0]}")/process.sh"

readonly READY_TIMEOUT=30 # seconds for CoreDNS to report ready
readonly STOP_TIMEOUT=15  # seconds after SIGTERM before SIGKILL (passivedns flushes in 10)

DNS_PORT=${DNS_PORT:-1053}
CH_TCP_PORT=${CH_TCP_PORT:-19000}
CH_HTTP_PORT=${CH_HTTP_PORT:-18123}
HEALTH_PORT=${HEALTH_PORT:-8080}
READY_PORT=${READY_PORT:-8181}
METRICS_PORT=${METRICS_PORT:-9153}
API_PORT=${API_PORT:-8053}

case ${1:-} in
"") ;;
-h | --help)
	sed -n '2,14s/^# \{0,1\}//p' "$0"
	exit 0
	;;
*)
	echo "run.sh: no arguments expected (try --help)" >&2
	exit 2
	;;
esac
for p in "$DNS_PORT" "$CH_TCP_PORT" "$CH_HTTP_PORT" "$HEALTH_PORT" "$READY_PORT" "$METRICS_PORT" "$API_PORT"; do
	[[ $p =~ ^[0-9]+$ ]] || {
		echo "run.sh: ports must be numbers, got '$p'" >&2
		exit 2
	}
done

root=$(cd "$(dirname "$0")/.." && pwd -P)
cd "$root"
readonly state=$root/.run
readonly chdir=$state/clickhouse

log() { echo "run.sh: $*" >&2; }

# Go is at /usr/local/go on Debian machines set up by hand, not always on PATH.
command -v go >/dev/null || PATH=/usr/local/go/bin:$PATH
command -v go >/dev/null || {
	log "go not found (install Go, or put it on PATH)"
	exit 1
}

dns_pid=
ch_started=0
stopping=0

# stop: CoreDNS first, so that its last answers reach ClickHouse, then ClickHouse.
stop() {
	((stopping == 0)) || return 0
	stopping=1
	if [[ -n $dns_pid ]] && alive "$dns_pid"; then
		log "stopping CoreDNS (pid $dns_pid)"
		kill -TERM "$dns_pid" 2>/dev/null || true
		local i
		for ((i = 0; i < STOP_TIMEOUT * 10; i++)); do
			alive "$dns_pid" || break
			sleep 0.1
		done
		if alive "$dns_pid"; then
			log "CoreDNS ignored SIGTERM for ${STOP_TIMEOUT}s, sending SIGKILL"
			kill -KILL "$dns_pid" 2>/dev/null || true
		fi
		wait "$dns_pid" 2>/dev/null || true
	fi
	if ((ch_started)); then
		bash scripts/clickhouse.sh stop "$chdir" || true
	fi
}
trap 'stop; exit 130' INT
trap 'stop; exit 143' TERM
trap stop EXIT

bash scripts/deps.sh --no-chdb --no-browser

mkdir -p "$state"
# Before starting anything: a taken DNS port would only show once ClickHouse is up.
if ss -Hlnu "sport = :$DNS_PORT" 2>/dev/null | grep -q . || ss -Hlnt "sport = :$DNS_PORT" 2>/dev/null | grep -q .; then
	log "port $DNS_PORT is taken (ss -lntup | grep :$DNS_PORT); choose another with DNS_PORT=..."
	exit 1
fi
if ss -Hlnt "sport = :$API_PORT" 2>/dev/null | grep -q .; then
	log "port $API_PORT is taken (ss -lntp | grep :$API_PORT); choose another with API_PORT=..."
	exit 1
fi

ch_started=1
bash scripts/clickhouse.sh start "$chdir" "$CH_TCP_PORT" "$CH_HTTP_PORT"

log "building ./coredns"
go build -o coredns ./cmd/coredns

sed -e "s/^\.:1053 {/.:$DNS_PORT {/" \
	-e "s#clickhouse://127\.0\.0\.1:19000/#clickhouse://127.0.0.1:$CH_TCP_PORT/#" \
	-e "s/health 127\.0\.0\.1:8080/health 127.0.0.1:$HEALTH_PORT/" \
	-e "s/ready 127\.0\.0\.1:8181/ready 127.0.0.1:$READY_PORT/" \
	-e "s/prometheus 127\.0\.0\.1:9153/prometheus 127.0.0.1:$METRICS_PORT/" \
	-e "s/http 127\.0\.0\.1:8053/http 127.0.0.1:$API_PORT/" \
	examples/Corefile >"$state/Corefile"

# From examples/, where the Corefile's zone file is. setsid: a Ctrl-C in the terminal reaches
# this script only, and the trap stops CoreDNS and then ClickHouse in that order. As a
# background job of a non-interactive shell, setsid execs in place, so $! is CoreDNS's pid.
(cd examples && exec setsid "$root/coredns" -conf "$state/Corefile") </dev/null &
dns_pid=$!

ready=0
for ((i = 0; i < READY_TIMEOUT * 10; i++)); do
	if curl -fs --max-time 1 "http://127.0.0.1:$READY_PORT/ready" >/dev/null 2>&1; then
		ready=1
		break
	fi
	alive "$dns_pid" || break
	sleep 0.1
done
if ((ready == 0)); then
	if alive "$dns_pid"; then
		log "CoreDNS did not report ready on 127.0.0.1:$READY_PORT within ${READY_TIMEOUT}s"
	else
		wait "$dns_pid" && rc=0 || rc=$?
		log "CoreDNS exited during start (status $rc); its output is above"
		dns_pid=
	fi
	exit 1
fi

# A few answers of the demo zone, so that the page and the API example below show something
# at once; recorded within a second (flush 1s).
for question in "www.example.org A" "www.example.org AAAA" "docs.example.org A" "example.org A" "api.example.org A" \
	"example.org MX" "example.org NS" "mail.example.org A" "nothing-here.example.org A"; do
	# shellcheck disable=SC2086 # name and type are two arguments
	dig @127.0.0.1 -p "$DNS_PORT" +tries=1 +time=2 $question >/dev/null 2>&1 || log "dig $question failed"
done

api=http://127.0.0.1:$API_PORT
q="clickhouse-client --port $CH_TCP_PORT --query"
cat <<EOF

passivedns demo is running; Ctrl-C stops CoreDNS, then ClickHouse.
  CoreDNS     127.0.0.1:$DNS_PORT (pid $dns_pid), Corefile examples/Corefile, zone examples/db.example.org
              metrics http://127.0.0.1:$METRICS_PORT/metrics
  ClickHouse  127.0.0.1:$CH_TCP_PORT (native), 127.0.0.1:$CH_HTTP_PORT (HTTP), data in .run/clickhouse
  History     $api/   <- the analyst's page: open it in a browser
              curl '$api/api/v1/name/*.example.org?rrtype=A'

Ask something, from another terminal:
  dig @127.0.0.1 -p $DNS_PORT docs.example.org
  dig @127.0.0.1 -p $DNS_PORT example.org MX +tcp
  dig @127.0.0.1 -p $DNS_PORT nothing-here.example.org

See what was recorded (rows arrive within about a second):
  $q "SELECT time, IPv6NumToString(client) AS client, transport, qname, qtype, rcode, answer.data FROM passivedns.responses ORDER BY time DESC, time_ms DESC LIMIT 10"
  $q "SELECT * FROM passivedns.history ORDER BY time_last DESC LIMIT 10"
  $q "SELECT IPv6NumToString(ip) AS ip, rrname, rrtype, countMerge(count) AS seen FROM passivedns.history_by_ip GROUP BY ip, rrname, rrtype ORDER BY ip"

EOF

# Until Ctrl-C (the trap) or until CoreDNS exits on its own.
wait "$dns_pid" && rc=0 || rc=$?
if ((stopping == 0)); then
	log "CoreDNS exited (status $rc)"
	dns_pid=
	exit "$rc"
fi
