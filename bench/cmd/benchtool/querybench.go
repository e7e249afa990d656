package main

import (
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/netip"
	"net/url"
	"slices"
	"strings"
	"time"
)

// A lookup kind: how to find sample values in ClickHouse, the API path for a value, and
// the SQL that answers the same question straight from the tables (the query the API
// runs, as query.go builds it, with the values inlined).
type lookupKind struct {
	name   string
	sample string // SQL returning one value per line
	api    func(v string) string
	sql    func(db, v string) string
}

const merged = "toUInt32(minMerge(time_first)) AS tf, toUInt32(maxMerge(time_last)) AS tl, countMerge(count) AS n"

func quote(s string) string { return "'" + strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(s) + "'" }

func byName(db, cond string) string {
	return "SELECT rrname, rrtype, rdata, " + merged + " FROM " + db + ".history_by_name WHERE " + cond +
		" GROUP BY rrname, rrtype, rdata ORDER BY reverse(rrname), rrtype, rdata LIMIT 1000"
}

func ipv6(ip string) string {
	a := netip.MustParseAddr(ip)
	if a.Is4() {
		return "IPv4ToIPv6(IPv4StringToNum(" + quote(ip) + "))"
	}
	return "IPv6StringToNum(" + quote(ip) + ")"
}

func byIP(db, cond string) string {
	return "SELECT rrname, rrtype, IPv6NumToString(ip) AS ipt, " + merged + " FROM " + db + ".history_by_ip WHERE " + cond +
		" GROUP BY ip, rrname, rrtype ORDER BY ip, rrname, rrtype LIMIT 1000"
}

var lookupKinds = []lookupKind{
	{
		name:   "name",
		sample: "SELECT DISTINCT rrname FROM %s.history_by_name",
		api:    func(v string) string { return "/api/v1/name/" + v },
		sql:    func(db, v string) string { return byName(db, "reverse(rrname) = reverse("+quote(v)+")") },
	},
	{
		name:   "name *.suffix",
		sample: "SELECT DISTINCT substring(rrname, position(rrname, '.') + 1) FROM %s.history_by_name",
		api:    func(v string) string { return "/api/v1/name/*." + v },
		sql: func(db, v string) string {
			return byName(db, "startsWith(reverse(rrname), reverse("+quote("."+v)+"))")
		},
	},
	{
		name:   "ip",
		sample: "SELECT DISTINCT replaceOne(IPv6NumToString(ip), '::ffff:', '') FROM %s.history_by_ip",
		api:    func(v string) string { return "/api/v1/ip/" + v },
		sql:    func(db, v string) string { return byIP(db, "ip = "+ipv6(v)) },
	},
	{
		name:   "ip /24",
		sample: "SELECT DISTINCT replaceOne(IPv6NumToString(ip), '::ffff:', '') FROM %s.history_by_ip WHERE startsWith(IPv6NumToString(ip), '::ffff:')",
		api: func(v string) string {
			p, _ := netip.MustParseAddr(v).Prefix(24)
			return "/api/v1/ip/" + p.String()
		},
		sql: func(db, v string) string {
			p, _ := netip.MustParseAddr(v).Prefix(24)
			lo := p.Addr()
			hi := lo.As4()
			hi[3] = 255
			return byIP(db, "ip >= "+ipv6(lo.String())+" AND ip <= "+ipv6(netip.AddrFrom4(hi).String()))
		},
	},
	{
		name:   "rdata",
		sample: "SELECT DISTINCT target FROM %s.history_by_rdata",
		api:    func(v string) string { return "/api/v1/rdata/" + v },
		sql: func(db, v string) string {
			return "SELECT rrname, rrtype, rdata, target, " + merged + " FROM " + db + ".history_by_rdata WHERE reverse(target) = reverse(" + quote(v) +
				") GROUP BY target, rrtype, rrname, rdata ORDER BY reverse(target), rrtype, rrname, rdata LIMIT 1000"
		},
	},
	{
		name:   "negative",
		sample: "SELECT DISTINCT qname FROM %s.responses WHERE rcode = 'NXDOMAIN'",
		api:    func(v string) string { return "/api/v1/negative/" + v },
		sql: func(db, v string) string {
			return "SELECT qname, qtype, rcode, toUInt32(min(time)) AS tf, toUInt32(max(time)) AS tl, count() AS n FROM " + db +
				".responses WHERE reverse(qname) = reverse(" + quote(v) + ") AND (rcode = 'NXDOMAIN' OR rcode = 'NOERROR' AND length(answer.name) = 0)" +
				" GROUP BY qname, qtype, rcode ORDER BY reverse(qname), qtype, rcode LIMIT 1000"
		},
	},
	{
		name:   "COF /pdns/query",
		sample: "SELECT DISTINCT rrname FROM %s.history_by_name",
		api:    func(v string) string { return "/pdns/query/" + v },
		sql:    func(db, v string) string { return byName(db, "reverse(rrname) = reverse("+quote(v)+")") },
	},
	{
		name:   "DNSDB rrset/name",
		sample: "SELECT DISTINCT rrname FROM %s.history_by_name",
		api:    func(v string) string { return "/dnsdb/v2/lookup/rrset/name/" + v },
		sql:    func(db, v string) string { return byName(db, "reverse(rrname) = reverse("+quote(v)+")") },
	},
}

