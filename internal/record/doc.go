// Package record turns a captured DNS response into the columns of a batch for the
// responses table: presentation-format names and record data as miekg/dns prints them,
// canonical (fully qualified, ASCII lowered), plus the batch ids that make inserts exactly once.
// Decoding walks the wire format (internal/wire) into a batch whose buffers the writer reuses.
package record
