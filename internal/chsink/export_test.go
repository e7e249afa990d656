package chsink

import (
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/passivedns/passivedns/internal/record"
)

// Hooks for the package's external tests and benchmarks; they exist only in the test binary.

// Conn is the sink's connection (nil before Prepare).
func (s *Sink) Conn() driver.Conn {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.conn
}

// AppendColumns appends b to an insert block as Write does, without sending it.
func (s *Sink) AppendColumns(ins driver.Batch, b *record.Batch) error { return s.appendColumns(ins, b) }
