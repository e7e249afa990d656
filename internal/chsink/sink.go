package chsink

import (
	clog "github.com/coredns/coredns/plugin/pkg/log"
	"github.com/passivedns/passivedns/internal/record"
	"github.com/passivedns/passivedns/internal/schema"

	"context"
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"sync"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
)

// ErrRejected means the rows themselves are bad: retrying cannot help.
var ErrRejected = errors.New("rows rejected by ClickHouse")

// Options configure a Sink.
type Options struct {
	ClickHouse *clickhouse.Options // the connection; its database is ignored
	Database   string
	AutoSchema bool          // create and upgrade the schema (schema auto)
	Retention  time.Duration // TTL of the raw log where the server has TTL; 0: none
	Cluster    string        // remote_servers cluster: replicated tables, inserts into the local ones
	Log        clog.P
	// HTTP, when set, is the base URL of the server's HTTP interface ("http://host:8123/"):
	// inserts go there as Native blocks. Queries (schema, landed check) stay on the
	// ClickHouse connection.
	HTTP string
	// Fixed, when set, is the schema to write as it is: never checked or upgraded (tests
	// of upgrades write through an old schema with it).
	Fixed *schema.Schema
	// Unsure, when set, is told of rows whose record a retry left in doubt, by kind (beside
	// the warning the sink logs): UnsureHistory or UnsureTwice.
	Unsure func(kind string, rows int)
}

// Kinds of Options.Unsure.
const (
	// UnsureHistory: rows in the raw log that the history tables may lack (servers before
	// 22.8, when an insert's outcome was unknown and its rows were found landed).
	UnsureHistory = "history"
	// UnsureTwice: rows in the raw log twice (a retry after the deduplication window).
	UnsureTwice = "twice"
)

// unsure reports rows to Options.Unsure.
func (s *Sink) unsure(kind string, rows int) {
	if s.opts.Unsure != nil {
		s.opts.Unsure(kind, rows)
	}
}

// Sink writes batches into the responses table of one database, over its own connection.
type Sink struct {
	opts Options

	mu     sync.Mutex
	conn   driver.Conn
	schema schema.Schema
	ready  bool // connected and schema checked
	// claimant names this sink in schema upgrade claims, the same on every retry.
	claimant string

	// Inserts over HTTP (see native.go); nil when they go through clickhouse-go.
	native *nativePath
}

// New returns a sink; it connects on first use.
func New(opts Options) *Sink { return &Sink{opts: opts, claimant: schema.NewClaimant()} }

// Schema is the schema the sink writes (zero before Prepare).
func (s *Sink) Schema() schema.Schema {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.schema
}

// Prepare connects and checks the schema (creating or upgrading it with AutoSchema) once;
// after a success it does nothing until a write finds the schema gone. An error wrapping
// schema.ErrFatal means retrying cannot help.
func (s *Sink) Prepare(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ready {
		return nil
	}
	if s.conn == nil {
		opts := *s.opts.ClickHouse
		opts.ClientInfo.Products = append(opts.ClientInfo.Products, struct{ Name, Version string }{"coredns-passivedns", "1"})
		conn, err := clickhouse.Open(&opts)
		if err != nil {
			return err
		}
		s.conn = conn
	}
	if s.opts.Fixed != nil {
		s.schema, s.ready = *s.opts.Fixed, true
		return s.prepareNative()
	}
	var version string
	if err := s.conn.QueryRow(ctx, "SELECT version()").Scan(&version); err != nil {
		return err
	}
	s.schema = schema.Schema{Flavor: schema.DetectFlavor(version), DB: s.opts.Database, Retention: s.opts.Retention, Cluster: s.opts.Cluster, Claimant: s.claimant}
	if err := schema.Ensure(ctx, s.conn, s.schema, s.opts.AutoSchema, s.opts.Log); err != nil {
		return err
	}
	if err := s.prepareNative(); err != nil {
		return err
	}
	s.ready = true
	return nil
}

// rejectedCodes are server errors that mean the rows themselves are bad: retrying the
// same rows can never succeed.
var rejectedCodes = map[int32]bool{
	6:   true, // CANNOT_PARSE_TEXT
	27:  true, // CANNOT_PARSE_INPUT_ASSERTION_FAILED
	53:  true, // TYPE_MISMATCH
	69:  true, // ARGUMENT_OUT_OF_BOUND
	70:  true, // CANNOT_CONVERT_TYPE
	117: true, // INCORRECT_DATA
}

