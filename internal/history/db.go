package history

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
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
	MaxConcurrent int           // most queries running on ClickHouse at once; sizes the pool
	QueryTimeout  time.Duration // of each query; 0: QueryTimeout
	MaxMemory     int           // max_memory_usage of each query (bytes); 0: DefaultMaxMemory
	MaxRowsRead   int           // max_rows_to_read of each query; 0: DefaultMaxRowsRead
}

// Server-side bounds of each API query that 18.16 honours (max_execution_time does not
// stop a GROUP BY there: the query is killed instead when its time is up).
const (
	DefaultMaxMemory   = 1 << 30
	DefaultMaxRowsRead = 1 << 30
	// killTimeout bounds KILL QUERY ... SYNC; after it the kill is left to run ASYNC.
	killTimeout = 5 * time.Second
)

// DB is the read side's own connection pool to ClickHouse, separate from the writer's
// so that slow analyst queries never hold up inserts.
type DB struct {
	opts Options

	// slots holds one token per query running on ClickHouse; a token is returned only
	// once the query has ended there (finished, failed or killed).
	slots    chan struct{}
	idPrefix string
	seq      atomic.Uint64

	mu       sync.Mutex
	conn     driver.Conn
	schema   *schema.Schema
	lastFail time.Time // when the version check last failed: fail fast for a while
}

// New returns a DB; it connects on first use.
func New(opts Options) *DB {
	var r [4]byte
	rand.Read(r[:])
	return &DB{opts: opts, slots: make(chan struct{}, max(opts.MaxConcurrent, 1)),
		idPrefix: "passivedns-api-" + hex.EncodeToString(r[:]) + "-"}
}

// QueryIDPrefix starts the query_id of every query of d: system.processes tells its
// queries apart with it.
func (d *DB) QueryIDPrefix() string { return d.idPrefix }

// Timeout is the time limit of one query.
func (d *DB) Timeout() time.Duration {
	if d.opts.QueryTimeout > 0 {
		return d.opts.QueryTimeout
	}
	return QueryTimeout
}

// retryAfterFail is how long after a failed connection the API answers 503 at once
// instead of trying again, so that queued requests do not each wait a dial timeout.
const retryAfterFail = time.Second

// ErrUnavailable means ClickHouse could not answer: a 503.
var ErrUnavailable = errors.New("ClickHouse is unavailable")

// ErrTooBig means the query needed more rows or memory than one query may use.
var ErrTooBig = errors.New("the query needs more than one query may read or use")

