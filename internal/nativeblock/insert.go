package nativeblock

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"

	"github.com/ClickHouse/ch-go/proto"
)

// Config says where an Inserter sends blocks.
type Config struct {
	// URL is the base URL of the server's HTTP interface, "http://127.0.0.1:8123/".
	URL string
	// User and Password are sent as HTTP basic authentication, which every version reads;
	// no user means the server's default user.
	User, Password string
	// Database holds the responses table.
	Database string
	// Modern is the schema flavor of the table; it must match the blocks' flavor. Only modern
	// servers get insert_deduplication_token.
	Modern bool
	// Client sends the requests; nil means http.DefaultClient.
	Client *http.Client
	// Yield, when set, is called between the blocks of an insert as they are encoded, so
	// that encoding a large insert is short pieces of work on a busy core.
	Yield func()
}

// Inserter sends Responses blocks to ClickHouse, reusing its request body buffer. Not safe
// for concurrent use.
type Inserter struct {
	cfg    Config
	target string       // URL with the INSERT statement
	body   proto.Buffer // one block, encoded
}

// NewInserter returns an Inserter for the responses table of cfg.Database.
func NewInserter(cfg Config) (*Inserter, error) {
	u, err := url.Parse(cfg.URL)
	if err != nil {
		return nil, fmt.Errorf("nativeblock: %w", err)
	}
	if cfg.Client == nil {
		cfg.Client = http.DefaultClient
	}
	cols := New(cfg.Modern).Columns()
	for i, c := range cols {
		cols[i] = quoteIdent(c)
	}
	q := u.Query()
	// The body follows the statement directly: 18.16 reads a newline after the format name
	// as the first byte of the block. The block starts with its column count, 22 or 23,
	// which no version takes for a blank to skip.
	q.Set("query", "INSERT INTO "+quoteIdent(cfg.Database)+"."+quoteIdent("responses")+
		" ("+strings.Join(cols, ", ")+") FORMAT Native")
	u.RawQuery = q.Encode()
	return &Inserter{cfg: cfg, target: u.String()}, nil
}

