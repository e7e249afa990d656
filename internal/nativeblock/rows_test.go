package nativeblock

import (
	"encoding/hex"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"time"
)

// The responses table as schema.go creates it, in both flavors (copied here until the
// schema moves into a package of its own).
func responsesDDL(db string, modern bool) string {
	if modern {
		return "CREATE TABLE IF NOT EXISTS `" + db + "`.`responses` (" + `
    time DateTime64(3, 'UTC') CODEC(Delta, ZSTD(1)),
    sensor LowCardinality(String),
    server LowCardinality(String),
    transport LowCardinality(String),
    client IPv6,
    qname String CODEC(ZSTD(1)),
    qtype LowCardinality(String),
    qclass LowCardinality(String),
    rcode LowCardinality(String),
    flags UInt16,
    answer Nested(name String, type LowCardinality(String), class LowCardinality(String), ttl UInt32, data String),
    authority Nested(name String, type LowCardinality(String), class LowCardinality(String), ttl UInt32, data String),
    size UInt32,
    duration_us UInt32,
    batch_id UInt64
)
ENGINE = MergeTree
PARTITION BY toYYYYMMDD(time)
ORDER BY (reverse(qname), time)
SETTINGS non_replicated_deduplication_window = 1000`
	}
	return "CREATE TABLE IF NOT EXISTS `" + db + "`.`responses` (" + `
    time DateTime('UTC'),
    time_ms UInt16,
    sensor String,
    server String,
    transport String,
    client FixedString(16),
    qname String,
    qtype String,
    qclass String,
    rcode String,
    flags UInt16,
    answer Nested(name String, type String, class String, ttl UInt32, data String),
    authority Nested(name String, type String, class String, ttl UInt32, data String),
    size UInt32,
    duration_us UInt32,
    batch_id UInt64
)
ENGINE = MergeTree
PARTITION BY toYYYYMMDD(time)
ORDER BY (reverse(qname), time)`
}

type rec struct {
	name, typ, class string
	ttl              uint32
	data             string
}

// row is one response as the writer stores it; dur is unique per row and orders them.
type row struct {
	time                      time.Time
	sensor, server, transport string
	client                    netip.Addr
	qname, qtype, qclass      string
	rcode                     string
	flags                     uint16
	answer, authority         []rec
	size, dur                 uint32
}

// appendTo writes the row as a decoder would: names and data as bytes, labels as bytes
// (interned) or strings.
func (r *row) appendTo(b *Responses) {
	b.Time.Append(r.time)
	b.Sensor.Append(r.sensor)
	b.Server.Append(r.server)
	b.Transport.Append(r.transport)
	b.Client.Append(r.client)
	buf := b.QName.Buf()
	buf = append(buf, r.qname...)
	b.QName.Commit(buf)
	b.QType.AppendBytes([]byte(r.qtype))
	b.QClass.Append(r.qclass)
	b.RCode.Append(r.rcode)
	b.Flags.Append(r.flags)
	for _, s := range []struct {
		recs []rec
		sec  *Section
	}{{r.answer, b.Answer}, {r.authority, b.Authority}} {
		for _, x := range s.recs {
			s.sec.Append([]byte(x.name), x.typ, x.class, x.ttl, []byte(x.data))
		}
		s.sec.EndRow()
	}
	b.Size.Append(r.size)
	b.DurationUs.Append(r.dur)
}

// readBack selects every column so that the text shows the exact bytes: strings as hex.
func readBack(table string, modern bool) string {
	t, lc, client := "toUnixTimestamp(time) * 1000 + time_ms", "hex(%s)", "hex(client)"
	if modern {
		t, lc, client = "toUnixTimestamp64Milli(time)", "hex(toString(%s))", "hex(IPv6StringToNum(IPv6NumToString(client)))"
	}
	arr := func(col string, f string) string { return "arrayMap(x -> " + fmt.Sprintf(f, "x") + ", " + col + ")" }
	cols := []string{t, fmt.Sprintf(lc, "sensor"), fmt.Sprintf(lc, "server"), fmt.Sprintf(lc, "transport"), client,
		"hex(qname)", fmt.Sprintf(lc, "qtype"), fmt.Sprintf(lc, "qclass"), fmt.Sprintf(lc, "rcode"), "flags"}
	for _, s := range []string{"answer", "authority"} {
		cols = append(cols, arr(s+".name", "hex(%s)"), arr(s+".type", lc), arr(s+".class", lc), s+".ttl", arr(s+".data", "hex(%s)"))
	}
	cols = append(cols, "size", "duration_us", "batch_id")
	return "SELECT " + strings.Join(cols, ", ") + " FROM " + table + " ORDER BY duration_us FORMAT TSV"
}

