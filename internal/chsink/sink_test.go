package chsink_test

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"net"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/miekg/dns"

	"github.com/passivedns/passivedns/internal/chsink"
	"github.com/passivedns/passivedns/internal/chtest"
	"github.com/passivedns/passivedns/internal/record"
	"github.com/passivedns/passivedns/internal/recordtest"
	"github.com/passivedns/passivedns/internal/schema"
	"github.com/passivedns/passivedns/internal/testkit"
)

// TestWriteRows writes one batch and checks every column of every row.
func TestWriteRows(t *testing.T) {
	s, db := preparedSink(t)
	f := flavor(t)

	// A local time two hours east of UTC, just after midnight: the row belongs to the UTC
	// day before, and the stored time must be the same instant.
	t1 := time.Date(2024, 5, 1, 1, 0, 0, 123_456_789, time.FixedZone("UTC+2", 2*3600))
	t2 := time.Date(2024, 5, 1, 8, 30, 15, 7_000_000, time.UTC)
	t3 := time.Date(2024, 5, 1, 8, 30, 15, 999_999_999, time.UTC)

	// 1: NOERROR A + AAAA-less answer over UDP from an IPv4 client; the name is lowered.
	m1 := recordtest.Msg(t, "WWW.Example.ORG.", dns.TypeA, dns.RcodeSuccess, true,
		"WWW.Example.ORG. 300 IN A 192.0.2.1", "www.example.org. 300 IN A 192.0.2.2")
	c1 := recordtest.CaptureOf(t, m1, t1, "10.240.0.1", "udp")
	// 2: NXDOMAIN with a SOA in authority over TCP from an IPv6 client, a huge duration.
	m2 := recordtest.Msg(t, "nx.example.org.", dns.TypeAAAA, dns.RcodeNameError, false)
	soa, err := dns.NewRR("example.org. 3600 IN SOA NS1.example.org. Hostmaster.example.org. 2024050101 7200 3600 1209600 300")
	if err != nil {
		t.Fatal(err)
	}
	m2.Ns = []dns.RR{soa}
	c2 := recordtest.CaptureOf(t, m2, t2, "2001:db8::53", "tcp")
	c2.Elapsed = 2 * time.Hour // more microseconds than UInt32 holds: clamped
	// 3: CNAME chain and MX, client not recorded (clients off), written as raw bytes with a
	// known size, over DoT.
	m3 := recordtest.Msg(t, "alias.example.org.", dns.TypeMX, dns.RcodeSuccess, false,
		"alias.example.org. 60 IN CNAME Target.Example.org.", "target.example.org. 120 IN MX 10 Mail.Example.org.")
	c3 := recordtest.CaptureOf(t, m3, t3, "", "tls")
	c3.Size, c3.Elapsed = 4242, 0

	b := recordtest.BatchOf(t, c1, c2, c3)
	mustWrite(t, s, b)

	size := func(m *dns.Msg) uint32 {
		c := m.Copy()
		c.Compress = true
		w, err := c.Pack()
		if err != nil {
			t.Fatal(err)
		}
		return uint32(len(w))
	}
	empty, emptyTTL := []string{}, []uint32{}
	want := []chtest.Response{
		{
			Time: time.Date(2024, 4, 30, 23, 0, 0, 123_000_000, time.UTC), Sensor: recordtest.Sensor, Server: "dns://.:53", Transport: "udp",
			Client: "::ffff:10.240.0.1", Qname: "www.example.org.", Qtype: "A", Qclass: "IN", Rcode: "NOERROR",
			Flags:  0x8000 | 0x0400 | 0x0100 | 0x0080, // QR AA RD RA
			AnName: []string{"www.example.org.", "www.example.org."}, AnType: []string{"A", "A"}, AnClass: []string{"IN", "IN"},
			AnTTL: []uint32{300, 300}, AnData: []string{"192.0.2.1", "192.0.2.2"},
			NsName: empty, NsType: empty, NsClass: empty, NsTTL: emptyTTL, NsData: empty,
			Size: size(m1), DurationUs: 1500, BatchID: b.ID,
		},
		{
			Time: time.Date(2024, 5, 1, 8, 30, 15, 7_000_000, time.UTC), Sensor: recordtest.Sensor, Server: "dns://.:53", Transport: "tcp",
			Client: "2001:db8::53", Qname: "nx.example.org.", Qtype: "AAAA", Qclass: "IN", Rcode: "NXDOMAIN",
			Flags:  0x8000 | 0x0100 | 0x0080 | 3,
			AnName: empty, AnType: empty, AnClass: empty, AnTTL: emptyTTL, AnData: empty,
			NsName: []string{"example.org."}, NsType: []string{"SOA"}, NsClass: []string{"IN"}, NsTTL: []uint32{3600},
			NsData: []string{"ns1.example.org. hostmaster.example.org. 2024050101 7200 3600 1209600 300"},
			Size:   size(m2), DurationUs: math.MaxUint32, BatchID: b.ID,
		},
		{
			Time: time.Date(2024, 5, 1, 8, 30, 15, 999_000_000, time.UTC), Sensor: recordtest.Sensor, Server: "dns://.:53", Transport: "tls",
			Client: "::", Qname: "alias.example.org.", Qtype: "MX", Qclass: "IN", Rcode: "NOERROR",
			Flags:  0x8000 | 0x0100 | 0x0080,
			AnName: []string{"alias.example.org.", "target.example.org."}, AnType: []string{"CNAME", "MX"}, AnClass: []string{"IN", "IN"},
			AnTTL: []uint32{60, 120}, AnData: []string{"target.example.org.", "10 mail.example.org."},
			NsName: empty, NsType: empty, NsClass: empty, NsTTL: emptyTTL, NsData: empty,
			Size: 4242, DurationUs: 0, BatchID: b.ID,
		},
	}
	got := testCH.Responses(t, db)
	if len(got) != len(want) {
		t.Fatalf("%d rows in responses, want %d: %+v", len(got), len(want), got)
	}
	for i := range want {
		if !reflect.DeepEqual(got[i], want[i]) {
			t.Errorf("row %d:\n got  %+v\n want %+v", i, got[i], want[i])
		}
	}
	// The partition is the UTC day.
	if n := testCH.Count(t, "SELECT count() FROM `"+db+"`.responses WHERE toDate(time) = toDate('2024-04-30')"); n != 1 {
		t.Errorf("%d rows on 2024-04-30 (UTC), want 1", n)
	}

	wantHist := []historyRow{
		{RRName: "alias.example.org.", RRType: "CNAME", Data: "target.example.org.", First: histTime(f, t3), Last: histTime(f, t3), Count: 1},
		{RRName: "target.example.org.", RRType: "MX", Data: "10 mail.example.org.", First: histTime(f, t3), Last: histTime(f, t3), Count: 1},
		{RRName: "www.example.org.", RRType: "A", Data: "192.0.2.1", First: histTime(f, t1), Last: histTime(f, t1), Count: 1},
		{RRName: "www.example.org.", RRType: "A", Data: "192.0.2.2", First: histTime(f, t1), Last: histTime(f, t1), Count: 1},
	}
	compareHistory(t, "history", history(t, db), wantHist)
}