// quoteIdent quotes an identifier with backquotes, escaping as ClickHouse reads it.
func quoteIdent(s string) string {
	r := strings.NewReplacer(`\`, `\\`, "`", "\\`")
	return "`" + r.Replace(s) + "`"
}

// Insert encodes the blocks with batch_id id and inserts them, one after another in one
// request: one insert, which the server writes as one part per partition. An *Exception
// error is the server's refusal (see Rejected); any other error means the outcome is
// unknown: the rows may have landed. The blocks are not changed: Reset them for the next
// batch.
//
// Each block is encoded as the request body is read, into a buffer that holds one block:
// an insert's body is never in memory whole (a batch's would be about 270 bytes a row), and
// the body goes out chunked.
func (in *Inserter) Insert(ctx context.Context, blocks []*Responses, id uint64) error {
	for _, r := range blocks {
		if r.modern != in.cfg.Modern {
			return fmt.Errorf("nativeblock: a block of the other schema flavor")
		}
	}
	target := in.target
	if in.cfg.Modern {
		// A retry with the same token is dropped by the server if the first try landed,
		// by the views' tables too. 18.16 knows neither setting and refuses unknown ones.
		target += "&insert_deduplication_token=" + strconv.FormatUint(id, 10) +
			"&deduplicate_blocks_in_dependent_materialized_views=1"
	}
	in.body.Reset()
	body := &blockBody{blocks: blocks, id: id, buf: &in.body, done: make(chan struct{}), yield: in.cfg.Yield}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, target, body)
	if err != nil {
		return fmt.Errorf("nativeblock: %w", err)
	}
	req.ContentLength = -1 // chunked
	req.GetBody = nil      // never resent by net/http: the writer decides about retries
	if in.cfg.User != "" {
		req.SetBasicAuth(in.cfg.User, in.cfg.Password)
	}
	resp, err := in.cfg.Client.Do(req)
	if err != nil {
		<-body.done
		if body.err != nil {
			return body.err
		}
		return fmt.Errorf("nativeblock: insert: %w", err)
	}
	// The transport may still hold the body after Do returns; the buffer and the blocks are
	// free again only once it has closed it, which it always does.
	defer func() { <-body.done }()
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusOK {
		if _, err := io.Copy(io.Discard, resp.Body); err != nil {
			return fmt.Errorf("nativeblock: insert: reading the answer: %w", err)
		}
		return nil
	}
	text, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorText))
	return parseException(resp.StatusCode, resp.Header.Get("X-ClickHouse-Exception-Code"), text)
}

const maxErrorText = 64 << 10

// blockBody is an insert's request body, encoded a block at a time as the transport reads.
type blockBody struct {
	blocks []*Responses
	id     uint64
	buf    *proto.Buffer // the block being sent, from off on
	off    int
	err    error // an encoding error, which ended the body

	done  chan struct{}
	once  sync.Once
	yield func()
	read  int // bytes since the last yield
}

// yieldBytes is how much of the body goes out between yields: sending to a server on the
// same machine, the kernel does the receiving side's work too, about 0.1 ms for this much.
const yieldBytes = 64 << 10

func (b *blockBody) Read(p []byte) (int, error) {
	for b.off == len(b.buf.Buf) {
		if b.err != nil {
			return 0, b.err
		}
		if len(b.blocks) == 0 {
			return 0, io.EOF
		}
		if b.yield != nil && b.read > 0 {
			b.yield()
			b.read = 0
		}
		b.buf.Reset()
		b.off = 0
		if err := b.blocks[0].Encode(b.buf, b.id); err != nil {
			b.err = err
			return 0, err
		}
		b.blocks = b.blocks[1:]
	}
	if b.yield != nil && b.read >= yieldBytes {
		b.yield()
		b.read = 0
	}
	n := copy(p, b.buf.Buf[b.off:])
	b.off += n
	b.read += n
	return n, nil
}

func (b *blockBody) Close() error {
	b.once.Do(func() { close(b.done) })
	return nil
}

// Exception is an error answer of the server.
type Exception struct {
	Status  int    // HTTP status
	Code    int    // ClickHouse error code; 0 if the answer had none
	Message string // the answer's text
}

func (e *Exception) Error() string {
	return fmt.Sprintf("nativeblock: ClickHouse answered HTTP %d: %s", e.Status, e.Message)
}

// parseException reads the error code from the X-ClickHouse-Exception-Code header (newer
// servers) or from the text, "Code: 60, e.displayText() = DB::Exception: ..." (18.16) or
// "Code: 60. DB::Exception: ..." (current).
func parseException(status int, header string, text []byte) *Exception {
	msg := strings.TrimSpace(string(text))
	e := &Exception{Status: status, Message: msg}
	if c, err := strconv.Atoi(header); err == nil {
		e.Code = c
		return e
	}
	if rest, ok := strings.CutPrefix(msg, "Code: "); ok {
		n := 0
		for n < len(rest) && '0' <= rest[n] && rest[n] <= '9' {
			n++
		}
		e.Code, _ = strconv.Atoi(rest[:n])
	}
	return e
}

// rejectedCodes are server errors that mean the rows themselves are bad: sending the same
// rows again can never succeed.
var rejectedCodes = map[int]bool{
	6:   true, // CANNOT_PARSE_TEXT
	27:  true, // CANNOT_PARSE_INPUT_ASSERTION_FAILED
	53:  true, // TYPE_MISMATCH
	69:  true, // ARGUMENT_OUT_OF_BOUND
	70:  true, // CANNOT_CONVERT_TYPE
	117: true, // INCORRECT_DATA
}

// Rejected reports whether err is the server refusing the rows themselves, so that
// retrying them cannot help. Other exceptions (a missing table, a server overloaded or
// shutting down) and transport errors may pass on a retry.
func Rejected(err error) bool {
	var e *Exception
	return errors.As(err, &e) && rejectedCodes[e.Code]
}
