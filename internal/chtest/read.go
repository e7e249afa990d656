package chtest

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
)

// Read-back helpers: tests read what the code under test wrote over the native protocol
// with clickhouse-go, so strings compare byte for byte with no escaping in between.

// Timeout bounds each read-back query (Ctx).
const Timeout = 30 * time.Second

// Ctx is a context that ends after Timeout or with the test.
func Ctx(tb testing.TB) context.Context {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), Timeout)
	tb.Cleanup(cancel)
	return ctx
}

type conn struct {
	once sync.Once
	c    driver.Conn
	err  error
}

var conns sync.Map // *Server -> *conn

// Conn is a clickhouse-go connection to the server, shared by the tests of a package.
func (s *Server) Conn(tb testing.TB) driver.Conn {
	tb.Helper()
	v, _ := conns.LoadOrStore(s, new(conn))
	c := v.(*conn)
	c.once.Do(func() {
		var opts *clickhouse.Options
		if opts, c.err = clickhouse.ParseDSN(s.DSN("default")); c.err == nil {
			c.c, c.err = clickhouse.Open(opts)
		}
	})
	if c.err != nil {
		tb.Fatalf("connecting to %s: %v", s.TCPAddr, c.err)
	}
	return c.c
}

// Exec runs sql over HTTP and fails the test when it fails.
func (s *Server) Exec(tb testing.TB, sql string) {
	tb.Helper()
	if _, err := s.Query(sql); err != nil {
		tb.Fatalf("%s: %v", sql, err)
	}
}

// Count runs sql, whose one column is a UInt64, with args bound by the driver.
func (s *Server) Count(tb testing.TB, sql string, args ...any) uint64 {
	tb.Helper()
	var n uint64
	if err := s.Conn(tb).QueryRow(Ctx(tb), sql, args...).Scan(&n); err != nil {
		tb.Fatalf("%s: %v", sql, err)
	}
	return n
}

// modernTable reports whether db.responses has the modern schema flavor: its time is a
// DateTime64 (22.8 and later), not DateTime with a separate time_ms.
func (s *Server) modernTable(tb testing.TB, db string) bool {
	tb.Helper()
	var typ string
	if err := s.Conn(tb).QueryRow(Ctx(tb), "SELECT type FROM system.columns WHERE database = ? AND table = 'responses' AND name = 'time'", db).Scan(&typ); err != nil {
		tb.Fatalf("the type of %s.responses.time: %v", db, err)
	}
	return strings.HasPrefix(typ, "DateTime64")
}

// IPText is SQL that prints an address column as text on either schema flavor.
func IPText(modern bool, col string) string {
	if modern {
		return "toString(" + col + ")"
	}
	return "IPv6NumToString(" + col + ")"
}

// Response is one row of a passivedns responses table, the time at millisecond precision.
type Response struct {
	Time                                                    time.Time
	Sensor, Server, Transport, Client, Qname, Qtype, Qclass string
	Rcode                                                   string
	Flags                                                   uint16
	AnName, AnType, AnClass                                 []string
	AnTTL                                                   []uint32
	AnData                                                  []string
	NsName, NsType, NsClass                                 []string
	NsTTL                                                   []uint32
	NsData                                                  []string
	Size, DurationUs                                        uint32
	BatchID                                                 uint64
}

// Responses reads every row of db.responses, ordered by time and qname. On the legacy
// flavor the milliseconds come from time_ms; on the modern one from the DateTime64 itself.
func (s *Server) Responses(tb testing.TB, db string) []Response {
	tb.Helper()
	modern := s.modernTable(tb, db)
	ms := "time_ms"
	if modern {
		ms = "toUInt16(toUnixTimestamp64Milli(time) % 1000)"
	}
	q := fmt.Sprintf("SELECT toUnixTimestamp(time), %s, sensor, server, transport, %s, qname, qtype, qclass, rcode, flags,"+
		" answer.name, answer.type, answer.class, answer.ttl, answer.data,"+
		" authority.name, authority.type, authority.class, authority.ttl, authority.data,"+
		" size, duration_us, batch_id FROM `%s`.responses ORDER BY time, %s, qname", ms, IPText(modern, "client"), db, ms)
	rows, err := s.Conn(tb).Query(Ctx(tb), q)
	if err != nil {
		tb.Fatalf("%s: %v", q, err)
	}
	defer rows.Close()
	var out []Response
	for rows.Next() {
		var r Response
		var sec uint32
		var msec uint16
		if err := rows.Scan(&sec, &msec, &r.Sensor, &r.Server, &r.Transport, &r.Client, &r.Qname, &r.Qtype, &r.Qclass, &r.Rcode, &r.Flags,
			&r.AnName, &r.AnType, &r.AnClass, &r.AnTTL, &r.AnData,
			&r.NsName, &r.NsType, &r.NsClass, &r.NsTTL, &r.NsData,
			&r.Size, &r.DurationUs, &r.BatchID); err != nil {
			tb.Fatal(err)
		}
		r.Time = time.Unix(int64(sec), int64(msec)*int64(time.Millisecond)).UTC()
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		tb.Fatal(err)
	}
	return out
}

// Qnames are the qnames of db.responses in the order Responses reads them.
func (s *Server) Qnames(tb testing.TB, db string) []string {
	tb.Helper()
	var names []string
	for _, r := range s.Responses(tb, db) {
		names = append(names, r.Qname)
	}
	return names
}

// Lines runs sql over HTTP and returns its TabSeparated rows, tabs shown as spaces.
func (s *Server) Lines(tb testing.TB, sql string) []string {
	tb.Helper()
	out, err := s.Query(sql)
	if err != nil {
		tb.Fatal(err)
	}
	return strings.Split(strings.TrimSuffix(strings.ReplaceAll(out, "\t", " "), "\n"), "\n")
}
