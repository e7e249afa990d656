package httpapi

import (
	"github.com/passivedns/passivedns/internal/history"
	"github.com/passivedns/passivedns/internal/param"

	"encoding/json"
	"net/http"
	"time"
)

// As-of: what the resolver answered for a name at an instant.

type asofAnswer struct {
	QType      string               `json:"qtype"`
	RCode      string               `json:"rcode"`
	AnsweredAt string               `json:"answered_at"`
	TTL        uint32               `json:"ttl"`
	ValidUntil string               `json:"valid_until"`
	Covers     bool                 `json:"covers"` // false: no answer's TTL covers T, this is the last one before it
	Chain      []string             `json:"chain"`
	Final      []history.AsOfRecord `json:"final"`
	Records    []history.AsOfRecord `json:"records"`
	Followed   bool                 `json:"followed,omitempty"` // the chain was completed from the target's own answers
}

type asofResult struct {
	Name    string       `json:"name"`
	At      string       `json:"at"`
	Answers []asofAnswer `json:"answers"`
}

func (a *Server) nativeAsOf(w http.ResponseWriter, r *http.Request) {
	v := r.URL.Query()
	if err := checkParams(v, map[string]bool{"at": true, "rrtype": true}); err != nil {
		a.fail(w, err)
		return
	}
	n, err := param.ParseName("name", r.PathValue("name"), false)
	if err != nil {
		a.fail(w, err)
		return
	}
	at := a.Now().UTC()
	if s := v.Get("at"); s != "" {
		if at, err = param.ParseTime("at", s, at, true); err != nil {
			a.fail(w, err)
			return
		}
	}
	types, err := param.ParseRRTypes("rrtype", v["rrtype"])
	if err != nil {
		a.fail(w, err)
		return
	}
	found, err := a.db.AsOf(r.Context(), n.Name, at, types)
	if err != nil {
		a.fail(w, err)
		return
	}
	answers := make([]asofAnswer, len(found))
	for i, x := range found {
		answers[i] = asofAnswer{QType: x.QType, RCode: x.RCode, TTL: x.TTL, Covers: x.Covers, Chain: x.Chain,
			AnsweredAt: x.AnsweredAt.Format("2006-01-02T15:04:05.000Z07:00"), ValidUntil: x.ValidUntil.Format(time.RFC3339),
			Final: x.Final, Records: x.Records, Followed: x.Followed}
	}
	releaseSlot(r) // the queries are done
	w.Header().Set("Content-Type", "application/json")
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	enc.Encode(asofResult{Name: n.Name, At: at.Format(time.RFC3339), Answers: answers})
}
