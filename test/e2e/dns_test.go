package e2e

import (
	"encoding/binary"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/passivedns/passivedns/internal/corednstest"
)

// queryTimeout is long enough for a loaded machine: a query cannot be retried, since a
// retry could make the server answer (and record) twice.
const queryTimeout = 5 * time.Second

// zone is the test zone example.org. moved.example.org has a TTL of one second so that
// a caching resolver asks again soon after the zone moves it to movedTo.
func zone(serial uint32, movedTo string) string {
	return fmt.Sprintf(`$ORIGIN example.org.
$TTL 300
@       IN SOA   ns1.example.org. hostmaster.example.org. ( %d 3600 600 86400 60 )
@       IN NS    ns1.example.org.
ns1     IN A     192.0.2.53
www     IN A     192.0.2.1
web     IN A     192.0.2.1          ; shares its address with www
www     IN AAAA  2001:db8::1
alias   IN CNAME alias2             ; two hops: alias -> alias2 -> www
alias2  IN CNAME www
@       IN MX    10 mail.example.org.
mail    IN A     192.0.2.25
@       IN TXT   "v=spf1 -all"
txt     IN TXT   "hello world" "second string"
moved 1 IN A     %s
*.wild  IN A     192.0.2.99
`, serial, movedTo)
}

const soaData = "ns1.example.org. hostmaster.example.org. 2024010101 3600 600 86400 60"

// authCorefile serves the zone file in the test's folder, re-reading it every second.
func authCorefile(p corednstest.Ports) string {
	return fmt.Sprintf(`example.org:%d {
    bind 127.0.0.1
    file db.example.org {
        reload 1s
    }
    log
    errors
}
`, p.DNS)
}

// resolverCorefile records into database db with the given flush interval, caches with the
// cache line given ("cache" or "cache 1") and forwards to upstream, the authoritative server.
func resolverCorefile(db, upstream, cache, flush string) func(corednstest.Ports) string {
	return func(p corednstest.Ports) string {
		return fmt.Sprintf(`.:%d {
    bind 127.0.0.1
    errors
    passivedns %s {
        flush %s
        sensor e2e
    }
    %s
    forward . %s
}
`, p.DNS, ch.DSN(db), flush, cache, upstream)
	}
}

// exchange is one query and the answer the client received.
type exchange struct {
	qname     string // as sent
	qtype     uint16
	transport string // udp or tcp
	sent      time.Time
	recv      time.Time
	wire      []byte // the answer as received
	msg       *dns.Msg
}

// query sends one question to addr and reads the answer.
func query(addr, transport, qname string, qtype uint16) (*exchange, error) {
	conn, err := net.DialTimeout(transport, addr, queryTimeout)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	co := &dns.Conn{Conn: conn, UDPSize: dns.MaxMsgSize}
	q := new(dns.Msg)
	q.SetQuestion(qname, qtype)
	x := &exchange{qname: qname, qtype: qtype, transport: transport}
	x.sent = time.Now()
	if err := conn.SetDeadline(x.sent.Add(queryTimeout)); err != nil {
		return nil, err
	}
	if err := co.WriteMsg(q); err != nil {
		return nil, err
	}
	x.wire, err = co.ReadMsgHeader(nil)
	x.recv = time.Now()
	if err != nil {
		return nil, fmt.Errorf("%s %s over %s: %w", qname, dns.TypeToString[qtype], transport, err)
	}
	x.msg = new(dns.Msg)
	if err := x.msg.Unpack(x.wire); err != nil {
		return nil, err
	}
	if x.msg.Id != q.Id {
		return nil, fmt.Errorf("answer id %d, query id %d", x.msg.Id, q.Id)
	}
	return x, nil
}

func mustQuery(t *testing.T, addr, transport, qname string, qtype uint16) *exchange {
	t.Helper()
	x, err := query(addr, transport, qname, qtype)
	if err != nil {
		t.Fatal(err)
	}
	return x
}

// rr is one resource record as passivedns stores it: owner name lowered, type and class
// as mnemonics, data in presentation format.
type rr struct {
	Name, Type, Class string
	TTL               uint32
	Data              string
}

func (r rr) String() string {
	return fmt.Sprintf("%s %d %s %s %s", r.Name, r.TTL, r.Class, r.Type, r.Data)
}

// short is the record without class and TTL, for comparing with expectations.
func (r rr) short() string { return r.Name + " " + r.Type + " " + r.Data }

func toRRs(rrs []dns.RR) []rr {
	out := make([]rr, 0, len(rrs))
	for _, x := range rrs {
		h := x.Header()
		out = append(out, rr{
			Name:  strings.ToLower(h.Name),
			Type:  dns.TypeToString[h.Rrtype],
			Class: dns.ClassToString[h.Class],
			TTL:   h.Ttl,
			Data:  strings.TrimPrefix(x.String(), h.String()),
		})
	}
	return out
}

func shorts(rrs []rr) []string {
	out := make([]string, 0, len(rrs))
	for _, r := range rrs {
		out = append(out, r.short())
	}
	return out
}

// response is what one row of the responses table must hold, minus the time.
type response struct {
	Transport, Qname, Qtype, Qclass, Rcode string
	Flags                                  uint16
	Size                                   uint32
	Answer, Authority                      []rr
}

func (r response) String() string {
	return fmt.Sprintf("%s %s %s %s %s flags=%#04x size=%d answer=%v authority=%v",
		r.Transport, r.Qname, r.Qclass, r.Qtype, r.Rcode, r.Flags, r.Size, r.Answer, r.Authority)
}

// expected is the row the client's answer must produce: the question and records exactly
// as received (names lowered), the header flags word, and the size in bytes.
func (x *exchange) expected() response {
	m := x.msg
	r := response{
		Transport: x.transport,
		Rcode:     dns.RcodeToString[m.Rcode],
		Flags:     binary.BigEndian.Uint16(x.wire[2:4]),
		Size:      uint32(len(x.wire)),
		Answer:    toRRs(m.Answer),
		Authority: toRRs(m.Ns),
	}
	if len(m.Question) > 0 {
		q := m.Question[0]
		r.Qname = strings.ToLower(q.Name)
		r.Qtype = dns.TypeToString[q.Qtype]
		r.Qclass = dns.ClassToString[q.Qclass]
	}
	return r
}

func (x *exchange) String() string {
	return x.transport + " " + x.qname + " " + dns.TypeToString[x.qtype] + " at " + x.sent.Format("15:04:05.000")
}

// addrOf returns the data of the first A record of the answer, or "".
func addrOf(x *exchange) string {
	for _, r := range x.msg.Answer {
		if a, ok := r.(*dns.A); ok {
			return a.A.String()
		}
	}
	return ""
}