// TestHistoryAcrossBatches writes the same answers in several batches and checks
// that history aggregates them: first and last seen, and how often.
func TestHistoryAcrossBatches(t *testing.T) {
	s, db := preparedSink(t)
	f := flavor(t)
	base := time.Date(2024, 6, 10, 12, 0, 0, 250_000_000, time.UTC)
	at := func(d time.Duration) time.Time { return base.Add(d) }
	www := func(when time.Time) record.Capture {
		return recordtest.CaptureOf(t, recordtest.Msg(t, "www.example.org.", dns.TypeA, 0, false, "www.example.org. 300 IN A 192.0.2.1"), when, "192.0.2.200", "udp")
	}
	mail := func(when time.Time) record.Capture {
		return recordtest.CaptureOf(t, recordtest.Msg(t, "example.org.", dns.TypeMX, 0, false, "example.org. 300 IN MX 10 mail.example.org."), when, "192.0.2.200", "udp")
	}

	batches := [][]record.Capture{
		{www(at(0)), www(at(1500 * time.Millisecond)), mail(at(time.Second))}, // the batch is not in time order
		{www(at(time.Hour))},
		{mail(at(2 * time.Hour)), www(at(24*time.Hour + 10*time.Millisecond))}, // the next day
	}
	for _, cs := range batches {
		mustWrite(t, s, recordtest.BatchOf(t, cs...))
	}
	want := []historyRow{
		{RRName: "example.org.", RRType: "MX", Data: "10 mail.example.org.", First: histTime(f, at(time.Second)), Last: histTime(f, at(2*time.Hour)), Count: 2},
		{RRName: "www.example.org.", RRType: "A", Data: "192.0.2.1", First: histTime(f, at(0)), Last: histTime(f, at(24*time.Hour+10*time.Millisecond)), Count: 4},
	}
	compareHistory(t, "history", history(t, db), want)
	if n := testCH.Count(t, "SELECT count() FROM `"+db+"`.responses"); n != 6 {
		t.Errorf("%d responses, want 6", n)
	}
}

