// Package param parses the parameters of the history API (names with wildcards, addresses,
// prefixes and ranges, times, record types, limits and cursors) into history's types, with
// an error that names the parameter.
package param