// expect is the line readBack prints for the row.
func (r *row) expect(id uint64) string {
	h := func(s string) string { return strings.ToUpper(hex.EncodeToString([]byte(s))) }
	arr := func(recs []rec, f func(rec) string, quote bool) string {
		parts := make([]string, len(recs))
		for i, x := range recs {
			parts[i] = f(x)
			if quote {
				parts[i] = "'" + parts[i] + "'"
			}
		}
		return "[" + strings.Join(parts, ",") + "]"
	}
	var a16 [16]byte
	if r.client.IsValid() {
		a16 = r.client.As16()
	}
	f := []string{strconv.FormatInt(r.time.UnixMilli(), 10), h(r.sensor), h(r.server), h(r.transport), h(string(a16[:])),
		h(r.qname), h(r.qtype), h(r.qclass), h(r.rcode), strconv.Itoa(int(r.flags))}
	for _, recs := range [][]rec{r.answer, r.authority} {
		f = append(f,
			arr(recs, func(x rec) string { return h(x.name) }, true),
			arr(recs, func(x rec) string { return h(x.typ) }, true),
			arr(recs, func(x rec) string { return h(x.class) }, true),
			arr(recs, func(x rec) string { return strconv.FormatUint(uint64(x.ttl), 10) }, false),
			arr(recs, func(x rec) string { return h(x.data) }, true))
	}
	f = append(f, strconv.FormatUint(uint64(r.size), 10), strconv.FormatUint(uint64(r.dur), 10), strconv.FormatUint(id, 10))
	return strings.Join(f, "\t")
}

// oddRows are the rows every flavor must store byte for byte.
func oddRows() []row {
	base := time.Date(2026, 11, 30, 23, 59, 59, 987_654_321, time.UTC)
	long := strings.Repeat(strings.Repeat("a", 63)+".", 3) + strings.Repeat("b", 61) + "." // 255 octets on the wire
	var all []byte
	for i := range 256 {
		all = append(all, byte(i))
	}
	var txt strings.Builder
	for txt.Len() < 25_000 {
		txt.WriteString(`"v=spf1 \"quoted\" \\ \009\255 ` + strings.Repeat("x", 200) + `" `)
	}
	manyAnswers := make([]rec, 40)
	for i := range manyAnswers {
		manyAnswers[i] = rec{"many.example.", "A", "IN", uint32(i * 1000), fmt.Sprintf("10.0.%d.%d", i/256, i%256)}
	}
	return []row{
		{time: base, sensor: "s1", server: "127.0.0.1:53", transport: "udp", client: netip.MustParseAddr("192.0.2.1"),
			qname: "www.example.com.", qtype: "A", qclass: "IN", rcode: "NOERROR", flags: 0x8180,
			answer: []rec{{"www.example.com.", "CNAME", "IN", 300, "web.example.net."}, {"web.example.net.", "A", "IN", 60, "198.51.100.7"}},
			size:   93, dur: 1},
		{time: base.Add(time.Millisecond), sensor: "s1", server: "[::1]:53", transport: "tcp", client: netip.MustParseAddr("2001:db8::1"),
			qname: `\000\255a\.b\032c.example.`, qtype: "TYPE65280", qclass: "CLASS3", rcode: "NXDOMAIN", flags: 0x8183,
			authority: []rec{{"example.", "SOA", "IN", 3600, "ns.example. hostmaster.example. 1 7200 3600 1209600 3600"}},
			size:      120, dur: 2},
		{time: time.Unix(1_700_000_000, 0).UTC(), sensor: "", server: "", transport: "", client: netip.Addr{},
			qname: ".", qtype: "NS", qclass: "IN", rcode: "NOERROR", size: 17, dur: 3},
		{time: base.Add(2 * time.Second), sensor: "sensor-ü", server: "10.0.0.1:53", transport: "doh", client: netip.MustParseAddr("::ffff:203.0.113.9"),
			qname: long, qtype: "TXT", qclass: "IN", rcode: "NOERROR", flags: 0x8580,
			answer:    []rec{{long, "TXT", "IN", 86400, txt.String()}, {"bin.", "TYPE65534", "CLASS65535", 4294967295, string(all)}},
			authority: []rec{{"", "", "", 0, ""}},
			size:      4294967295, dur: 4},
		{time: base.Add(999 * time.Millisecond), sensor: "s2", server: "127.0.0.1:53", transport: "udp", client: netip.MustParseAddr("198.51.100.200"),
			qname: "many.example.", qtype: "A", qclass: "IN", rcode: "NOERROR", flags: 0x8180,
			answer: manyAnswers, size: 700, dur: 5},
	}
}