func (d *DB) Get(ctx context.Context) (driver.Conn, schema.Schema, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.conn == nil {
		opts := *d.opts.ClickHouse
		opts.DialTimeout = apiDialTimeout
		opts.MaxOpenConns = d.opts.MaxConcurrent + 2
		opts.MaxIdleConns = d.opts.MaxConcurrent + 2
		opts.ReadTimeout = d.Timeout() + 5*time.Second
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

// queryContext gives a query its id and its bounds: on the server (max_execution_time,
// honoured by current versions; memory and rows read, honoured by 18.16 too) and, a
// little later, on the client, which also covers a server that does not answer at all.
// timeout_overflow_mode is left at its default, throw (clickhouse-go cannot send a
// string setting to 18.16 anyway).
func (d *DB) queryContext(ctx context.Context, id string) (context.Context, context.CancelFunc) {
	timeout := d.Timeout()
	mem, rows := d.opts.MaxMemory, d.opts.MaxRowsRead
	if mem <= 0 {
		mem = DefaultMaxMemory
	}
	if rows <= 0 {
		rows = DefaultMaxRowsRead
	}
	ctx, cancel := context.WithTimeout(ctx, timeout+timeout/5)
	return clickhouse.Context(ctx, clickhouse.WithQueryID(id), clickhouse.WithSettings(clickhouse.Settings{
		"max_execution_time": max(int(timeout/time.Second), 1),
		"max_result_rows":    apiMaxRows + 2,
		"max_memory_usage":   mem,
		"max_rows_to_read":   rows,
	})), cancel
}

// query runs sql and calls each for every row until it returns false or an error. It
// takes one of d's slots first (waiting as long as ctx allows) and gives it back only
// once the query has ended on the server: a query that did not run to its end (ctx
// done, the caller stopped early, the connection broke) is killed there by query_id,
// since closing the connection does not stop it on 18.16.
func (d *DB) query(ctx context.Context, conn driver.Conn, sql string, args []any, each func(driver.Rows) (bool, error)) error {
	select {
	case d.slots <- struct{}{}:
	case <-ctx.Done():
		return classifyError(ctx.Err())
	}
	id := d.idPrefix + strconv.FormatUint(d.seq.Add(1), 10)
	qctx, cancel := d.queryContext(ctx, id)
	ended := false
	defer func() {
		cancel()
		if !ended {
			d.kill(conn, id)
		}
		<-d.slots
	}()
	rows, err := conn.Query(qctx, sql, args...)
	if err != nil {
		ended = isException(err) // the server answered with an error: the query is over
		return classifyError(err)
	}
	for rows.Next() {
		more, err := each(rows)
		if err != nil || !more {
			cancel() // or Close would read the rest
			rows.Close()
			return err
		}
	}
	err = rows.Err()
	rows.Close()
	ended = err == nil || isException(err)
	return classifyError(err)
}

func isException(err error) bool {
	var ex *clickhouse.Exception
	return errors.As(err, &ex)
}

// kill stops query id on the server, on a connection of its own: SYNC waits until it
// is gone, so that the slot it frees is really free; if that takes longer than
// killTimeout, an ASYNC kill is left behind.
func (d *DB) kill(conn driver.Conn, id string) {
	ctx, cancel := context.WithTimeout(context.Background(), killTimeout)
	defer cancel()
	err := conn.Exec(ctx, "KILL QUERY WHERE query_id = ? SYNC", id)
	if err == nil {
		return
	}
	ctx2, cancel2 := context.WithTimeout(context.Background(), killTimeout)
	defer cancel2()
	conn.Exec(ctx2, "KILL QUERY WHERE query_id = ? ASYNC", id)
}

// classifyError turns transport failures and timeouts into errUnavailable.
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
		case 158, 307, 241: // TOO_MANY_ROWS, TOO_MANY_BYTES, MEMORY_LIMIT_EXCEEDED
			return fmt.Errorf("%w: %w", ErrTooBig, err)
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

// Run executes q and calls emit for each row, in order. It stops early (with nil) when
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
	return d.query(ctx, conn, sql, args, func(rows driver.Rows) (bool, error) {
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
		case TableRRset:
			err = rows.Scan(&r.RRName, &r.RRType, &r.RDatas, &r.First, &r.Last, &r.Count)
		case TableRRsetDaily:
			err = rows.Scan(&r.RRName, &r.RRType, &r.RDatas, &r.First, &r.Last, &r.Count, &r.Day)
		case TableNegative:
			err = rows.Scan(&r.RRName, &r.RRType, &r.RData, &r.First, &r.Last, &r.Count, &r.Sensors, &r.SOAName, &r.SOATTL, &r.SOAData)
			sort.Strings(r.Sensors)
		default:
			err = rows.Scan(&r.RRName, &r.RRType, &r.RData, &r.First, &r.Last, &r.Count)
		}
		if err != nil {
			return false, err
		}
		return emit(r), nil
	})
}

// MaxRows is the most rows any one query returns; Count stops one beyond it.
const MaxRows = apiMaxRows

// Count is how many rows q gives over all its pages (its cursor and limit left out),
// up to MaxRows+1.
func (d *DB) Count(ctx context.Context, q Query) (int64, error) {
	conn, s, err := d.Get(ctx)
	if err != nil {
		return 0, err
	}
	q.After, q.Limit, q.Offset = nil, 0, 0
	sql, args := q.Build(s)
	var n uint64
	err = d.query(ctx, conn, "SELECT count() FROM ("+sql+")", args, func(rows driver.Rows) (bool, error) {
		return false, rows.Scan(&n)
	})
	return int64(n), err
}
