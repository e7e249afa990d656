package httpapi

import (
	"github.com/passivedns/passivedns/internal/history"
	"github.com/passivedns/passivedns/internal/param"

	"context"
	"encoding/json"
	"errors"
	"net/http"
)

// APIError is the JSON body of every native and COF error.
type APIError struct {
	Error     string `json:"error"`
	Parameter string `json:"parameter,omitempty"`
	Hint      string `json:"hint,omitempty"` // where to ask instead
}

func writeError(w http.ResponseWriter, status int, name, msg string) {
	writeJSON(w, status, APIError{Error: msg, Parameter: name})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

// errorStatus maps an error to its status and message: parameters are 400 with the
// parameter named, an unavailable ClickHouse 503, anything else a logged 500.
func (a *Server) errorStatus(err error) (int, string, string) {
	var pe *param.Error
	switch {
	case errors.As(err, &pe):
		return http.StatusBadRequest, pe.Param, pe.Error()
	case errors.Is(err, history.ErrUnavailable):
		return http.StatusServiceUnavailable, "", "history database unavailable, retry later"
	case errors.Is(err, history.ErrTooBig):
		return http.StatusUnprocessableEntity, "", "the query reads more rows or needs more memory than one query may: narrow it (a longer name or prefix, rrtype, a time window)"
	case errors.Is(err, context.Canceled):
		return 499, "", "request canceled"
	}
	a.log.Errorf("History API: %v", err)
	return http.StatusInternalServerError, "", "internal error"
}

func (a *Server) fail(w http.ResponseWriter, err error) {
	status, name, msg := a.errorStatus(err)
	writeError(w, status, name, msg)
}
