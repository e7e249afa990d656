package passivedns

import (
	"github.com/passivedns/passivedns/internal/chsink"
	"github.com/passivedns/passivedns/internal/record"
	"github.com/passivedns/passivedns/internal/recordtest"

	"context"
	"strings"
	"testing"
	"time"

	"github.com/coredns/caddy"
	"github.com/miekg/dns"
)

func TestParseClickHouseHTTP(t *testing.T) {
	tests := []struct {
		input     string
		want      string // httpURL
		shouldErr string
	}{
		{`passivedns`, "http://127.0.0.1:8123/", ""},
		{`passivedns clickhouse://u:p@db.example.org:9000/x`, "http://db.example.org:8123/", ""},
		{`passivedns clickhouse://[::1]:9000/x`, "http://[::1]:8123/", ""},
		// Not a stock single server: inserts stay on clickhouse-go unless told.
		{`passivedns clickhouse://127.0.0.1:19000/x`, "", ""},
		{`passivedns clickhouse://h1:9000,h2:9000/x`, "", ""},
		{`passivedns clickhouse://127.0.0.1:9000/x?secure=true`, "", ""},
		{"passivedns clickhouse://127.0.0.1:19000/x {\n clickhouse_http http://127.0.0.1:18123/\n}", "http://127.0.0.1:18123/", ""},
		{"passivedns {\n clickhouse_http https://db.example.org:8443\n}", "https://db.example.org:8443", ""},
		{"passivedns {\n clickhouse_http off\n}", "", ""},

		{"passivedns {\n clickhouse_http\n}", "", "takes exactly one value"},
		{"passivedns {\n clickhouse_http 127.0.0.1:8123\n}", "", "want the URL of ClickHouse's HTTP interface"},
		{"passivedns {\n clickhouse_http clickhouse://127.0.0.1:9000\n}", "", "want the URL"},
		{"passivedns {\n clickhouse_http http://u:secret@127.0.0.1:8123/\n}", "", "no user, query or fragment"},
		{"passivedns {\n clickhouse_http http://127.0.0.1:8123/?database=x\n}", "", "no user, query or fragment"},
	}
	for i, tc := range tests {
		cfg, err := parse(caddy.NewTestController("dns", tc.input))
		if tc.shouldErr != "" {
			if err == nil || !strings.Contains(err.Error(), tc.shouldErr) {
				t.Errorf("Test %d (%q): error %v, want one containing %q", i, tc.input, err, tc.shouldErr)
			}
			if err != nil && strings.Contains(err.Error(), "secret") {
				t.Errorf("Test %d: the error shows the password: %v", i, err)
			}
			continue
		}
		if err != nil {
			t.Errorf("Test %d (%q): %v", i, tc.input, err)
			continue
		}
		if cfg.httpURL != tc.want {
			t.Errorf("Test %d (%q): clickhouse HTTP %q, want %q", i, tc.input, cfg.httpURL, tc.want)
		}
	}
}

// httpBatch is a batch of odd and typical answers, decoded as the writer decodes them.
func httpBatch(t *testing.T, at time.Time) *record.Batch {
	t.Helper()
	txt := &dns.TXT{Hdr: dns.RR_Header{Name: "txt.example.org.", Rrtype: dns.TypeTXT, Class: dns.ClassINET, Ttl: 60},
		Txt: []string{`say \"hi\"`, `back\\slash`, "caf\xc3\xa9 \xff", `\000\255`, ""}}
	txtMsg := recordtest.Msg(t, "TXT.example.org.", dns.TypeTXT, 0, false)
	txtMsg.Answer = []dns.RR{txt}
	nx := recordtest.Msg(t, "nope.example.org.", dns.TypeA, dns.RcodeNameError, true)
	soa, _ := dns.NewRR("example.org. 300 IN SOA ns1.Example.org. hostmaster.example.org. 1 7200 3600 1209600 300")
	nx.Ns = []dns.RR{soa}
	cs := []record.Capture{
		recordtest.CaptureOf(t, recordtest.Msg(t, "www.Example.org.", dns.TypeA, 0, false, "www.example.org. 300 IN CNAME web.example.net.",
			"web.example.net. 60 IN A 192.0.2.1", "web.example.net. 60 IN A 192.0.2.2"), at, "192.0.2.9", "udp"),
		recordtest.CaptureOf(t, recordtest.Msg(t, `\000\255\"Q\\x\;.example.org.`, dns.TypeCNAME, 0, false,
			`\000\255\"Q\\x\;.example.org. 60 IN CNAME \(t\).Example.org.`), at.Add(time.Millisecond), "2001:db8::1", "tcp"),
		recordtest.CaptureOf(t, txtMsg, at.Add(2*time.Millisecond), "", "udp"),
		recordtest.CaptureOf(t, nx, at.Add(3*time.Millisecond), "192.0.2.9", "udp"),
		recordtest.CaptureOf(t, recordtest.Msg(t, "example.org.", dns.TypeCAA, 0, false, `example.org. 60 IN CAA 0 issue "ca.example.net"`,
			"example.org. 60 IN HINFO \"a b\" \"c\""), at.Add(4*time.Millisecond), "192.0.2.9", "udp"),
		// A day later: a batch spanning two partitions.
		recordtest.CaptureOf(t, recordtest.Msg(t, "mx.example.org.", dns.TypeMX, 0, false, "mx.example.org. 60 IN MX 10 MAIL.example.org."),
			at.Add(24*time.Hour), "192.0.2.9", "udp"),
	}
	return recordtest.BatchOf(t, cs...)
}

