package passivedns

import (
	"crypto/sha256"
	"net"

	"github.com/passivedns/passivedns/internal/chsink"
	"github.com/passivedns/passivedns/internal/history"
	"github.com/passivedns/passivedns/internal/httpapi"
	"github.com/passivedns/passivedns/internal/record"
	"github.com/passivedns/passivedns/internal/spool"
	"github.com/passivedns/passivedns/internal/watch"

	"errors"
	"fmt"
	"net/url"
	"os"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/coredns/caddy"
	"github.com/coredns/coredns/core/dnsserver"
	"github.com/coredns/coredns/plugin"
	clog "github.com/coredns/coredns/plugin/pkg/log"

	"github.com/ClickHouse/clickhouse-go/v2"
)

var log = clog.NewWithPlugin("passivedns")

func init() { plugin.Register("passivedns", setup) }

// Defaults, chosen from the benchmarks (BENCHMARKS.md): ClickHouse prefers about one
// insert per second per table with 10k-100k rows each, and each insert costs it about as
// much CPU as 10,000 rows do; a batch's memory (about 0.33 KiB a row) bounds it from above.
const (
	defaultDSN   = "clickhouse://127.0.0.1:9000/passivedns"
	defaultBatch = 25000 // or queue, when that is smaller
	defaultFlush = time.Second
	defaultQueue = 50000
	defaultDB    = "passivedns"

	maxBatch = 1000000  // larger inserts only add latency and memory on the server
	maxQueue = 10000000 // about 11 GiB at the per-record byte budget below
	minFlush = 10 * time.Millisecond
	maxFlush = 10 * time.Minute // beyond this a crash loses too much unspooled history

	minSpoolSize = 64 << 10 // room for at least a few records

	// TTL arithmetic is done on DateTime, which ends in 2106: a longer retention would wrap
	// around and expire everything at once.
	maxRetention = 10 * 365 * 24 * time.Hour
)

type config struct {
	dsn        string
	options    *clickhouse.Options // parsed dsn
	database   string
	batch      int
	flush      time.Duration
	queue      int
	sensor     string
	clients    record.ClientsMode
	schema     bool // auto: create and upgrade tables at startup
	retention  time.Duration
	cluster    string // remote_servers cluster of the tables; empty: one server
	spoolDir   string // empty: no spool
	spoolSize  int64
	api        httpapi.Config // history API; no address: no listener
	apiTimeout time.Duration  // of each API query; 0: history.QueryTimeout (tests shorten it)
	watches    []watch.Watch  // watch KIND VALUE...
	webhook    string         // webhook URL: where first sightings of watched tuples go
	httpURL    string         // ClickHouse's HTTP interface for inserts; empty: clickhouse-go
	httpSet    bool           // clickhouse_http was given (else httpURL follows the DSN)
}

func setup(c *caddy.Controller) error {
	cfg, err := parse(c)
	if err != nil {
		return plugin.Error("passivedns", err)
	}
	p := &PassiveDNS{cfg: cfg}
	p.writer = newWriter(cfg, newSink(cfg))
	if len(cfg.watches) > 0 {
		p.writer.watch = newWatcher(cfg)
		c.OnStartup(p.writer.watch.Start)
	}

	c.OnStartup(p.writer.start)
	c.OnShutdown(p.writer.stop)
	if p.writer.watch != nil {
		c.OnShutdown(p.writer.watch.Stop) // after the writer's last batches
	}

	if cfg.api.Addr != "" {
		api := newAPI(cfg, cfg.api)
		api.Handle("GET /api/v1/status", p.writer, true)
		c.OnStartup(api.OnStartup)
		c.OnRestart(api.OnShutdown) // before the new instance binds the address
		c.OnRestartFailed(api.OnStartup)
		c.OnFinalShutdown(api.OnShutdown)
	}

	dnsserver.GetConfig(c).AddPlugin(func(next plugin.Handler) plugin.Handler {
		p.Next = next
		return p
	})
	return nil
}

// newSink is the ClickHouse sink of cfg's writer.
func newSink(cfg config) *chsink.Sink { return chsink.New(sinkOptions(cfg)) }

func sinkOptions(cfg config) chsink.Options {
	return chsink.Options{ClickHouse: cfg.options, Database: cfg.database, AutoSchema: cfg.schema, Retention: cfg.retention, Cluster: cfg.cluster, Log: log,
		HTTP: cfg.httpURL, Unsure: func(kind string, rows int) { unsureCount.WithLabelValues(kind).Add(float64(rows)) }}
}

