package passivedns

import (
	"github.com/passivedns/passivedns/internal/chdbtest"
	"github.com/passivedns/passivedns/internal/history"
	"github.com/passivedns/passivedns/internal/param"
	"github.com/passivedns/passivedns/internal/record"
	"github.com/passivedns/passivedns/internal/recordtest"
	"github.com/passivedns/passivedns/internal/schema"
	"github.com/passivedns/passivedns/internal/watch"

	"net/netip"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/miekg/dns"
)

// TestCompatModernAnalyst runs the SQL of the who-asked lookups and of the watchlist's
// first-sighting check on ClickHouse 26.x (IPv6 client column, DateTime64 times).
func TestCompatModernAnalyst(t *testing.T) {
	sess := chdbtest.ForTest(t)
	s := schema.Schema{Flavor: schema.DetectFlavor("26.5.1"), DB: "pdns_analyst"}
	chdbtest.EnsureSchema(t, sess, s, 0)
	base := time.Now().UTC().Truncate(time.Hour).Add(-48 * time.Hour)
	b := &record.Batch{ID: record.NewBatchID()}
	d := new(record.Decoder)
	add := func(at time.Duration, client, rr string) {
		x, err := dns.NewRR(rr)
		if err != nil {
			t.Fatal(err)
		}
		m := new(dns.Msg)
		m.SetQuestion(x.Header().Name, x.Header().Rrtype)
		m.Response, m.Answer = true, []dns.RR{x}
		wire, _ := m.Pack()
		c := record.Capture{Wire: wire, Time: base.Add(at)}
		if client != "" {
			c.Client = netip.MustParseAddr(client)
		}
		if err := b.Add(&c, d, "s"); err != nil {
			t.Fatal(err)
		}
	}
	add(123*time.Millisecond, "10.240.0.1", "www.example.org. 60 IN A 192.0.2.1")
	add(time.Second+456*time.Millisecond, "2001:db8:ffff::53", "v6.example.org. 60 IN AAAA 2001:db8::1")
	add(24*time.Hour, "2001:db8::1:0:0:1", "alias.example.org. 60 IN CNAME target.example.org.")
	add(24*time.Hour+time.Second, "", "example.org. 60 IN MX 10 mail.example.org.")
	add(25*time.Hour+999*time.Millisecond, "10.240.0.1", "www.example.org. 60 IN A 192.0.2.1")
	recordtest.Insert(t, sess, s, b)
	sec := func(d time.Duration) string { return strconv.FormatInt(base.Add(d).Unix(), 10) }
	run := func(q history.ClientsQuery) string {
		sql, args := q.Build(s)
		return sess.MustExec(t, chdbtest.Bind(t, sql, args...))
	}
	wwwRow := "::ffff:10.240.0.1\twww.example.org.\t['A']\t" + sec(0) + "\t" + sec(25*time.Hour) + "\t2\n"
	aliasRow := "2001:db8::1:0:0:1\talias.example.org.\t['CNAME']\t" + sec(24*time.Hour) + "\t" + sec(24*time.Hour) + "\t1\n"
	v6Row := "2001:db8:ffff::53\tv6.example.org.\t['AAAA']\t" + sec(time.Second) + "\t" + sec(time.Second) + "\t1\n"
	www, _ := param.ParseName("name", "www.example.org", false)
	if got := run(history.ClientsQuery{Name: www, Limit: 10}); got != wwwRow {
		t.Errorf("clients of www:\n got %q\nwant %q", got, wwwRow)
	}
	// The row without a client (::) is nobody; the cursor moves past a key.
	all, _ := param.ParseName("name", "*.example.org", true)
	if got := run(history.ClientsQuery{Name: all, Limit: 10}); got != wwwRow+aliasRow+v6Row {
		t.Errorf("clients under example.org:\n%s", got)
	}
	if got := run(history.ClientsQuery{Name: all, Limit: 10, After: []string{"::ffff:10.240.0.1", record.Reverse("www.example.org.")}}); got != aliasRow+v6Row {
		t.Errorf("clients after the first:\n%s", got)
	}
	v6, _ := param.ParseIP("address", "2001:db8::/32")
	if got := run(history.ClientsQuery{ByClient: true, Client: v6, From: base.Unix(), To: base.Add(30 * time.Hour).Unix(), QTypes: []string{"CNAME"}, Limit: 10}); got != aliasRow {
		t.Errorf("names of 2001:db8::/32:\n%s", got)
	}

	sql := chdbtest.Bind(t, watch.FirstSeenQuery(s.DB), clickhouse.GroupSet{Value: []any{record.Reverse("www.example.org."), record.Reverse("example.org.")}},
		clickhouse.GroupSet{Value: []any{"192.0.2.1", "10 mail.example.org."}})
	lines := strings.Split(strings.TrimSpace(sess.MustExec(t, sql)), "\n")
	sort.Strings(lines)
	if got, want := strings.Join(lines, "\n"), "example.org.\tMX\t10 mail.example.org.\t"+sec(24*time.Hour+time.Second)+"\nwww.example.org.\tA\t192.0.2.1\t"+sec(0); got != want {
		t.Errorf("first sightings:\n got %q\nwant %q", got, want)
	}
}