// querybench times history lookups of every kind through the HTTP API and as SQL sent to
// ClickHouse's HTTP interface, one at a time, on values sampled from the tables. It prints
// one "query kind=... via=api|sql ..." line per kind and interface.
func querybench(args []string) error {
	fs := flag.NewFlagSet("querybench", flag.ExitOnError)
	ch := fs.String("ch", "", "ClickHouse HTTP interface, http://127.0.0.1:PORT")
	api := fs.String("api", "", "passivedns HTTP API, http://127.0.0.1:PORT (empty: SQL only)")
	db := fs.String("db", "passivedns", "database")
	n := fs.Int("n", 200, "lookups per kind and interface")
	seed := fs.Int("seed", 1, "sampling seed")
	fs.Parse(args)
	if *ch == "" {
		return fmt.Errorf("-ch is required")
	}
	// Idle connections are closed before ClickHouse's keep_alive_timeout (3 s here) closes
	// them: a query sent as the server closes its connection fails, and a POST is not retried.
	client := &http.Client{Timeout: 60 * time.Second, Transport: &http.Transport{IdleConnTimeout: 2 * time.Second}}
	chSQL := func(q string) (string, error) {
		resp, err := client.Post(*ch+"/?database="+url.QueryEscape(*db), "text/plain", strings.NewReader(q))
		if err != nil {
			return "", err
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		if resp.StatusCode != http.StatusOK {
			return "", fmt.Errorf("ClickHouse: %s: %s", resp.Status, b)
		}
		return string(b), err
	}
	for _, k := range lookupKinds {
		out, err := chSQL(fmt.Sprintf(k.sample, *db) + fmt.Sprintf(" ORDER BY cityHash64(1, %d) LIMIT %d FORMAT TSV", *seed, *n))
		if err != nil {
			return fmt.Errorf("%s: sampling: %v", k.name, err)
		}
		values := strings.Fields(out)
		if len(values) == 0 {
			return fmt.Errorf("%s: no values to look up in %s", k.name, *db)
		}
		for i := 0; len(values) < *n; i++ { // few distinct values (a suffix): repeat them
			values = append(values, values[i])
		}
		sqlLat, sqlRows, err := timeAll(values, func(v string) (int, error) {
			body, err := chSQL(k.sql(*db, v) + " FORMAT TSV")
			return strings.Count(body, "\n"), err
		})
		if err != nil {
			return fmt.Errorf("%s: SQL: %v", k.name, err)
		}
		printLatency(k.name, "sql", sqlLat, sqlRows)
		if *api == "" {
			continue
		}
		apiLat, apiRows, err := timeAll(values, func(v string) (int, error) {
			resp, err := client.Get(*api + k.api(v))
			if err != nil {
				return 0, err
			}
			defer resp.Body.Close()
			b, err := io.ReadAll(resp.Body)
			if resp.StatusCode != http.StatusOK {
				return 0, fmt.Errorf("GET %s: %s: %.200s", k.api(v), resp.Status, b)
			}
			return strings.Count(string(b), "\n"), err
		})
		if err != nil {
			return fmt.Errorf("%s: API: %v", k.name, err)
		}
		printLatency(k.name, "api", apiLat, apiRows)
	}
	return nil
}

// timeAll runs f on every value after a warm-up on the first few, and returns the
// latencies in seconds and the mean number of result lines.
func timeAll(values []string, f func(string) (int, error)) ([]float64, float64, error) {
	for _, v := range values[:min(5, len(values))] {
		if _, err := f(v); err != nil {
			return nil, 0, err
		}
	}
	var lat []float64
	lines := 0
	for _, v := range values {
		start := time.Now()
		l, err := f(v)
		if err != nil {
			return nil, 0, err
		}
		lat = append(lat, time.Since(start).Seconds())
		lines += l
	}
	return lat, float64(lines) / float64(len(values)), nil
}

func printLatency(kind, via string, lat []float64, rows float64) {
	s := slices.Clone(lat)
	slices.Sort(s)
	fmt.Printf("query kind=%s via=%s n=%d p50_ms=%.2f p99_ms=%.2f lines=%.1f\n",
		strings.ReplaceAll(kind, " ", "_"), via, len(s), 1000*quantile(s, 0.5), 1000*quantile(s, 0.99), rows)
}