// Write inserts b. ErrRejected means the rows are bad; any other error is worth a retry,
// and leaves b uncertain when the rows were sent.
//
// An uncertain batch (an earlier try may have landed) goes again whole on servers with
// deduplication tokens: each table, the raw log and every view's, drops the parts it already
// has and writes the ones it lacks, so a server that died after the raw part but before the
// views' parts gets its history filled. Older servers have no tokens: the rows already in
// the raw log are dropped first (see unlanded).
func (s *Sink) Write(ctx context.Context, b *record.Batch) error {
	if err := s.Prepare(ctx); err != nil {
		return err
	}
	resent := b.Uncertain && s.schema.Flavor.Modern
	if b.Uncertain && !s.schema.Flavor.Modern {
		rest, err := s.unlanded(ctx, b)
		if err != nil {
			return err
		}
		if rest.Len() == 0 {
			return nil
		}
		b = rest
	}
	if err := s.insert(ctx, b); err != nil {
		return err
	}
	if resent {
		s.warnIfTwice(ctx, b)
	}
	return nil
}

// insert sends b once, as a Native block over HTTP or through clickhouse-go.
func (s *Sink) insert(ctx context.Context, b *record.Batch) error {
	s.mu.Lock()
	np := s.native
	s.mu.Unlock()
	if np != nil {
		return s.writeNative(ctx, b, np)
	}
	if s.schema.Flavor.Modern {
		// A retry with the same token is dropped by the server if the first try landed.
		ctx = clickhouse.Context(ctx, clickhouse.WithSettings(clickhouse.Settings{
			"insert_deduplication_token":                         strconv.FormatUint(b.ID, 10),
			"deduplicate_blocks_in_dependent_materialized_views": 1,
		}))
	}
	ins, err := s.conn.PrepareBatch(ctx, s.schema.InsertResponses())
	if err != nil {
		return s.classify(err) // nothing was sent yet
	}
	defer ins.Close()
	if err := s.appendColumns(ins, b); err != nil {
		return fmt.Errorf("%w: %v", ErrRejected, err)
	}
	if err := ins.Send(); err != nil {
		b.Uncertain = true
		return s.classify(err)
	}
	return nil
}

// classify wraps server errors that reject the rows in ErrRejected and makes the next
// write check the schema again when the schema is gone.
func (s *Sink) classify(err error) error {
	var ex *clickhouse.Exception
	if errors.As(err, &ex) {
		if rejectedCodes[ex.Code] {
			return fmt.Errorf("%w: %v", ErrRejected, err)
		}
		if ex.Code == schema.CodeUnknownTable || ex.Code == schema.CodeUnknownDatabase {
			s.mu.Lock()
			s.ready = false // someone dropped the schema: check it again before the next try
			s.mu.Unlock()
		}
	}
	return err
}

// appendColumns appends the rows of b to the insert block, every row with b's batch id.
func (s *Sink) appendColumns(ins driver.Batch, batch *record.Batch) error {
	b := batch.Rows()
	ids := make([]uint64, batch.Len())
	for i := range ids {
		ids[i] = batch.ID
	}
	cols := []any{b.Time}
	if !s.schema.Flavor.Modern {
		cols = append(cols, b.TimeMs)
	}
	var client any = b.Client
	if !s.schema.Flavor.Modern {
		fixed := make([]string, len(b.Client))
		for i, a := range b.Client {
			a16 := a.As16()
			if !a.IsValid() {
				a16 = [16]byte{}
			}
			fixed[i] = string(a16[:])
		}
		client = fixed
	} else {
		addrs := make([]netip.Addr, len(b.Client))
		for i, a := range b.Client {
			if a.IsValid() {
				addrs[i] = netip.AddrFrom16(a.As16())
			} else {
				addrs[i] = netip.IPv6Unspecified()
			}
		}
		client = addrs
	}
	cols = append(cols, b.Sensor, b.Server, b.Transport, client, b.QName, b.QType, b.QClass, b.RCode, b.Flags,
		b.Answer.Name, b.Answer.Type, b.Answer.Class, b.Answer.TTL, b.Answer.Data,
		b.Authority.Name, b.Authority.Type, b.Authority.Class, b.Authority.TTL, b.Authority.Data,
		b.Size, b.DurationUs, ids)
	// In chunks, yielding between them, so DNS goroutines do not wait behind a whole batch.
	for lo := 0; lo < batch.Len(); lo += appendChunk {
		hi := min(lo+appendChunk, batch.Len())
		for i, c := range cols {
			if err := appendRows(ins.Column(i), c, lo, hi); err != nil {
				return fmt.Errorf("column %s: %w", s.schema.ResponseColumns()[i], err)
			}
		}
		record.Yield()
	}
	return nil
}

const appendChunk = record.YieldChunk