// TestUncertain covers a write whose outcome was unknown: the retry must insert
// exactly the rows that did not land. On 18.16 the sink looks them up in the raw log; on
// servers with deduplication tokens it sends the batch again whole and each table drops the
// parts it has.
func TestUncertain(t *testing.T) {
	day1 := time.Date(2024, 7, 1, 23, 59, 59, 900_000_000, time.UTC)
	day2 := time.Date(2024, 7, 2, 0, 0, 0, 100_000_000, time.UTC)
	resp := func(name string, when time.Time) record.Capture {
		return recordtest.CaptureOf(t, recordtest.Msg(t, name, dns.TypeA, 0, false, name+" 60 IN A 192.0.2.3"), when, "192.0.2.1", "udp")
	}
	tests := []struct {
		name string
		// landed is the part of the batch already in ClickHouse when the uncertain retry
		// runs; nil when nothing landed.
		landed func(b *record.Batch) *record.Batch
		rows   []record.Capture
		// legacyOnly: a state a cut insert cannot leave on servers with tokens, which name
		// an insert's parts by the token and their order (the second day's part of an
		// insert is never the first one written).
		legacyOnly bool
	}{
		{
			name:   "landed",
			landed: func(b *record.Batch) *record.Batch { return b },
			rows:   []record.Capture{resp("a.example.org.", day1), resp("b.example.org.", day1), resp("c.example.org.", day1)},
		},
		{
			name: "never landed",
			rows: []record.Capture{resp("a.example.org.", day1), resp("b.example.org.", day1.Add(-time.Hour))},
		},
		{
			// One part per partition: the day-1 part landed, the day-2 part did not.
			name: "one of two days landed",
			landed: func(b *record.Batch) *record.Batch {
				return b.Subset(func(i int) bool { return b.Rows().Time[i].Day() == 1 })
			},
			rows: []record.Capture{resp("a.example.org.", day1), resp("b.example.org.", day2), resp("c.example.org.", day1), resp("d.example.org.", day2)},
		},
		{
			name: "the other of two days landed",
			landed: func(b *record.Batch) *record.Batch {
				return b.Subset(func(i int) bool { return b.Rows().Time[i].Day() == 2 })
			},
			rows:       []record.Capture{resp("a.example.org.", day1), resp("b.example.org.", day2), resp("c.example.org.", day1), resp("d.example.org.", day2)},
			legacyOnly: true,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if tc.legacyOnly && flavor(t).Modern {
				t.Skip("not a state a cut insert leaves on this server")
			}
			db := testCH.TestDB(t)
			opts := options(t, db)
			var unsure []string // what the sink reported, beside its log line
			opts.Unsure = func(kind string, rows int) { unsure = append(unsure, fmt.Sprintf("%s %d", kind, rows)) }
			s := newSink(t, opts)
			b := recordtest.BatchOf(t, tc.rows...)
			var wantUnsure []string
			if tc.landed != nil {
				part := tc.landed(b)
				if !flavor(t).Modern {
					// The landed rows are in; the history may not have them (not here:
					// nothing died), which the sink cannot tell on this server.
					wantUnsure = []string{fmt.Sprintf("%s %d", chsink.UnsureHistory, part.Len())}
				}
				if part.ID != b.ID {
					t.Fatalf("subset changed the batch id")
				}
				mustWrite(t, s, part)
				if part.Uncertain {
					t.Fatal("a successful write left the batch uncertain")
				}
			}
			b.Uncertain = true
			mustWrite(t, s, b)

			got := testCH.Responses(t, db)
			var names []string
			for _, r := range got {
				names = append(names, r.Qname+" "+r.Time.Format(time.DateOnly))
			}
			var want []string
			for _, i := range sortedByTime(b) {
				want = append(want, b.Rows().QName[i]+" "+b.Rows().Time[i].Format(time.DateOnly))
			}
			if !reflect.DeepEqual(names, want) {
				t.Errorf("responses after the uncertain retry:\n got  %q\n want %q (each row exactly once)", names, want)
			}
			// The view saw each row once too.
			if n := testCH.Count(t, "SELECT sum(count) FROM `"+db+"`.history"); n != uint64(b.Len()) {
				t.Errorf("history counts %d answers, want %d", n, b.Len())
			}
			if !reflect.DeepEqual(unsure, wantUnsure) {
				t.Errorf("reported unsure: %q, want %q", unsure, wantUnsure)
			}
		})
	}
}

