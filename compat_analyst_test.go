package passivedns

import (
	"github.com/passivedns/passivedns/internal/history"
	"github.com/passivedns/passivedns/internal/param"
	"github.com/passivedns/passivedns/internal/record"
	"github.com/passivedns/passivedns/internal/schema"
	"github.com/passivedns/passivedns/internal/watch"

	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
)

// TestCompatModernAnalyst runs the SQL of the who-asked lookups and of the watchlist's
// first-sighting check on ClickHouse 26.x (IPv6 client column, DateTime64 times).
func TestCompatModernAnalyst(t *testing.T) {
	sess := chdbSession(t)
	s := schema.Schema{Flavor: schema.DetectFlavor("26.5.1"), DB: "pdns_analyst"}
	chdbEnsureSchema(t, sess, s, 0, time.Now())
	base := time.Now().UTC().Truncate(24 * time.Hour).Add(-3*24*time.Hour + 23*time.Hour)
	before, after := chdbBatches(t, base)
	chdbInsert(t, sess, s, before)
	chdbInsert(t, sess, s, after)
	run := func(q history.ClientsQuery) string {
		sql, args := q.Build(s)
		return chdbExec(t, sess, chdbBind(t, sql, args...))
	}
	www, _ := param.ParseName("name", "www.example.org", false)
	if got, want := run(history.ClientsQuery{Name: www, Limit: 10}), "::ffff:10.240.0.1\twww.example.org.\t['A']\t"+
		chdbSec(base.Add(123*time.Millisecond))+"\t"+chdbSec(base.Add(48*time.Hour+999*time.Millisecond))+"\t2\n"; got != want {
		t.Errorf("clients of www:\n got %q\nwant %q", got, want)
	}
	// The rows without a client (::) are nobody; the cursor moves past a key.
	all, _ := param.ParseName("name", "*.example.org", true)
	if got := run(history.ClientsQuery{Name: all, Limit: 10}); got != "::ffff:10.240.0.1\twww.example.org.\t['A']\t"+
		chdbSec(base.Add(123*time.Millisecond))+"\t"+chdbSec(base.Add(48*time.Hour+999*time.Millisecond))+"\t2\n"+
		"2001:db8::1:0:0:1\talias.example.org.\t['A']\t"+chdbSec(base.Add(24*time.Hour))+"\t"+chdbSec(base.Add(24*time.Hour))+"\t1\n"+
		"2001:db8:ffff::53\tv6.example.org.\t['AAAA']\t"+chdbSec(base.Add(time.Second))+"\t"+chdbSec(base.Add(time.Second))+"\t1\n" {
		t.Errorf("clients under example.org:\n%s", got)
	}
	if got := run(history.ClientsQuery{Name: all, Limit: 10, After: []string{"::ffff:10.240.0.1", record.Reverse("www.example.org.")}}); got != "2001:db8::1:0:0:1\talias.example.org.\t['A']\t"+
		chdbSec(base.Add(24*time.Hour))+"\t"+chdbSec(base.Add(24*time.Hour))+"\t1\n"+"2001:db8:ffff::53\tv6.example.org.\t['AAAA']\t"+chdbSec(base.Add(time.Second))+"\t"+chdbSec(base.Add(time.Second))+"\t1\n" {
		t.Errorf("clients after the first:\n%s", got)
	}
	v6, _ := param.ParseIP("address", "2001:db8::/32")
	if got := run(history.ClientsQuery{ByClient: true, Client: v6, From: base.Unix(), To: base.Add(30 * time.Hour).Unix(), QTypes: []string{"A"}, Limit: 10}); got != "2001:db8::1:0:0:1\talias.example.org.\t['A']\t"+
		chdbSec(base.Add(24*time.Hour))+"\t"+chdbSec(base.Add(24*time.Hour))+"\t1\n" {
		t.Errorf("names of 2001:db8::/32:\n%s", got)
	}

	sql := chdbBind(t, watch.FirstSeenQuery(s.DB), clickhouse.GroupSet{Value: []any{record.Reverse("www.example.org."), record.Reverse("example.org.")}},
		clickhouse.GroupSet{Value: []any{"192.0.2.1", "10 mail.example.org."}})
	if got := chdbSortLines(chdbExec(t, sess, sql)); got != chdbSortLines("www.example.org.\tA\t192.0.2.1\t"+chdbSec(base.Add(123*time.Millisecond))+"\n"+
		"example.org.\tMX\t10 mail.example.org.\t"+chdbSec(base.Add(24*time.Hour))+"\n") {
		t.Errorf("first sightings:\n%s", got)
	}
}

func chdbSec(t time.Time) string { return itoa(int(t.Unix())) }