// appendRows appends rows lo to hi of a column. Array columns go row by row through
// AppendRow, which clickhouse-go serves without reflection; its Append of a whole
// [][]string reflects on every row.
func appendRows(col driver.BatchColumn, c any, lo, hi int) error {
	switch v := c.(type) {
	case [][]string:
		for _, row := range v[lo:hi] {
			if err := col.AppendRow(row); err != nil {
				return err
			}
		}
		return nil
	case [][]uint32:
		for _, row := range v[lo:hi] {
			if err := col.AppendRow(row); err != nil {
				return err
			}
		}
		return nil
	case []time.Time:
		return col.Append(v[lo:hi])
	case []string:
		return col.Append(v[lo:hi])
	case []uint16:
		return col.Append(v[lo:hi])
	case []uint32:
		return col.Append(v[lo:hi])
	case []uint64:
		return col.Append(v[lo:hi])
	case []netip.Addr:
		return col.Append(v[lo:hi])
	}
	return fmt.Errorf("no appender for %T", c)
}

// unlanded finds out which rows of a batch whose insert had an unknown outcome are not in
// ClickHouse. An insert is written as one part per partition (day), each all or nothing,
// so one row per day tells whether that day's rows landed. The lookup uses the primary
// key (reverse(qname), time) and the partition, so it reads a few granules.
func (s *Sink) unlanded(ctx context.Context, b *record.Batch) (*record.Batch, error) {
	firstOfDay := firstRowOfEachDay(b)
	missing := map[string]bool{}
	q := s.schema.UnlandedQuery()
	for d, i := range firstOfDay {
		var n uint64
		if err := s.conn.QueryRow(ctx, q, record.Reverse(b.QNameAt(i)), d, b.ID).Scan(&n); err != nil {
			return nil, err
		}
		if n == 0 {
			missing[d] = true
		}
	}
	if len(missing) == len(firstOfDay) {
		// Nothing landed: resend as it was. Keeping the id keeps the deduplication token,
		// so on servers that have tokens an attempt the server still finishes after this
		// check is not counted twice.
		b.Uncertain = false
		return b, nil
	}
	rest := b.Subset(func(i int) bool { return missing[b.TimeAt(i).Format(time.DateOnly)] })
	rest.Uncertain = false
	// A fresh id: the rows that did land used the old one as their deduplication token
	// and batch_id, and the rest must not be mistaken for them.
	rest.ID = record.NewBatchID()
	if landed := b.Len() - rest.Len(); landed > 0 {
		// This server writes an insert's raw part before its views' parts and cannot be
		// asked which views have the batch: when it died in between, history lacks these
		// rows while the raw log has them. Said, not silent (README: Exactly once).
		s.opts.Log.Warningf("Batch %x: %d rows had landed before the connection failed; not inserting them again. "+
			"If ClickHouse died while writing them, the history tables may lack them (ClickHouse before 22.8 cannot tell)", b.ID, landed)
		s.unsure(UnsureHistory, landed)
	}
	return rest, nil
}

// firstRowOfEachDay maps each day (YYYY-MM-DD, UTC) of b to its first row.
func firstRowOfEachDay(b *record.Batch) map[string]int {
	first := map[string]int{}
	for i := range b.Len() {
		d := b.TimeAt(i).Format(time.DateOnly)
		if _, ok := first[d]; !ok {
			first[d] = i
		}
	}
	return first
}

// warnIfTwice looks, after an uncertain batch was sent again under its token, whether the
// raw log now holds its rows twice. A server forgets a token once the table's deduplication
// window has passed (1000 inserts on one server), so a retry later than that (a spool
// replayed long after, many resolvers on one database) lands again. That is not undone, but it is said,
// with the batch id that finds the rows. One row per day is looked up, as unlanded does.
func (s *Sink) warnIfTwice(ctx context.Context, b *record.Batch) {
	q := s.schema.UnlandedQuery()
	for d, i := range firstRowOfEachDay(b) {
		qname, day := b.QNameAt(i), b.TimeAt(i).UTC().Truncate(24*time.Hour)
		var sent, ofDay uint64 // the batch's rows of that day with that qname, and of that day
		for j := range b.Len() {
			if b.TimeAt(j).UTC().Truncate(24 * time.Hour).Equal(day) {
				ofDay++
				if b.QNameAt(j) == qname {
					sent++
				}
			}
		}
		var n uint64
		if err := s.conn.QueryRow(ctx, q, record.Reverse(qname), d, b.ID).Scan(&n); err != nil {
			return // the rows are in; only this check failed
		}
		if n > sent {
			s.opts.Log.Warningf("Batch %x landed twice (%d rows of a day where %d were sent): its retry came after ClickHouse's "+
				"deduplication window had forgotten the first attempt; SELECT ... WHERE batch_id = %d finds its rows", b.ID, n, sent, b.ID)
			s.unsure(UnsureTwice, int(ofDay))
		}
	}
}

// Ping prepares the sink and checks that the server answers.
func (s *Sink) Ping(ctx context.Context) error {
	if err := s.Prepare(ctx); err != nil {
		return err
	}
	return s.conn.Ping(ctx)
}

// Close closes the connection; the next use connects and checks the schema again.
func (s *Sink) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.conn == nil {
		return nil
	}
	err := s.conn.Close()
	s.conn, s.ready = nil, false
	return err
}