// newWatcher is the watchlist of cfg, with its own connection for the lookups.
func newWatcher(cfg config) *watch.Watcher {
	return watch.New(watch.Options{Watches: cfg.watches, URL: cfg.webhook, ClickHouse: cfg.options,
		Database: cfg.database, Sensor: cfg.sensor, Log: log})
}

// newAPI is the history API of cfg, with its own connection pool.
func newAPI(cfg config, hc httpapi.Config) *httpapi.Server {
	db := history.New(history.Options{ClickHouse: cfg.options, Database: cfg.database, MaxConcurrent: httpapi.MaxConcurrent, QueryTimeout: cfg.apiTimeout})

	hc.Sensor = cfg.sensor
	return httpapi.New(hc, db, log)
}

var identifier = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

func parse(c *caddy.Controller) (config, error) {
	cfg := config{
		dsn:    defaultDSN,
		flush:  defaultFlush,
		queue:  defaultQueue,
		schema: true,
	}
	i := 0
	for c.Next() {
		if i > 0 {
			return cfg, plugin.ErrOnce
		}
		i++
		args := c.RemainingArgs()
		switch len(args) {
		case 0:
		case 1:
			if err := setDSN(c, &cfg, args[0]); err != nil {
				return cfg, err
			}
		default:
			return cfg, c.ArgErr()
		}
		for c.NextBlock() {
			if err := parseProperty(c, &cfg); err != nil {
				return cfg, err
			}
		}
	}
	if cfg.options == nil {
		if err := setDSN(c, &cfg, cfg.dsn); err != nil {
			return cfg, err
		}
	}
	if !cfg.httpSet {
		cfg.httpURL = defaultHTTP(cfg.options)
	}
	if cfg.batch == 0 { // not given: a smaller queue makes the batch smaller too
		cfg.batch = min(defaultBatch, cfg.queue)
	}
	if cfg.batch > cfg.queue {
		return cfg, c.Errf("batch %d is larger than queue %d: a full batch could never form", cfg.batch, cfg.queue)
	}
	if cfg.sensor == "" {
		h, err := os.Hostname()
		if err != nil || h == "" {
			return cfg, c.Errf("no sensor given and the host name is unknown: %v", err)
		}
		cfg.sensor = h
	}
	if len(cfg.watches) > 0 && cfg.webhook == "" {
		return cfg, c.Err("watch needs webhook URL: where to send first sightings")
	}
	if cfg.webhook != "" && len(cfg.watches) == 0 {
		return cfg, c.Err("webhook has nothing to send without watch")
	}
	cfg.api.Clients = map[record.ClientsMode]string{record.ClientsOff: "off", record.ClientsPrefix: "prefix", record.ClientsFull: "full"}[cfg.clients]
	if err := cfg.api.Check(); err != nil {
		return cfg, c.Err(err.Error())
	}
	return cfg, nil
}

func parseProperty(c *caddy.Controller, cfg *config) error {
	prop := c.Val()
	args := c.RemainingArgs()
	if prop == "spool" {
		return parseSpool(c, cfg, args)
	}
	if prop == "watch" || prop == "webhook" {
		return parseWatch(c, cfg, prop, args)
	}
	if prop == "http" || prop == "api_key" || prop == "clients_api_key" || prop == "http_tls" {
		return parseHTTPProperty(c, &cfg.api, prop, args)
	}
	if len(args) != 1 {
		return c.Errf("property '%s' takes exactly one value, got %d", prop, len(args))
	}
	v := args[0]
	var err error
	switch prop {
	case "dsn":
		return setDSN(c, cfg, v)
	case "clickhouse_http":
		return parseClickHouseHTTP(c, cfg, v)
	case "batch":
		cfg.batch, err = parseCount(v, 1, maxBatch)
	case "queue":
		cfg.queue, err = parseCount(v, 1, maxQueue)
	case "flush":
		cfg.flush, err = parseDuration(v, minFlush, maxFlush)
	case "retention":
		if v == "off" {
			cfg.retention = 0
			break
		}
		cfg.retention, err = parseDuration(v, time.Hour, maxRetention)
		if err == nil && cfg.retention%time.Hour != 0 {
			err = errors.New("must be a whole number of hours")
		}
	case "cluster":
		if !identifier.MatchString(v) {
			err = errors.New("must be the name of a cluster of the servers' remote_servers: letters, digits and underscores")
		}
		cfg.cluster = v
	case "sensor":
		if v == "" {
			err = errors.New("must not be empty")
		}
		cfg.sensor = v
	case "clients":
		switch v {
		case "off":
			cfg.clients = record.ClientsOff
		case "prefix":
			cfg.clients = record.ClientsPrefix
		case "full":
			cfg.clients = record.ClientsFull
		default:
			err = errors.New("must be off, prefix or full")
		}
	case "schema":
		switch v {
		case "auto":
			cfg.schema = true
		case "off":
			cfg.schema = false
		default:
			err = errors.New("must be auto or off")
		}
	default:
		return c.Errf("unknown property '%s'", prop)
	}
	if err != nil {
		return c.Errf("invalid %s '%s': %v", prop, v, err)
	}
	return nil
}

