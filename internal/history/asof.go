package history

import (
	"context"
	"slices"
	"sort"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/passivedns/passivedns/internal/record"
)

// As-of: what the resolver answered for a name at an instant.

const (
	asofWindow = 24 * time.Hour // answers older than this before the instant are only a fallback
	// AsOfRows is the most raw answers one as-of query reads.
	AsOfRows = 1000
	// asofMaxDepth bounds the CNAME targets followed to finish a chain.
	asofMaxDepth = 8
)

// AsOfRecord is one record of an answer.
type AsOfRecord struct {
	RRName string `json:"rrname"`
	RRType string `json:"rrtype"`
	TTL    uint32 `json:"ttl"`
	RData  string `json:"rdata"`
}

// AsOfAnswer is the answer picked for one query type.
type AsOfAnswer struct {
	QType      string
	RCode      string
	AnsweredAt time.Time // with milliseconds
	TTL        uint32
	ValidUntil time.Time
	Covers     bool     // false: no answer's TTL covers the instant, this is the last one before it
	Chain      []string // the name, then each CNAME target followed
	Final      []AsOfRecord
	Records    []AsOfRecord
	Followed   bool // the chain was completed from the target's own answers
}

// AsOfRow is one raw answer as AsOfQuery reads it.
type AsOfRow struct {
	T         uint32
	Ms        uint16
	QType     string
	RCode     string
	Names     []string
	Types     []string
	TTLs      []uint32
	Data      []string
	AuthTypes []string
	AuthTTLs  []uint32
}

// TTL is how long the answer may be cached: its smallest TTL, or for a negative answer
// the TTL of its SOA (RFC 2308).
func (r AsOfRow) TTL() uint32 {
	var least uint32
	first := true
	ttls := r.TTLs
	if len(ttls) == 0 {
		for i, t := range r.AuthTypes {
			if t == "SOA" {
				ttls = r.AuthTTLs[i : i+1]
			}
		}
	}
	for _, t := range ttls {
		if first || t < least {
			least, first = t, false
		}
	}
	return least
}

func (d *DB) asofRows(ctx context.Context, name string, at time.Time, types []string, from int64) ([]AsOfRow, error) {
	conn, s, err := d.Get(ctx)
	if err != nil {
		return nil, err
	}
	args := []any{record.Reverse(name), at.Unix(), from}
	if len(types) > 0 {
		args = append(args, GroupSet(types))
	}
	args = append(args, AsOfRows)
	var out []AsOfRow
	err = d.query(ctx, conn, AsOfQuery(s, types), args, func(rows driver.Rows) (bool, error) {
		var x AsOfRow
		if err := rows.Scan(&x.T, &x.Ms, &x.QType, &x.RCode, &x.Names, &x.Types, &x.TTLs, &x.Data, &x.AuthTypes, &x.AuthTTLs); err != nil {
			return false, err
		}
		out = append(out, x)
		return true, nil
	})
	return out, err
}

// AsOf picks, per query type, the last answer for name at or before at whose TTL covers
// at, or else the last answer before at (Covers false), and completes its CNAME chain.
func (d *DB) AsOf(ctx context.Context, name string, at time.Time, types []string) ([]AsOfAnswer, error) {
	return d.asof(ctx, name, at, types, 0)
}

func (d *DB) asof(ctx context.Context, name string, at time.Time, types []string, depth int) ([]AsOfAnswer, error) {
	rows, err := d.asofRows(ctx, name, at, types, max(at.Add(-asofWindow).Unix(), 0))
	if err != nil {
		return nil, err
	}
	if len(rows) == 0 {
		if rows, err = d.asofRows(ctx, name, at, types, 0); err != nil {
			return nil, err
		}
	}
	best := map[string]AsOfRow{}
	covers := map[string]bool{}
	for _, x := range rows { // newest first
		c := int64(x.T)+int64(x.TTL()) >= at.Unix()
		if _, ok := best[x.QType]; !ok || c && !covers[x.QType] {
			best[x.QType], covers[x.QType] = x, c
		}
	}
	qtypes := make([]string, 0, len(best))
	for t := range best {
		qtypes = append(qtypes, t)
	}
	sort.Strings(qtypes)
	answers := []AsOfAnswer{}
	for _, t := range qtypes {
		x := best[t]
		ans := AsOfAnswer{QType: t, RCode: x.RCode, TTL: x.TTL(), Covers: covers[t],
			AnsweredAt: time.UnixMilli(int64(x.T)*1000 + int64(x.Ms)).UTC(),
			ValidUntil: time.Unix(int64(x.T)+int64(x.TTL()), 0).UTC(),
			Records:    []AsOfRecord{}, Final: []AsOfRecord{}}
		for i := range x.Names {
			ans.Records = append(ans.Records, AsOfRecord{RRName: x.Names[i], RRType: x.Types[i], TTL: x.TTLs[i], RData: x.Data[i]})
		}
		ans.Chain = []string{name}
		cur := name
		for hop := 0; hop < 16; hop++ {
			next := ""
			for _, rec := range ans.Records {
				if rec.RRName == cur && rec.RRType == "CNAME" && t != "CNAME" {
					next = rec.RData
					break
				}
			}
			if next == "" || slices.Contains(ans.Chain, next) {
				break
			}
			ans.Chain = append(ans.Chain, next)
			cur = next
		}
		for _, rec := range ans.Records {
			if rec.RRName == cur && (rec.RRType == t || rec.RRType != "CNAME" && t == "ANY") {
				ans.Final = append(ans.Final, rec)
			}
		}
		if len(ans.Final) == 0 && len(ans.Chain) > 1 && x.RCode == "NOERROR" && depth < asofMaxDepth {
			// The answer stopped at a CNAME: the target's own answers at T finish it.
			sub, err := d.asof(ctx, cur, at, []string{t}, depth+1)
			if err != nil {
				return nil, err
			}
			for _, s := range sub {
				if s.QType == t {
					ans.Followed = true
					ans.Chain = append(ans.Chain, s.Chain[1:]...)
					ans.Final = s.Final
					ans.Covers = ans.Covers && s.Covers
				}
			}
		}
		answers = append(answers, ans)
	}
	return answers, nil
}
