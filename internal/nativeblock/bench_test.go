package nativeblock

import (
	"context"
	"fmt"
	"net/netip"
	"syscall"
	"testing"
	"time"

	"github.com/ClickHouse/ch-go/proto"
	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/column"
	chproto "github.com/ClickHouse/clickhouse-go/v2/lib/proto"
)

// benchRec and benchRow are a response ready to append: text as bytes (what a decoder
// writes) and, for clickhouse-go, the same text as strings.
type benchRec struct {
	name, data   []byte
	sname, sdata string
	typ, class   string
	ttl          uint32
}

type benchRow struct {
	time         time.Time
	client       netip.Addr
	client16     string // FixedString(16) for clickhouse-go
	qname        []byte
	sqname       string
	qtype, rcode string
	flags        uint16
	answer, auth []benchRec
	size, dur    uint32
}

// benchMix is a realistic resolver mix: A and AAAA answers, CNAME chains, NXDOMAIN with
// the zone's SOA, MX and TXT; names of 15-40 characters; IPv4 clients.
func benchMix(n int) []benchRow {
	mk := func(name, typ string, ttl uint32, data string) benchRec {
		return benchRec{name: []byte(name), data: []byte(data), sname: name, sdata: data, typ: typ, class: "IN", ttl: ttl}
	}
	start := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	rows := make([]benchRow, n)
	for i := range rows {
		host := fmt.Sprintf("host%d.service%d.example.com.", i%997, i%13)
		r := benchRow{time: start.Add(time.Duration(i) * 37 * time.Microsecond), qtype: "A", rcode: "NOERROR", flags: 0x8180,
			size: uint32(60 + i%200), dur: uint32(i % 5000)}
		r.client = netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)})
		a16 := r.client.As16()
		r.client16 = string(a16[:])
		switch i % 8 {
		case 0, 1, 2:
			r.answer = []benchRec{mk(host, "A", 300, fmt.Sprintf("192.0.2.%d", i%256))}
		case 3:
			r.qtype = "AAAA"
			r.answer = []benchRec{mk(host, "AAAA", 300, fmt.Sprintf("2001:db8::%x", i%65536))}
		case 4:
			cdn := fmt.Sprintf("edge%d.cdn.example.net.", i%31)
			r.answer = []benchRec{mk(host, "CNAME", 3600, cdn), mk(cdn, "A", 20, "198.51.100.1"), mk(cdn, "A", 20, "198.51.100.2")}
		case 5:
			r.rcode, r.flags = "NXDOMAIN", 0x8183
			r.auth = []benchRec{mk("example.com.", "SOA", 900, "ns1.example.com. hostmaster.example.com. 2026120101 7200 3600 1209600 3600")}
		case 6:
			r.qtype = "MX"
			r.answer = []benchRec{mk(host, "MX", 3600, "10 mx1.example.com."), mk(host, "MX", 3600, "20 mx2.example.com.")}
		case 7:
			r.qtype = "TXT"
			r.answer = []benchRec{mk(host, "TXT", 300, `"v=spf1 include:_spf.example.com ~all"`)}
		}
		r.qname, r.sqname = []byte(host), host
		rows[i] = r
	}
	return rows
}

func (r *benchRow) appendTo(b *Responses) {
	b.Time.Append(r.time)
	b.Sensor.Append("sensor1")
	b.Server.Append("127.0.0.1:53")
	b.Transport.Append("udp")
	b.Client.Append(r.client)
	b.QName.AppendBytes(r.qname)
	b.QType.Append(r.qtype)
	b.QClass.Append("IN")
	b.RCode.Append(r.rcode)
	b.Flags.Append(r.flags)
	for _, x := range r.answer {
		b.Answer.Append(x.name, x.typ, x.class, x.ttl, x.data)
	}
	b.Answer.EndRow()
	for _, x := range r.auth {
		b.Authority.Append(x.name, x.typ, x.class, x.ttl, x.data)
	}
	b.Authority.EndRow()
	b.Size.Append(r.size)
	b.DurationUs.Append(r.dur)
}

