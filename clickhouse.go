package passivedns

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"runtime"
	"strconv"
	"sync"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
)

// errRejected: the rows themselves are bad; retrying cannot help.
var errRejected = errors.New("rows rejected by ClickHouse")

type clickhouseSink struct {
	cfg config

	mu     sync.Mutex
	conn   driver.Conn
	schema schema
	ready  bool // connected and schema checked
}

func newClickHouseSink(cfg config) *clickhouseSink { return &clickhouseSink{cfg: cfg} }

func (s *clickhouseSink) prepare(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ready {
		return nil
	}
	if s.conn == nil {
		opts := *s.cfg.options
		opts.ClientInfo.Products = append(opts.ClientInfo.Products, struct{ Name, Version string }{"coredns-passivedns", "1"})
		conn, err := clickhouse.Open(&opts)
		if err != nil {
			return err
		}
		s.conn = conn
	}
	var version string
	if err := s.conn.QueryRow(ctx, "SELECT version()").Scan(&version); err != nil {
		return err
	}
	s.schema = schema{f: detectFlavor(version), db: s.cfg.database, retention: s.cfg.retention}
	if err := ensureSchema(ctx, s.conn, s.schema, s.cfg.schema); err != nil {
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

func (s *clickhouseSink) write(ctx context.Context, b *batch) error {
	if err := s.prepare(ctx); err != nil {
		return err
	}
	if b.uncertain {
		rest, err := s.unlanded(ctx, b)
		if err != nil {
			return err
		}
		if rest.len() == 0 {
			return nil
		}
		b = rest
	}
	if s.schema.f.modern {
		// A retry with the same token is dropped by the server if the first try landed.
		ctx = clickhouse.Context(ctx, clickhouse.WithSettings(clickhouse.Settings{
			"insert_deduplication_token":                         strconv.FormatUint(b.id, 10),
			"deduplicate_blocks_in_dependent_materialized_views": 1,
		}))
	}
	ins, err := s.conn.PrepareBatch(ctx, s.schema.insertResponses())
	if err != nil {
		return s.classify(err) // nothing was sent yet
	}
	defer ins.Close()
	if err := s.appendColumns(ins, b); err != nil {
		return fmt.Errorf("%w: %v", errRejected, err)
	}
	if err := ins.Send(); err != nil {
		b.uncertain = true
		return s.classify(err)
	}
	return nil
}

func (s *clickhouseSink) classify(err error) error {
	var ex *clickhouse.Exception
	if errors.As(err, &ex) {
		if rejectedCodes[ex.Code] {
			return fmt.Errorf("%w: %v", errRejected, err)
		}
		if ex.Code == codeUnknownTable || ex.Code == codeUnknownDatabase {
			s.mu.Lock()
			s.ready = false // someone dropped the schema: check it again before the next try
			s.mu.Unlock()
		}
	}
	return err
}

func (s *clickhouseSink) appendColumns(ins driver.Batch, b *batch) error {
	ids := make([]uint64, b.len())
	for i := range ids {
		ids[i] = b.id
	}
	cols := []any{b.time}
	if !s.schema.f.modern {
		cols = append(cols, b.timeMs)
	}
	var client any = b.client
	if !s.schema.f.modern {
		fixed := make([]string, len(b.client))
		for i, a := range b.client {
			a16 := a.As16()
			if !a.IsValid() {
				a16 = [16]byte{}
			}
			fixed[i] = string(a16[:])
		}
		client = fixed
	} else {
		addrs := make([]netip.Addr, len(b.client))
		for i, a := range b.client {
			if a.IsValid() {
				addrs[i] = netip.AddrFrom16(a.As16())
			} else {
				addrs[i] = netip.IPv6Unspecified()
			}
		}
		client = addrs
	}
	cols = append(cols, b.sensor, b.server, b.transport, client, b.qname, b.qtype, b.qclass, b.rcode, b.flags,
		b.answer.name, b.answer.typ, b.answer.class, b.answer.ttl, b.answer.data,
		b.authority.name, b.authority.typ, b.authority.class, b.authority.ttl, b.authority.data,
		b.size, b.durationUs, ids)
	// In chunks, yielding between them: on a resolver with one core the Go scheduler
	// would otherwise let DNS goroutines wait behind a whole batch (tens of ms).
	for lo := 0; lo < b.len(); lo += appendChunk {
		hi := min(lo+appendChunk, b.len())
		for i, c := range cols {
			if err := appendRows(ins.Column(i), c, lo, hi); err != nil {
				return fmt.Errorf("column %s: %w", s.schema.responseColumns()[i], err)
			}
		}
		runtime.Gosched()
	}
	return nil
}

const appendChunk = 512

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
func (s *clickhouseSink) unlanded(ctx context.Context, b *batch) (*batch, error) {
	firstOfDay := map[string]int{}
	for i, t := range b.time {
		d := t.Format(time.DateOnly)
		if _, ok := firstOfDay[d]; !ok {
			firstOfDay[d] = i
		}
	}
	missing := map[string]bool{}
	q := s.schema.unlandedQuery()
	for d, i := range firstOfDay {
		var n uint64
		if err := s.conn.QueryRow(ctx, q, reverseString(b.qname[i]), d, b.id).Scan(&n); err != nil {
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
		b.uncertain = false
		return b, nil
	}
	rest := b.subset(func(i int) bool { return missing[b.time[i].Format(time.DateOnly)] })
	rest.uncertain = false
	// A fresh id: the rows that did land used the old one as their deduplication token
	// and batch_id, and the rest must not be mistaken for them.
	rest.id = newBatchID()
	if landed := b.len() - rest.len(); landed > 0 {
		log.Infof("Batch %x: %d rows had landed before the connection failed; not inserting them again", b.id, landed)
	}
	return rest, nil
}

func (s *clickhouseSink) ping(ctx context.Context) error {
	if err := s.prepare(ctx); err != nil {
		return err
	}
	return s.conn.Ping(ctx)
}

func (s *clickhouseSink) close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.conn == nil {
		return nil
	}
	err := s.conn.Close()
	s.conn, s.ready = nil, false
	return err
}
