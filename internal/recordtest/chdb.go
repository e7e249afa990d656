package recordtest

import (
	"fmt"
	"net/netip"
	"strings"
	"testing"

	"github.com/passivedns/passivedns/internal/chdbtest"
	"github.com/passivedns/passivedns/internal/record"
	"github.com/passivedns/passivedns/internal/schema"
)

// A batch's rows on ClickHouse 26.x: chDB is an engine, not a server, so the sink's insert
// runs with the rows as literals.

// Insert runs InsertSQL of b in the session.
func Insert(tb testing.TB, sess *chdbtest.Session, s schema.Schema, b *record.Batch) {
	tb.Helper()
	sess.MustExec(tb, InsertSQL(tb, s, b))
}

// InsertSQL is the sink's insert of b (s.InsertResponses(), the columns chsink sends) with
// the rows as literals, and on the modern flavor the settings chsink adds. It runs on a
// clickhouse-server of either flavor too, for tests that must not depend on the sink.
func InsertSQL(tb testing.TB, s schema.Schema, b *record.Batch) string {
	tb.Helper()
	settings := ""
	if s.Flavor.Modern {
		settings = fmt.Sprintf(" SETTINGS insert_deduplication_token = '%d', deduplicate_blocks_in_dependent_materialized_views = 1", b.ID)
	}
	return s.InsertResponses() + settings + " VALUES " + values(tb, s, b)
}

// values is b as the rows of an INSERT ... VALUES in the columns of s.InsertResponses().
func values(tb testing.TB, s schema.Schema, batch *record.Batch) string {
	tb.Helper()
	b := batch.Rows()
	var rows []string
	for i := range batch.Len() {
		var v []string
		for _, col := range s.ResponseColumns() {
			var lit string
			switch col {
			case "time":
				ts := b.Time[i].Format("2006-01-02 15:04:05")
				if s.Flavor.Modern {
					ts = b.Time[i].Format("2006-01-02 15:04:05.000")
				}
				lit = chdbtest.Literal(ts)
			case "time_ms":
				lit = chdbtest.Literal(b.TimeMs[i])
			case "client":
				a := b.Client[i]
				text := "::"
				if a.IsValid() {
					text = ipv6Text(a.As16())
				}
				lit = chdbtest.Literal(text)
				if !s.Flavor.Modern {
					lit = "IPv6StringToNum(" + lit + ")" // FixedString(16)
				}
			case "sensor":
				lit = chdbtest.Literal(b.Sensor[i])
			case "server":
				lit = chdbtest.Literal(b.Server[i])
			case "transport":
				lit = chdbtest.Literal(b.Transport[i])
			case "qname":
				lit = chdbtest.Literal(b.QName[i])
			case "qtype":
				lit = chdbtest.Literal(b.QType[i])
			case "qclass":
				lit = chdbtest.Literal(b.QClass[i])
			case "rcode":
				lit = chdbtest.Literal(b.RCode[i])
			case "flags":
				lit = chdbtest.Literal(b.Flags[i])
			case "answer.name":
				lit = chdbtest.Literal(b.Answer.Name[i])
			case "answer.type":
				lit = chdbtest.Literal(b.Answer.Type[i])
			case "answer.class":
				lit = chdbtest.Literal(b.Answer.Class[i])
			case "answer.ttl":
				lit = chdbtest.Literal(b.Answer.TTL[i])
			case "answer.data":
				lit = chdbtest.Literal(b.Answer.Data[i])
			case "authority.name":
				lit = chdbtest.Literal(b.Authority.Name[i])
			case "authority.type":
				lit = chdbtest.Literal(b.Authority.Type[i])
			case "authority.class":
				lit = chdbtest.Literal(b.Authority.Class[i])
			case "authority.ttl":
				lit = chdbtest.Literal(b.Authority.TTL[i])
			case "authority.data":
				lit = chdbtest.Literal(b.Authority.Data[i])
			case "size":
				lit = chdbtest.Literal(b.Size[i])
			case "duration_us":
				lit = chdbtest.Literal(b.DurationUs[i])
			case "batch_id":
				lit = chdbtest.Literal(batch.ID)
			default:
				tb.Fatalf("insert column %q has no literal in this test", col)
			}
			v = append(v, lit)
		}
		rows = append(rows, "("+strings.Join(v, ", ")+")")
	}
	return strings.Join(rows, ", ")
}

// ipv6Text prints a 16-byte address as ClickHouse does (IPv4-mapped as ::ffff:a.b.c.d).
func ipv6Text(a [16]byte) string {
	return netip.AddrFrom16(a).String()
}
