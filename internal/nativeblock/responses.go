package nativeblock

import (
	"fmt"
	"time"

	"github.com/ClickHouse/ch-go/proto"
)

// Responses is a block of the responses table, in one schema flavor: portable (18.16:
// DateTime + time_ms, FixedString(16), String) or modern (22.8 and later: DateTime64(3),
// IPv6, LowCardinality(String)). A decoder appends one response at a time: every column
// once, Answer and Authority ended with EndRow. batch_id is set by Encode. Not safe for
// concurrent use.
type Responses struct {
	Time       Time
	Sensor     *Label
	Server     *Label
	Transport  *Label
	Client     Addr
	QName      Str
	QType      *Label
	QClass     *Label
	RCode      *Label
	Flags      *proto.ColUInt16
	Answer     *Section
	Authority  *Section
	Size       *proto.ColUInt32
	DurationUs *proto.ColUInt32

	modern  bool
	batchID proto.ColUInt64
	input   proto.Input
}

// New returns an empty block in the modern flavor if modern is set, else the portable one.
func New(modern bool) *Responses {
	r := &Responses{
		modern:     modern,
		Sensor:     newLabel(modern),
		Server:     newLabel(modern),
		Transport:  newLabel(modern),
		QType:      newLabel(modern),
		QClass:     newLabel(modern),
		RCode:      newLabel(modern),
		Flags:      new(proto.ColUInt16),
		Answer:     newSection(modern),
		Authority:  newSection(modern),
		Size:       new(proto.ColUInt32),
		DurationUs: new(proto.ColUInt32),
	}
	qname := new(colStr)
	r.QName = Str{qname}
	if modern {
		r.Time = Time{t64: new(proto.ColDateTime64).WithPrecision(proto.PrecisionMilli).WithLocation(time.UTC)}
		r.Client = Addr{ip6: new(proto.ColIPv6)}
		r.input = append(r.input, proto.InputColumn{Name: "time", Data: r.Time.t64})
	} else {
		r.Time = Time{sec: &proto.ColDateTime{Location: time.UTC}, ms: new(proto.ColUInt16)}
		fixed := new(proto.ColFixedStr)
		fixed.SetSize(16)
		r.Client = Addr{fixed: fixed}
		r.input = append(r.input,
			proto.InputColumn{Name: "time", Data: r.Time.sec},
			proto.InputColumn{Name: "time_ms", Data: r.Time.ms})
	}
	ip := proto.ColInput(r.Client.fixed)
	if modern {
		ip = r.Client.ip6
	}
	lc := func(l *Label) proto.ColInput { return l.col() }
	r.input = append(r.input,
		proto.InputColumn{Name: "sensor", Data: lc(r.Sensor)},
		proto.InputColumn{Name: "server", Data: lc(r.Server)},
		proto.InputColumn{Name: "transport", Data: lc(r.Transport)},
		proto.InputColumn{Name: "client", Data: ip},
		proto.InputColumn{Name: "qname", Data: qname},
		proto.InputColumn{Name: "qtype", Data: lc(r.QType)},
		proto.InputColumn{Name: "qclass", Data: lc(r.QClass)},
		proto.InputColumn{Name: "rcode", Data: lc(r.RCode)},
		proto.InputColumn{Name: "flags", Data: r.Flags},
	)
	for _, s := range []struct {
		name string
		sec  *Section
	}{{"answer", r.Answer}, {"authority", r.Authority}} {
		r.input = append(r.input,
			proto.InputColumn{Name: s.name + ".name", Data: s.sec.name},
			proto.InputColumn{Name: s.name + ".type", Data: s.sec.typ},
			proto.InputColumn{Name: s.name + ".class", Data: s.sec.class},
			proto.InputColumn{Name: s.name + ".ttl", Data: s.sec.ttl},
			proto.InputColumn{Name: s.name + ".data", Data: s.sec.data},
		)
	}
	r.input = append(r.input,
		proto.InputColumn{Name: "size", Data: r.Size},
		proto.InputColumn{Name: "duration_us", Data: r.DurationUs},
		proto.InputColumn{Name: "batch_id", Data: &r.batchID},
	)
	return r
}

// Modern reports the flavor.
func (r *Responses) Modern() bool { return r.modern }

// Columns returns the names of the columns in block order, for the INSERT statement.
func (r *Responses) Columns() []string {
	names := make([]string, len(r.input))
	for i, c := range r.input {
		names[i] = c.Name
	}
	return names
}

// Rows returns the number of responses in the block.
func (r *Responses) Rows() int { return r.Time.Rows() }

// Reset empties the block and keeps every buffer.
func (r *Responses) Reset() {
	r.input.Reset()
}

// Encode appends the block in Native format to buf, every row with batch_id id. The format
// is that of the HTTP interface and of files: no BlockInfo and no serialization flags, which
// belong to the native protocol only.
func (r *Responses) Encode(buf *proto.Buffer, id uint64) error {
	rows := r.Rows()
	for _, s := range []*Section{r.Answer, r.Authority} {
		if err := s.check(); err != nil {
			return err
		}
	}
	r.batchID = r.batchID[:0]
	for range rows {
		r.batchID = append(r.batchID, id)
	}
	b := proto.Block{Columns: len(r.input), Rows: rows}
	if err := b.EncodeRawBlock(buf, 0, r.input); err != nil {
		return fmt.Errorf("nativeblock: %w", err)
	}
	return nil
}

// check makes sure the records appended match the ended rows, so a decoder's slip cannot
// shift the arrays of later rows.
func (s *Section) check() error {
	n := 0
	if k := len(s.offsets); k > 0 {
		n = int(s.offsets[k-1])
	}
	for _, c := range []int{s.Name.Rows(), s.Type.Rows(), s.Class.Rows(), s.TTL.Rows(), s.Data.Rows()} {
		if c != n {
			return fmt.Errorf("nativeblock: a section has %d records in its ended rows but a column holds %d", n, c)
		}
	}
	return nil
}
