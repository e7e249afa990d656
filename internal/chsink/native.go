package chsink

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/passivedns/passivedns/internal/nativeblock"
	"github.com/passivedns/passivedns/internal/record"
	"github.com/passivedns/passivedns/internal/schema"
)

// ConsumesBatches tells the writer that the sink keeps nothing of a batch once Write has
// returned (the block has been sent, or copied into the driver's buffers), so the writer
// may reuse the batch's buffers.
func (s *Sink) ConsumesBatches() {}

// Modern reports the schema flavor of the table as last prepared (portable before then):
// the writer decodes into blocks of this flavor, so they go out as they are.
func (s *Sink) Modern() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.schema.Flavor.Modern
}

// httpClient carries the Native blocks: one kept-alive connection is all the writer uses.
// It closes a connection idle for idleConnTimeout itself, before the server does: an insert
// sent on a connection the server is closing at that moment fails, and net/http does not
// retry a POST.
var httpClient = &http.Client{Transport: &http.Transport{
	Proxy:               nil, // the server is named by the DSN, never reached through a proxy
	MaxIdleConnsPerHost: 2,
	IdleConnTimeout:     idleConnTimeout,
}}

// idleConnTimeout is below the keep_alive_timeout of ClickHouse's HTTP interface: 3 s in
// Debian's configuration, 10 s built in.
const idleConnTimeout = 2 * time.Second

// nativePath holds what Native inserts reuse: a block and an Inserter (its request body) per
// insert running at once. The live inserter and the spool's replayer write at the same
// time, as they do through clickhouse-go's connection pool, so there are at most two.
type nativePath struct {
	cfg    nativeblock.Config
	modern bool
	mu     sync.Mutex
	free   []*nativeConn
}

type nativeConn struct {
	ins  *nativeblock.Inserter
	conv *record.Batch // a batch of the other flavor, converted
}

func (p *nativePath) get() (*nativeConn, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if n := len(p.free); n > 0 {
		c := p.free[n-1]
		p.free = p.free[:n-1]
		return c, nil
	}
	ins, err := nativeblock.NewInserter(p.cfg)
	if err != nil {
		return nil, err
	}
	return &nativeConn{ins: ins, conv: record.NewBatch(0, p.modern)}, nil
}

func (p *nativePath) put(c *nativeConn) {
	p.mu.Lock()
	p.free = append(p.free, c)
	p.mu.Unlock()
}

// prepareNative sets up inserts of Native blocks over HTTP when an HTTP interface is
// configured, the server is not a cluster and the table has exactly the columns of a
// nativeblock block; otherwise inserts go through clickhouse-go. Called with s.mu held,
// once the schema is known.
func (s *Sink) prepareNative() error {
	s.native = nil
	// A cluster takes inserts into the local replicated table of the node the native
	// connection chose (failing over between the DSN's hosts): that stays on clickhouse-go.
	if s.opts.HTTP == "" || s.schema.Cluster != "" {
		return nil
	}
	if !slices.Equal(nativeblock.New(s.schema.Flavor.Modern).Columns(), s.schema.ResponseColumns()) {
		return nil
	}
	cfg := nativeblock.Config{URL: s.opts.HTTP, Database: s.schema.DB, Modern: s.schema.Flavor.Modern, Client: httpClient,
		Yield: record.Yield}
	if s.opts.ClickHouse != nil {
		cfg.User, cfg.Password = s.opts.ClickHouse.Auth.Username, s.opts.ClickHouse.Auth.Password
	}
	if _, err := nativeblock.NewInserter(cfg); err != nil {
		return err
	}
	s.native = &nativePath{cfg: cfg, modern: s.schema.Flavor.Modern}
	return nil
}

// Native reports whether inserts go over HTTP as Native blocks (after Prepare).
func (s *Sink) Native() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.native != nil
}

// writeNative inserts b as one Native block. Any failure may have landed rows (the server
// may have written parts before it answered), so b is marked uncertain.
func (s *Sink) writeNative(ctx context.Context, b *record.Batch, np *nativePath) error {
	c, err := np.get()
	if err != nil {
		return err
	}
	defer np.put(c)
	// The batch was decoded into blocks of the flavor the writer last knew; a batch of
	// the other flavor (decoded before the server was reached) is converted first.
	blocks := b.Blocks
	if b.Modern() != np.modern {
		conv := c.conv
		conv.Reset(b.ID)
		for i := range b.Len() {
			conv.AppendRow(b, i)
			if (i+1)%appendChunk == 0 {
				// On a resolver with one core the Go scheduler would otherwise let DNS
				// goroutines wait behind a whole batch.
				record.Yield()
			}
		}
		blocks = conv.Blocks
	}
	err = c.ins.Insert(ctx, blocks, b.ID)
	if err == nil {
		return nil
	}
	if nativeblock.Rejected(err) {
		return fmt.Errorf("%w: %v", ErrRejected, err)
	}
	var ex *nativeblock.Exception
	if errors.As(err, &ex) && (ex.Code == int(schema.CodeUnknownTable) || ex.Code == int(schema.CodeUnknownDatabase)) {
		s.mu.Lock()
		s.ready = false // someone dropped the schema: check it again before the next try
		s.mu.Unlock()
	}
	b.Uncertain = true
	return err
}
