// Package httpapi serves the history API on its own listener: the native JSON API, the
// DNSDB API v2 and the CIRCL/COF protocol, the analyst's page, keys, limits and errors in the
// shape each protocol's clients expect.
package httpapi