// values is the row as clickhouse-go's Append takes it, in the order of Columns.
func (r *benchRow) values(modern bool, id uint64) []any {
	sec := func(recs []benchRec) (name, typ, class []string, ttl []uint32, data []string) {
		for _, x := range recs {
			name, typ, class = append(name, x.sname), append(typ, x.typ), append(class, x.class)
			ttl, data = append(ttl, x.ttl), append(data, x.sdata)
		}
		if name == nil { // empty arrays, not nil
			name, typ, class, ttl, data = []string{}, []string{}, []string{}, []uint32{}, []string{}
		}
		return
	}
	an, at, ac, al, ad := sec(r.answer)
	un, ut, uc, ul, ud := sec(r.auth)
	v := []any{r.time}
	var client any = r.client16
	if modern {
		client = netip.AddrFrom16(r.client.As16())
	} else {
		v = append(v, uint16(r.time.Nanosecond()/int(time.Millisecond)))
	}
	return append(v, "sensor1", "127.0.0.1:53", "udp", client, r.sqname, r.qtype, "IN", r.rcode, r.flags,
		an, at, ac, al, ad, un, ut, uc, ul, ud, r.size, r.dur, id)
}

// chgoTypes are the clickhouse-go column types of the responses table.
func chgoTypes(modern bool) []column.Type {
	lc, arr := column.Type("String"), column.Type("Array(String)")
	t := []column.Type{"DateTime('UTC')", "UInt16"}
	ip := column.Type("FixedString(16)")
	if modern {
		lc, arr, ip = "LowCardinality(String)", "Array(LowCardinality(String))", "IPv6"
		t = []column.Type{"DateTime64(3, 'UTC')"}
	}
	t = append(t, lc, lc, lc, ip, "String", lc, lc, lc, "UInt16")
	for range 2 {
		t = append(t, "Array(String)", arr, arr, "Array(UInt32)", "Array(String)")
	}
	return append(t, "UInt32", "UInt32", "UInt64")
}

const benchBatch = 10_000

var flavors = []struct {
	name   string
	modern bool
}{{"portable", false}, {"modern", true}}

// BenchmarkAppendEncode: one op is one response appended to the columns; every 10,000 the
// block is encoded (Native format) and the columns reset, as a writer does per batch.
// nativeblock against clickhouse-go's row Append (what PrepareBatch/Append does) and its
// block encoding, same rows, same run.
func BenchmarkAppendEncode(b *testing.B) {
	rows := benchMix(benchBatch)
	for _, f := range flavors {
		b.Run("nativeblock/"+f.name, func(b *testing.B) {
			blk := New(f.modern)
			var buf proto.Buffer
			// One batch first: the steady state reuses every buffer.
			for i := range rows {
				rows[i].appendTo(blk)
			}
			if err := blk.Encode(&buf, 1); err != nil {
				b.Fatal(err)
			}
			blk.Reset()
			b.ReportAllocs()
			b.ResetTimer()
			for i := range b.N {
				rows[i%benchBatch].appendTo(blk)
				if blk.Rows() == benchBatch || i == b.N-1 {
					buf.Reset()
					if err := blk.Encode(&buf, 1); err != nil {
						b.Fatal(err)
					}
					blk.Reset()
				}
			}
			reportRate(b)
		})
		b.Run("clickhouse-go/"+f.name, func(b *testing.B) {
			blk := chproto.NewBlock()
			cols := New(f.modern).Columns()
			for i, t := range chgoTypes(f.modern) {
				if err := blk.AddColumn(cols[i], t); err != nil {
					b.Fatal(err)
				}
			}
			var buf proto.Buffer
			for i := range rows {
				if err := blk.Append(rows[i].values(f.modern, 1)...); err != nil {
					b.Fatal(err)
				}
			}
			if err := blk.Encode(&buf, 54412); err != nil {
				b.Fatal(err)
			}
			blk.Reset()
			b.ReportAllocs()
			b.ResetTimer()
			for i := range b.N {
				if err := blk.Append(rows[i%benchBatch].values(f.modern, 1)...); err != nil {
					b.Fatal(err)
				}
				if blk.Rows() == benchBatch || i == b.N-1 {
					buf.Reset()
					if err := blk.Encode(&buf, 54412); err != nil {
						b.Fatal(err)
					}
					blk.Reset()
				}
			}
			reportRate(b)
		})
	}
}

