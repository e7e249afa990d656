// Package nativeblock builds blocks of the responses table in ClickHouse's Native format and
// inserts them over the HTTP interface.
//
// The columns are ch-go's proto column types, filled in place: a decoder appends names and
// record data as bytes and they land in the column buffers without a string or an interface
// value per row, and Reset keeps every buffer for the next batch. The block goes to the
// server as the body of "INSERT INTO ... FORMAT Native" over HTTP, which every ClickHouse
// version accepts: ch-go's native client cannot talk to 18.16 (it sends client information
// that protocol revision 54412 does not know), and the Native body over HTTP needs no
// protocol revision at all (no BlockInfo, no custom serialization flags).
package nativeblock