// parseSpool reads "spool DIRECTORY [MAXSIZE]".
func parseSpool(c *caddy.Controller, cfg *config, args []string) error {
	if len(args) < 1 || len(args) > 2 {
		return c.Errf("property 'spool' takes a directory and an optional size, got %d values", len(args))
	}
	cfg.spoolDir, cfg.spoolSize = args[0], spool.DefaultSize
	if len(args) == 2 {
		n, err := parseSize(args[1])
		if err != nil {
			return c.Errf("invalid spool size '%s': %v", args[1], err)
		}
		cfg.spoolSize = n
	}
	return nil
}

// parseSize reads a byte count with an optional unit: 500MiB, 2GiB, 1G (powers of 1024).
func parseSize(s string) (int64, error) {
	units := []struct {
		suffix string
		mult   int64
	}{{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}, {"TiB", 1 << 40}, {"K", 1 << 10}, {"M", 1 << 20}, {"G", 1 << 30}, {"T", 1 << 40}, {"B", 1}}
	mult := int64(1)
	for _, u := range units {
		if strings.HasSuffix(s, u.suffix) {
			s, mult = strings.TrimSuffix(s, u.suffix), u.mult
			break
		}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n <= 0 {
		return 0, errors.New("not a positive size such as 1GiB or 500MiB")
	}
	if n > (1<<62)/mult {
		return 0, errors.New("too large")
	}
	if n*mult < minSpoolSize {
		return 0, fmt.Errorf("must be at least %d bytes", minSpoolSize)
	}
	return n * mult, nil
}

// setDSN validates the DSN where it is given, so the error names that line.
func setDSN(c *caddy.Controller, cfg *config, dsn string) error {
	opts, db, err := parseDSN(dsn)
	if err != nil {
		return c.Errf("invalid DSN %s: %v", redactDSN(dsn), err)
	}
	cfg.dsn, cfg.options, cfg.database = dsn, opts, db
	return nil
}

func parseCount(s string, lo, hi int) (int, error) {
	n, err := strconv.Atoi(s)
	if err != nil {
		return 0, errors.New("not a whole number")
	}
	if n < lo || n > hi {
		return 0, fmt.Errorf("must be between %d and %d", lo, hi)
	}
	return n, nil
}

func parseDuration(s string, lo, hi time.Duration) (time.Duration, error) {
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, errors.New("not a duration such as 1s or 500ms")
	}
	if d < lo || d > hi {
		return 0, fmt.Errorf("must be between %s and %s", lo, hi)
	}
	return d, nil
}

// parseDSN validates a clickhouse-go DSN and takes the database out of it: passivedns
// connects without a default database so that it can create that database itself.
func parseDSN(dsn string) (*clickhouse.Options, string, error) {
	u, err := url.Parse(dsn)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // url.Error repeats the whole DSN, password included
		}
		return nil, "", err
	}
	if u.Scheme != "clickhouse" && u.Scheme != "tcp" {
		return nil, "", fmt.Errorf("scheme must be clickhouse:// (the native protocol), not %q", u.Scheme)
	}
	if u.Host == "" {
		return nil, "", errors.New("no host")
	}
	opts, err := clickhouse.ParseDSN(dsn)
	if err != nil {
		return nil, "", errors.New(redactString(err.Error(), u))
	}
	db := opts.Auth.Database
	if db == "" {
		db = defaultDB
	}
	if !identifier.MatchString(db) {
		return nil, "", fmt.Errorf("database name %q must be letters, digits and underscores", db)
	}
	opts.Auth.Database = ""
	return opts, db, nil
}