func reportRate(b *testing.B) {
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "rows/s")
}

// cpuTime is the CPU time of this process: the client's, the server being another one.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkInsert1816: end to end into the 18.16 server, one op per response, batches of
// 10,000 acknowledged by the server: nativeblock over HTTP against clickhouse-go's
// PrepareBatch/Append/Send over the native protocol. cpu-ns/row is this process's CPU
// (user + system) per row, GC included; ns/op is wall time, the server's work included.
// Run with -benchtime=100000x for 100k rows.
func BenchmarkInsert1816(b *testing.B) {
	rows := benchMix(benchBatch)
	ctx := context.Background()
	b.Run("nativeblock-http", func(b *testing.B) {
		db := "nb_bench_http"
		benchDB(b, db)
		in := inserter(b, db)
		blk := New(false)
		for i := range rows {
			rows[i].appendTo(blk)
		}
		if err := in.Insert(ctx, []*Responses{blk}, 0); err != nil {
			b.Fatal(err)
		}
		blk.Reset()
		if _, err := testCH.Query("TRUNCATE TABLE " + db + ".responses"); err != nil {
			b.Fatal(err)
		}
		b.ReportAllocs()
		cpu := cpuTime()
		b.ResetTimer()
		for i := range b.N {
			rows[i%benchBatch].appendTo(blk)
			if blk.Rows() == benchBatch || i == b.N-1 {
				if err := in.Insert(ctx, []*Responses{blk}, uint64(i)); err != nil {
					b.Fatal(err)
				}
				blk.Reset()
			}
		}
		b.StopTimer()
		reportInsert(b, cpuTime()-cpu, db)
	})
	b.Run("clickhouse-go-native", func(b *testing.B) {
		db := "nb_bench_native"
		benchDB(b, db)
		conn, err := clickhouse.Open(&clickhouse.Options{Addr: []string{testCH.TCPAddr}})
		if err != nil {
			b.Fatal(err)
		}
		defer conn.Close()
		if err := conn.Ping(ctx); err != nil {
			b.Fatal(err)
		}
		cols := New(false).Columns()
		q := "INSERT INTO " + db + ".responses (`" + cols[0] + "`"
		for _, c := range cols[1:] {
			q += ", `" + c + "`"
		}
		q += ")"
		b.ReportAllocs()
		cpu := cpuTime()
		b.ResetTimer()
		for lo := 0; lo < b.N; lo += benchBatch {
			ins, err := conn.PrepareBatch(ctx, q)
			if err != nil {
				b.Fatal(err)
			}
			for i := lo; i < min(lo+benchBatch, b.N); i++ {
				if err := ins.Append(rows[i%benchBatch].values(false, uint64(lo))...); err != nil {
					b.Fatal(err)
				}
			}
			if err := ins.Send(); err != nil {
				b.Fatal(err)
			}
		}
		b.StopTimer()
		reportInsert(b, cpuTime()-cpu, db)
	})
}

func benchDB(b *testing.B, db string) {
	for _, q := range []string{"DROP DATABASE IF EXISTS " + db, "CREATE DATABASE " + db, responsesDDL(db, false)} {
		if _, err := testCH.Query(q); err != nil {
			b.Fatal(err)
		}
	}
}

// reportInsert adds rows/s and cpu-ns/row, and checks that every row landed.
func reportInsert(b *testing.B, cpu time.Duration, db string) {
	reportRate(b)
	b.ReportMetric(float64(cpu.Nanoseconds())/float64(b.N), "cpu-ns/row")
	out, err := testCH.Query("SELECT count() FROM " + db + ".responses")
	if err != nil {
		b.Fatal(err)
	}
	if out != fmt.Sprintf("%d\n", b.N) {
		b.Fatalf("%s rows landed, want %d", out, b.N)
	}
}
