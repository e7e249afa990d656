package passivedns

import (
	"net"
	"net/url"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/coredns/caddy"
)

// Inserts go to ClickHouse's HTTP interface as Native blocks (internal/nativeblock): the
// fastest path every version takes. A stock server listens for the native protocol on
// 9000 and for HTTP on 8123, so a DSN naming one host on 9000 implies its HTTP interface.
// Any other DSN (another port, several hosts, TLS) keeps inserts on clickhouse-go unless
// clickhouse_http names the interface.
const (
	stockNativePort = "9000"
	stockHTTPPort   = "8123"
)

// parseClickHouseHTTP reads `clickhouse_http URL|off`.
func parseClickHouseHTTP(c *caddy.Controller, cfg *config, v string) error {
	cfg.httpSet = true
	if v == "off" {
		cfg.httpURL = ""
		return nil
	}
	u, err := url.Parse(v)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return c.Errf("clickhouse_http: want the URL of ClickHouse's HTTP interface, such as http://127.0.0.1:8123/, or off")
	}
	if u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		return c.Errf("clickhouse_http %s: no user, query or fragment (the DSN's user and password are used)", u.Redacted())
	}
	cfg.httpURL = u.String()
	return nil
}

// defaultHTTP is the HTTP interface a DSN implies, or "" (see above).
func defaultHTTP(opts *clickhouse.Options) string {
	if opts == nil || len(opts.Addr) != 1 || opts.TLS != nil {
		return ""
	}
	host, port, err := net.SplitHostPort(opts.Addr[0])
	if err != nil || port != stockNativePort {
		return ""
	}
	return (&url.URL{Scheme: "http", Host: net.JoinHostPort(host, stockHTTPPort), Path: "/"}).String()
}