// TestHTTPInsertRowsIdentical: the same batch written as a Native block over HTTP and
// through clickhouse-go gives the same rows, byte for byte, batch id included.
func TestHTTPInsertRowsIdentical(t *testing.T) {
	at := time.Now().UTC().Truncate(time.Millisecond).Add(-48 * time.Hour)
	b := httpBatch(t, at)
	dump := map[bool]string{}
	for _, native := range []bool{true, false} {
		db := testCH(t).TestDB(t) + map[bool]string{true: "_http", false: "_native"}[native]
		cfg := chConfig(t, db)
		if native {
			cfg.httpURL = "http://" + testCH(t).HTTPAddr + "/"
		}
		s := httpSink(t, cfg)
		if err := s.Prepare(context.Background()); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { testCH(t).Query("DROP DATABASE IF EXISTS `" + db + "`") })
		if s.Native() != native {
			t.Fatalf("sink writes Native blocks over HTTP: %v, want %v", s.Native(), native)
		}
		again := *b // Write may mark it uncertain
		httpWrite(t, s, &again)
		out, err := testCH(t).Query("SELECT * FROM `" + db + "`.responses ORDER BY time, qname FORMAT TabSeparated")
		if err != nil {
			t.Fatal(err)
		}
		dump[native] = out
	}
	if n := strings.Count(dump[true], "\n"); n != b.Len() {
		t.Fatalf("%d rows over HTTP, want %d:\n%s", n, b.Len(), dump[true])
	}
	if dump[true] != dump[false] {
		t.Errorf("rows differ\nHTTP:\n%s\nclickhouse-go:\n%s", dump[true], dump[false])
	}
}

// TestHTTPInsertLandedCheck: a batch whose HTTP insert may have landed is not written
// twice, and the days that did not land are.
func TestHTTPInsertLandedCheck(t *testing.T) {
	db := testCH(t).TestDB(t)
	cfg := chConfig(t, db)
	cfg.httpURL = "http://" + testCH(t).HTTPAddr + "/"
	s := httpSink(t, cfg)
	at := time.Now().UTC().Truncate(time.Millisecond).Add(-48 * time.Hour)
	b := httpBatch(t, at)
	// Only the first day landed.
	firstDay := b.Subset(func(i int) bool { return b.Rows().Time[i].Before(at.Add(time.Hour)) })
	httpWrite(t, s, firstDay)
	b.Uncertain = true
	httpWrite(t, s, b)
	out, err := testCH(t).Query("SELECT count(), uniqExact(qname) FROM `" + db + "`.responses")
	if err != nil {
		t.Fatal(err)
	}
	if want := "6\t6\n"; out != want {
		t.Errorf("count, distinct names: %q, want %q", out, want)
	}
	// Everything landed: nothing is written.
	firstDay.Uncertain = true
	httpWrite(t, s, firstDay)
	if out, _ := testCH(t).Query("SELECT count() FROM `" + db + "`.responses"); out != "6\n" {
		t.Errorf("after a resend of a landed batch: %q rows, want 6", out)
	}
}

// TestHTTPInsertThroughWriter: captures from the recorder reach the table over HTTP, with
// the writer reusing its batches across inserts.
func TestHTTPInsertThroughWriter(t *testing.T) {
	db := testCH(t).TestDB(t)
	cfg := chConfig(t, db)
	cfg.httpURL = "http://" + testCH(t).HTTPAddr + "/"
	cfg.batch = 3
	s := httpSink(t, cfg)
	w := newWriter(cfg, s)
	if w.free == nil {
		t.Fatal("the writer does not reuse the sink's batches")
	}
	if err := w.start(); err != nil {
		t.Fatal(err)
	}
	at := time.Now().UTC().Truncate(time.Millisecond).Add(-time.Hour)
	const n = 20
	for i := range n {
		m := recordtest.Msg(t, "n"+strings.Repeat("x", i)+".example.org.", dns.TypeA, 0, false)
		w.enqueue(recordtest.CaptureOf(t, m, at.Add(time.Duration(i)*time.Millisecond), "192.0.2.1", "udp"))
	}
	if err := w.stop(); err != nil {
		t.Fatal(err)
	}
	out, err := testCH(t).Query("SELECT count(), uniqExact(qname), min(length(qname)), max(length(qname)) FROM `" + db + "`.responses")
	if err != nil {
		t.Fatal(err)
	}
	if want := "20\t20\t14\t33\n"; out != want {
		t.Errorf("count, names, shortest, longest: %q, want %q", out, want)
	}
}

func httpSink(t *testing.T, cfg config) *chsink.Sink {
	t.Helper()
	s := newSink(cfg)
	t.Cleanup(func() { s.Close() })
	return s
}

func httpWrite(t *testing.T, s *chsink.Sink, b *record.Batch) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := s.Write(ctx, b); err != nil {
		t.Fatalf("write (%d rows, uncertain %v): %v", b.Len(), b.Uncertain, err)
	}
}