// redactDSN hides the password of a DSN so it can be shown in logs and errors.
func redactDSN(dsn string) string {
	if u, err := url.Parse(dsn); err == nil {
		return u.Redacted()
	}
	// Unparsable: hide whatever stands between "user:" and the last "@" of the authority.
	scheme, rest, ok := strings.Cut(dsn, "://")
	if !ok {
		return "(unparsable DSN)"
	}
	auth, path, _ := strings.Cut(rest, "/")
	if at := strings.LastIndex(auth, "@"); at >= 0 {
		if user, _, hasPw := strings.Cut(auth[:at], ":"); hasPw {
			auth = user + ":xxxxx" + auth[at:]
		}
	}
	if path != "" {
		path = "/" + path
	}
	return scheme + "://" + auth + path
}

func redactString(s string, u *url.URL) string {
	if u == nil || u.User == nil {
		return s
	}
	if pw, ok := u.User.Password(); ok && pw != "" {
		s = strings.ReplaceAll(s, pw, "xxxxx")
	}
	return s
}

// parseHTTPProperty parses http ADDRESS, api_key KEY..., clients_api_key KEY... and
// http_tls CERT KEY.
func parseHTTPProperty(c *caddy.Controller, hc *httpapi.Config, prop string, args []string) error {
	switch prop {
	case "http":
		if len(args) != 1 {
			return c.Errf("property 'http' takes exactly one address, got %d", len(args))
		}
		if _, port, err := net.SplitHostPort(args[0]); err != nil || port == "" {
			return c.Errf("invalid http '%s': not HOST:PORT", args[0])
		}
		hc.Addr = args[0]
	case "api_key":
		keys, err := parseKeys(c, prop, args)
		if err != nil {
			return err
		}
		hc.Keys = append(hc.Keys, keys...)
	case "clients_api_key":
		keys, err := parseKeys(c, prop, args)
		if err != nil {
			return err
		}
		hc.ClientKeys = append(hc.ClientKeys, keys...)
	case "http_tls":
		if len(args) != 2 {
			return c.Errf("property 'http_tls' takes CERT KEY, got %d values", len(args))
		}
		hc.CertFile, hc.KeyFile = args[0], args[1]
	}
	return nil
}

// parseKeys reads the keys of api_key or clients_api_key KEY...: their SHA-256, so the
// keys themselves are never kept or echoed.
func parseKeys(c *caddy.Controller, prop string, args []string) ([][32]byte, error) {
	if len(args) == 0 {
		return nil, c.Errf("property '%s' needs at least one key", prop)
	}
	var keys [][32]byte
	for i, k := range args {
		if k == "" {
			// Never echo keys: say which one.
			return nil, c.Errf("%s %d is empty (is its environment variable set?)", prop, i+1)
		}
		if strings.HasPrefix(k, "{$") && strings.HasSuffix(k, "}") {
			return nil, c.Errf("%s %d is an environment placeholder that was not replaced (is the variable set?)", prop, i+1)
		}
		if len(k) < 8 {
			return nil, c.Errf("%s %d is shorter than 8 characters", prop, i+1)
		}
		keys = append(keys, sha256.Sum256([]byte(k)))
	}
	return keys, nil
}

// parseWatch reads "watch name|ip|rdata VALUE..." (repeatable) and "webhook URL".
func parseWatch(c *caddy.Controller, cfg *config, prop string, args []string) error {
	if prop == "webhook" {
		if len(args) != 1 {
			return c.Errf("property 'webhook' takes exactly one URL, got %d", len(args))
		}
		u, err := url.Parse(args[0])
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return c.Errf("invalid webhook '%s': not an http:// or https:// URL", redactURL(args[0]))
		}
		cfg.webhook = args[0]
		return nil
	}
	if len(args) < 2 {
		return c.Err("property 'watch' takes a kind (name, ip or rdata) and at least one value")
	}
	for _, v := range args[1:] {
		w, err := watch.Parse(args[0], v)
		if err != nil {
			return c.Errf("invalid watch: %v", err)
		}
		cfg.watches = append(cfg.watches, w)
	}
	return nil
}

// redactURL hides a password in a URL shown in an error.
func redactURL(s string) string {
	if u, err := url.Parse(s); err == nil {
		return u.Redacted()
	}
	return "(unparsable URL)"
}

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