// they come back byte for byte as the Go side rendered them.
func TestOddNames(t *testing.T) {
	s, db := preparedSink(t)
	at := time.Date(2024, 8, 1, 0, 0, 0, 0, time.UTC)

	// A name of exactly 255 octets on the wire: 63+63+63+61 label bytes, 4 length bytes
	// and the root. The first label is all 0xff, the third mixes every awkward byte. odd
	// gives each of those bytes with the form the stored name must have.
	odd := []struct {
		b    byte
		text string
	}{
		{0, `\000`}, {0xff, `\255`}, {'"', `\"`}, {'\\', `\\`}, {'.', `\.`}, {';', `\;`}, {'(', `\(`},
		{')', `\)`}, {' ', `\ `}, {'@', `\@`}, {'\'', `\'`}, {'\t', `\009`}, {0x7f, `\127`}, {'Q', `q`},
	}
	label3 := make([]byte, 63)
	var label3Text strings.Builder
	for i := range label3 {
		label3[i] = odd[i%len(odd)].b
		label3Text.WriteString(odd[i%len(odd)].text)
	}
	long := label(bytesOf(0xff, 63)) + "." + strings.Repeat("B", 63) + "." + label(label3) + "." + strings.Repeat("d", 61) + "."
	if n := wireLen(t, long); n != 255 {
		t.Fatalf("long name is %d octets on the wire, want 255", n)
	}
	// miekg/dns packs longer names but refuses to unpack them: one more label must fail to
	// decode, or the test is not at the limit.
	tooLong := recordtest.CaptureOf(t, recordtest.Msg(t, "x."+long, dns.TypeA, 0, false), time.Now(), "", "udp")
	if err := new(record.Batch).Add(&tooLong, new(record.Decoder), recordtest.Sensor); !errors.Is(err, dns.ErrLongDomain) {
		t.Fatalf("decoding a 257-octet name: %v, want %v", err, dns.ErrLongDomain)
	}

	txt := &dns.TXT{
		Hdr: dns.RR_Header{Name: "txt.example.org.", Rrtype: dns.TypeTXT, Class: dns.ClassINET, Ttl: 60},
		// In miekg/dns a backslash in Txt starts an escape: `\"` is a quote, `\\` a backslash.
		Txt: []string{`say \"hi\"`, `back\\slash`, "caf\xc3\xa9 \xff", `\000\255`, ""},
	}

	// About 60 KB of TXT: 60 records of four 250-byte strings of random bytes.
	rng := rand.New(rand.NewPCG(1, 2))
	big := recordtest.Msg(t, "big.example.org.", dns.TypeTXT, 0, false)
	for i := 0; i < 60; i++ {
		rr := &dns.TXT{Hdr: dns.RR_Header{Name: "big.example.org.", Rrtype: dns.TypeTXT, Class: dns.ClassINET, Ttl: 60}}
		for j := 0; j < 4; j++ {
			b := make([]byte, 250)
			for k := range b {
				b[k] = byte(rng.UintN(256))
			}
			rr.Txt = append(rr.Txt, label(b))
		}
		big.Answer = append(big.Answer, rr)
	}

	escaped := recordtest.Msg(t, `A\.B.Example.org.`, dns.TypeA, 0, false, `A\.B.Example.org. 60 IN A 192.0.2.4`)
	binary := recordtest.Msg(t, `\000\255\"Q\\x\;.example.org.`, dns.TypeCNAME, 0, false,
		`\000\255\"Q\\x\;.example.org. 60 IN CNAME \(t\).Example.org.`)
	longMsg := recordtest.Msg(t, long, dns.TypeA, 0, false)
	longMsg.Answer = []dns.RR{&dns.A{Hdr: dns.RR_Header{Name: long, Rrtype: dns.TypeA, Class: dns.ClassINET, Ttl: 60}, A: net.IPv4(192, 0, 2, 5)}}
	txtMsg := recordtest.Msg(t, "txt.example.org.", dns.TypeTXT, 0, false)
	txtMsg.Answer = []dns.RR{txt}

	cs := []record.Capture{
		recordtest.CaptureOf(t, escaped, at, "192.0.2.1", "udp"),
		recordtest.CaptureOf(t, binary, at.Add(time.Millisecond), "192.0.2.1", "udp"),
		recordtest.CaptureOf(t, longMsg, at.Add(2*time.Millisecond), "192.0.2.1", "udp"),
		recordtest.CaptureOf(t, txtMsg, at.Add(3*time.Millisecond), "192.0.2.1", "udp"),
		recordtest.CaptureOf(t, big, at.Add(4*time.Millisecond), "192.0.2.1", "tcp"),
	}
	if n := len(cs[4].Wire); n < 55_000 || n > dns.MaxMsgSize {
		t.Fatalf("big TXT message is %d bytes, want about 60 KB", n)
	}
	b := recordtest.BatchOf(t, cs...)

	// The Go side: what the stored forms must be.
	lowerLong := strings.Repeat(`\255`, 63) + "." + strings.Repeat("b", 63) + "." + label3Text.String() + "." + strings.Repeat("d", 61) + "."
	wantGo := []struct{ qname, name0, data0 string }{
		{`a\.b.example.org.`, `a\.b.example.org.`, "192.0.2.4"},
		{`\000\255\"q\\x\;.example.org.`, `\000\255\"q\\x\;.example.org.`, `\(t\).example.org.`},
		{lowerLong, lowerLong, "192.0.2.5"},
		{"txt.example.org.", "txt.example.org.", `"say \"hi\"" "back\\slash" "caf\195\169 \255" "\000\255" ""`},
	}
	for i, w := range wantGo {
		if b.Rows().QName[i] != w.qname || b.Rows().Answer.Name[i][0] != w.name0 || b.Rows().Answer.Data[i][0] != w.data0 {
			t.Errorf("row %d decoded as qname %q, answer %q %q; want %q, %q %q",
				i, b.Rows().QName[i], b.Rows().Answer.Name[i][0], b.Rows().Answer.Data[i][0], w.qname, w.name0, w.data0)
		}
	}
	if l := len(b.Rows().QName[2]); l <= 255 {
		t.Errorf("presentation form of the 255-octet name is only %d bytes; its escapes were lost", l)
	}

	mustWrite(t, s, b)
	got := testCH.Responses(t, db)
	if len(got) != b.Len() {
		t.Fatalf("%d rows, want %d", len(got), b.Len())
	}
	for i, r := range got {
		if r.Qname != b.Rows().QName[i] {
			t.Errorf("row %d: qname %q, want %q", i, r.Qname, b.Rows().QName[i])
		}
		if !reflect.DeepEqual(r.AnName, b.Rows().Answer.Name[i]) {
			t.Errorf("row %d: answer.name %q, want %q", i, r.AnName, b.Rows().Answer.Name[i])
		}
		if !reflect.DeepEqual(r.AnData, b.Rows().Answer.Data[i]) {
			t.Errorf("row %d (%s): answer.data differs from the Go side (%d vs %d records)", i, b.Rows().QName[i], len(r.AnData), len(b.Rows().Answer.Data[i]))
		}
	}
	var total int
	for _, d := range got[4].AnData {
		total += len(d)
	}
	if total < 60_000 {
		t.Errorf("the big TXT set is stored in %d bytes of rdata, want more than 60000", total)
	}

	// The names are found by exact match through the materialized view as well.
	for _, name := range []string{`a\.b.example.org.`, `\000\255\"q\\x\;.example.org.`, lowerLong, "txt.example.org."} {
		if n := testCH.Count(t, "SELECT toUInt64(count()) FROM `"+db+"`.history WHERE rrname = ?", name); n != 1 {
			t.Errorf("history rows for %q: %d, want 1", name, n)
		}
	}
	if n := testCH.Count(t, "SELECT toUInt64(count()) FROM `"+db+"`.history WHERE rrname = 'big.example.org.'"); n != 60 {
		t.Errorf("history rows for big.example.org.: %d, want 60", n)
	}
}

