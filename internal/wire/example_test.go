package wire_test

import (
	"fmt"

	"github.com/miekg/dns"

	"github.com/passivedns/passivedns/internal/wire"
)

// The writer's use: one Decoder and a few byte buffers, reused for every capture.
func ExampleDecoder() {
	m := new(dns.Msg)
	m.SetQuestion("WWW.Example.org.", dns.TypeA)
	m.Response = true
	cname, _ := dns.NewRR("WWW.Example.org. 300 IN CNAME Web.Example.org.")
	a, _ := dns.NewRR("web.example.org. 60 IN A 192.0.2.1")
	m.Answer = []dns.RR{cname, a}
	captured, _ := m.Pack() // as the recorder captures it: uncompressed

	var d wire.Decoder
	var name, data []byte
	if err := d.Reset(captured); err != nil {
		panic(err)
	}
	qname := d.AppendQName(nil)
	size, _ := d.PackedSize(true) // the client got it compressed (names compare case-sensitively)
	fmt.Println(string(qname), wire.TypeName(d.QType()), wire.ClassName(d.QClass()), wire.RcodeName(d.Rcode()), size)
	for i := range d.NumAnswer() {
		r := d.Answer(i)
		name = r.AppendName(name[:0])
		data = r.AppendRdata(data[:0])
		fmt.Println(string(name), r.TTL(), wire.ClassName(r.Class()), wire.TypeName(r.Type()), string(data))
	}
	// Output:
	// www.example.org. A IN NOERROR 79
	// www.example.org. 300 IN CNAME web.example.org.
	// web.example.org. 60 IN A 192.0.2.1
}
