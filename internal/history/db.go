package history

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/passivedns/passivedns/internal/schema"
)

// Options configure a DB.
type Options struct {
	ClickHouse    *clickhouse.Options // the connection; its database is ignored
	Database      string
	MaxConcurrent int           // queries the caller runs at once; sizes the pool
	QueryTimeout  time.Duration // of each query; 0: QueryTimeout
}

// DB is the read side's own connection pool to ClickHouse, separate from the writer's
// so that slow analyst queries never hold up inserts.
type DB struct {
	opts Options

	mu       sync.Mutex
	conn     driver.Conn
	schema   *schema.Schema
	lastFail time.Time // when the version check last failed: fail fast for a while
}

// New returns a DB; it connects on first use.
func New(opts Options) *DB { return &DB{opts: opts} }

// retryAfterFail is how long after a failed connection the API answers 503 at once
// instead of trying again, so that queued requests do not each wait a dial timeout.
const retryAfterFail = time.Second

// ErrUnavailable means ClickHouse could not answer: a 503.
var ErrUnavailable = errors.New("ClickHouse is unavailable")

func (d *DB) Get(ctx context.Context) (driver.Conn, schema.Schema, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.conn == nil {
		opts := *d.opts.ClickHouse
		opts.DialTimeout = apiDialTimeout
		opts.MaxOpenConns = d.opts.MaxConcurrent + 2
		opts.MaxIdleConns = d.opts.MaxConcurrent + 2
		opts.ReadTimeout = QueryTimeout + 5*time.Second
		opts.ClientInfo.Products = append(opts.ClientInfo.Products, struct{ Name, Version string }{"coredns-passivedns-api", "1"})
		conn, err := clickhouse.Open(&opts)
		if err != nil {
			return nil, schema.Schema{}, fmt.Errorf("%w: %v", ErrUnavailable, err)
		}
		d.conn = conn
	}
	if d.schema == nil {
		if time.Since(d.lastFail) < retryAfterFail {
			return nil, schema.Schema{}, fmt.Errorf("%w: last attempt failed %v ago", ErrUnavailable, time.Since(d.lastFail).Round(time.Millisecond))
		}
		var version string
		ctx, cancel := context.WithTimeout(ctx, 2*apiDialTimeout)
		defer cancel()
		if err := d.conn.QueryRow(ctx, "SELECT version()").Scan(&version); err != nil {
			d.lastFail = time.Now()
			return nil, schema.Schema{}, classifyError(err)
		}
		d.schema = &schema.Schema{Flavor: schema.DetectFlavor(version), DB: d.opts.Database}
	}
	return d.conn, *d.schema, nil
}

func (d *DB) Close() {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.conn != nil {
		d.conn.Close()
		d.conn, d.schema = nil, nil
	}
}

// QueryContext bounds a query on the server (max_execution_time) and, a little later, on
// the client, which also covers a server that does not answer at all.
func (d *DB) QueryContext(ctx context.Context) (context.Context, context.CancelFunc) {
	timeout := d.opts.QueryTimeout
	if timeout <= 0 {
		timeout = QueryTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout+timeout/5)
	return clickhouse.Context(ctx, clickhouse.WithSettings(clickhouse.Settings{
		"max_execution_time": max(int(timeout/time.Second), 1),
		"max_result_rows":    apiMaxRows + 2,
	})), cancel
}

// classifyError turns transport failures and timeouts into ErrUnavailable.
func classifyError(err error) error {
	if err == nil {
		return nil
	}
	var ex *clickhouse.Exception
	if errors.As(err, &ex) {
		switch ex.Code {
		case 159, 160, 209, 210, 202, // TIMEOUT_EXCEEDED, TOO_SLOW, SOCKET_TIMEOUT, NETWORK_ERROR, TOO_MANY_SIMULTANEOUS_QUERIES
			schema.CodeUnknownTable, schema.CodeUnknownDatabase: // no schema yet: the writer creates it
			return fmt.Errorf("%w: %v", ErrUnavailable, err)
		}
		return err
	}
	var ne net.Error
	if errors.As(err, &ne) || errors.Is(err, context.DeadlineExceeded) || errors.Is(err, syscall.ECONNREFUSED) ||
		errors.Is(err, clickhouse.ErrAcquireConnTimeout) || strings.Contains(err.Error(), "connection") {
		return fmt.Errorf("%w: %v", ErrUnavailable, err)
	}
	return err
}

// run executes q and calls emit for each row, in order. It stops early (with nil) when
// emit returns false.
func (d *DB) Run(ctx context.Context, q Query, emit func(Row) bool) error {
	if q.Detail {
		// The detail is read for the rows of the page, so they are held (q.Limit of them).
		var rows []Row
		q.Detail = false
		if err := d.Run(ctx, q, func(r Row) bool { rows = append(rows, r); return true }); err != nil {
			return err
		}
		if err := d.fillDetail(ctx, q.Table, rows); err != nil {
			return err
		}
		for _, r := range rows {
			if !emit(r) {
				return nil
			}
		}
		return nil
	}
	conn, s, err := d.Get(ctx)
	if err != nil {
		return err
	}
	sql, args := q.Build(s)
	ctx, cancel := d.QueryContext(ctx)
	defer cancel()
	rows, err := conn.Query(ctx, sql, args...)
	if err != nil {
		return classifyError(err)
	}
	defer rows.Close()
	for rows.Next() {
		var r Row
		var err error
		switch q.Table {
		case TableByIP:
			err = rows.Scan(&r.RRName, &r.RRType, &r.IPText, &r.First, &r.Last, &r.Count)
			if err == nil {
				r.RData = ipRdata(r.IPText, r.RRType)
			}
		case TableByRdata:
			err = rows.Scan(&r.RRName, &r.RRType, &r.RData, &r.Target, &r.First, &r.Last, &r.Count)
		case TableDaily:
			err = rows.Scan(&r.RRName, &r.RRType, &r.RData, &r.First, &r.Last, &r.Count, &r.Day)
		case TableNegative:
			err = rows.Scan(&r.RRName, &r.RRType, &r.RData, &r.First, &r.Last, &r.Count, &r.Sensors, &r.SOAName, &r.SOATTL, &r.SOAData)
			sort.Strings(r.Sensors)
		default:
			err = rows.Scan(&r.RRName, &r.RRType, &r.RData, &r.First, &r.Last, &r.Count)
		}
		if err != nil {
			return err
		}
		if !emit(r) {
			return nil
		}
	}
	return classifyError(rows.Err())
}