// TestClosedPort checks that an unreachable server is a retryable error, not a
// fatal one and not rejected rows.
func TestClosedPort(t *testing.T) {
	ports, err := testkit.FreePorts(1)
	if err != nil {
		t.Fatal(err)
	}
	opts := options(t, testCH.TestDB(t))
	ch := *opts.ClickHouse
	ch.Addr = []string{fmt.Sprintf("127.0.0.1:%d", ports[0])} // nothing listens there
	opts.ClickHouse = &ch
	s := newSink(t, opts)
	err = s.Prepare(chtest.Ctx(t))
	if err == nil || errors.Is(err, schema.ErrFatal) || errors.Is(err, chsink.ErrRejected) {
		t.Errorf("prepare against a closed port: %v; want a plain (retryable) error", err)
	}
}

// TestSchemaDropped drops the database under a running sink: the next write fails
// and makes the sink check the schema again, so the write after it recreates the schema
// (schema auto) and succeeds.
func TestSchemaDropped(t *testing.T) {
	s, db := preparedSink(t)
	cs, _ := recordtest.Numbered(t, "dropped", 2)
	mustWrite(t, s, recordtest.BatchOf(t, cs[0]))
	testCH.Exec(t, "DROP DATABASE `"+db+"`")

	err := s.Write(chtest.Ctx(t), recordtest.BatchOf(t, cs[1]))
	var ex *clickhouse.Exception
	if !errors.As(err, &ex) || (ex.Code != schema.CodeUnknownDatabase && ex.Code != schema.CodeUnknownTable) {
		t.Fatalf("write after DROP DATABASE: %v; want ClickHouse error %d or %d", err, schema.CodeUnknownDatabase, schema.CodeUnknownTable)
	}
	if errors.Is(err, schema.ErrFatal) || errors.Is(err, chsink.ErrRejected) {
		t.Errorf("write after DROP DATABASE: %v must stay retryable", err)
	}
	mustWrite(t, s, recordtest.BatchOf(t, cs[1]))
	if got := testCH.Qnames(t, db); !reflect.DeepEqual(got, []string{"dropped001.example.org."}) {
		t.Errorf("rows after the schema was recreated: %q", got)
	}
	if n := testCH.Count(t, "SELECT toUInt64(max(version)) FROM `"+db+"`.schema_version"); n != schema.Version {
		t.Errorf("recreated schema is version %d, want %d", n, schema.Version)
	}
}
