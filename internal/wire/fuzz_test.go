package wire

import (
	"strconv"
	"strings"
	"testing"

	"github.com/miekg/dns"
)

// seeds are realistic answers of every common type, packed with and without
// compression, plus the odd and the broken.
func seeds(tb testing.TB) [][]byte {
	var out [][]byte
	add := func(m *dns.Msg) {
		out = append(out, pack(tb, m, false), pack(tb, m, true))
	}
	for _, tc := range cases {
		add(reply(tb, tc.qname, tc.qtype, tc.rcode, tc.answer, tc.ns, tc.tweak))
	}
	for _, w := range benchMessages(tb) {
		out = append(out, w)
	}
	// Huge TXT: many 255-octet strings, binary and quoting included.
	var txt strings.Builder
	txt.WriteString("big.example. 60 IN TXT")
	for i := range 40 {
		txt.WriteString(` "`)
		for j := range 255 {
			b := byte(i*255 + j)
			txt.WriteString(`\`)
			txt.WriteString(string([]byte{'0' + b/100, '0' + b/10%10, '0' + b%10}))
		}
		txt.WriteString(`"`)
	}
	add(reply(tb, "big.example.", dns.TypeTXT, 0, []string{txt.String()}, nil, nil))
	// Many names: the compressor's map, not only its linear scan.
	var many []string
	for i := range 60 {
		many = append(many, strings.Repeat("x", i%7+1)+".n"+string(rune('a'+i%26))+".example. 60 IN CNAME t"+string(rune('a'+i%13))+".example.net.")
	}
	add(reply(tb, "many.example.", dns.TypeCNAME, 0, many, nil, nil))
	// More suffixes than the compressor's table holds: its map.
	var lots []string
	for i := range 1500 { // past 16 KiB: offsets too far to point to
		n := strconv.Itoa(i)
		lots = append(lots, "h"+n+".s"+n+".example. 60 IN MX "+n+" mx.s"+n+".example.")
	}
	add(reply(tb, "lots.example.", dns.TypeMX, 0, lots, nil, nil))
	// Other types through miekg/dns, mixed with the walked ones.
	add(reply(tb, "mix.example.", dns.TypeANY, 0, []string{
		"mix.example. 60 IN A 192.0.2.1",
		"mix.example. 60 IN DS 12345 8 2 0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF",
		`mix.example. 60 IN NAPTR 100 10 "U" "E2U+sip" "!^.*$!sip:info@example.com!" Repl.Example.`,
		"mix.example. 60 IN KX 10 KX.Example.",
		"mix.example. 60 IN HINFO \"CPU\" \"OS\"",
	}, []string{"example. 60 IN NS ns.example."}, func(m *dns.Msg) { m.SetEdns0(4096, true) }))
	// Two questions; no question.
	m := reply(tb, "one.example.", dns.TypeA, 0, nil, nil, nil)
	m.Question = append(m.Question, dns.Question{Name: "Two.Example.", Qtype: dns.TypeAAAA, Qclass: dns.ClassINET})
	add(m)
	m = reply(tb, "one.example.", dns.TypeA, 0, []string{"one.example. 1 IN A 192.0.2.1"}, nil, nil)
	m.Question = nil
	add(m)
	// Cut and broken copies of a compressed answer.
	good := pack(tb, reply(tb, "www.example.org.", dns.TypeA, 0,
		[]string{"www.example.org. 300 IN CNAME web.example.org.", "web.example.org. 300 IN A 192.0.2.1"}, nil, nil), true)
	for _, n := range []int{0, 5, 12, 13, 20, 33, 40, len(good) - 4, len(good) - 1} {
		out = append(out, good[:n])
	}
	hdr := good[:12]
	for _, tail := range [][]byte{
		{0xC0, 12, 0, 1, 0, 1},         // pointer to itself
		{0xC0, 18, 0, 1, 0, 1, 0},      // pointer forward
		{0x40, 0, 0, 1, 0, 1},          // reserved label type
		{1, 'a', 0xC0, 12, 0, 1, 0, 1}, // loop through a label
		{0, 0, 1},                      // question cut in its type
	} {
		out = append(out, append(append([]byte{}, hdr...), tail...))
	}
	return out
}

var fuzzDecoder Decoder // reused across inputs, as the writer reuses it

// FuzzWireMatchesMiekg: for any input the walk gives the rows of the reference
// (Msg.Unpack and rows.go's text rules): the same error or the same text, and the
// same size whenever it computes one.
func FuzzWireMatchesMiekg(f *testing.F) {
	for _, s := range seeds(f) {
		f.Add(s, true)
		f.Add(s, false)
	}
	f.Fuzz(func(t *testing.T, wire []byte, compress bool) {
		compare(t, &fuzzDecoder, wire, compress)
		// Most mutations break the message and miekg/dns answers for it; what it
		// makes of one, packed again, is a well-formed message carrying the
		// mutated names and data: that exercises the walk itself.
		var m dns.Msg
		if m.Unpack(wire) != nil {
			return
		}
		m.Compress = compress
		if again, err := m.Pack(); err == nil {
			compare(t, &fuzzDecoder, again, compress)
			compare(t, &fuzzDecoder, again, !compress)
		}
	})
}

// TestSeeds runs the corpus in every test run, with a fresh and a reused Decoder.
func TestSeeds(t *testing.T) {
	var reused Decoder
	for _, s := range seeds(t) {
		for _, compress := range []bool{true, false} {
			var fresh Decoder
			compare(t, &fresh, s, compress)
			compare(t, &reused, s, compress)
		}
	}
}
