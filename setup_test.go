package passivedns

import (
	"github.com/passivedns/passivedns/internal/record"

	"strings"
	"testing"
	"time"

	"github.com/coredns/caddy"
)

func TestParse(t *testing.T) {
	tests := []struct {
		input     string
		shouldErr string // substring of the error; empty means no error
		check     func(config) bool
	}{
		{`passivedns`, "", func(c config) bool {
			return c.dsn == defaultDSN && c.database == "passivedns" && c.batch == defaultBatch &&
				c.flush == defaultFlush && c.queue == defaultQueue && c.clients == record.ClientsOff && c.schema && c.sensor != "" && c.retention == 0
		}},
		{`passivedns clickhouse://u:p@h1:9000,h2:9000/pdns`, "", func(c config) bool {
			return c.database == "pdns" && len(c.options.Addr) == 2 && c.options.Auth.Password == "p" && c.options.Auth.Database == ""
		}},
		{"passivedns {\n dsn clickhouse://127.0.0.1:9440/x?secure=true\n}", "", func(c config) bool { return c.database == "x" }},
		{"passivedns {\n queue 20000\n}", "", func(c config) bool { return c.batch == 20000 && c.queue == 20000 }},
		{"passivedns {\n queue 30000\n}", "", func(c config) bool { return c.batch == defaultBatch && c.queue == 30000 }},
		{"passivedns {\n batch 10\n queue 20\n flush 250ms\n sensor r1\n clients prefix\n schema off\n retention 720h\n}", "", func(c config) bool {
			return c.batch == 10 && c.queue == 20 && c.flush == 250*time.Millisecond && c.sensor == "r1" &&
				c.clients == record.ClientsPrefix && !c.schema && c.retention == 720*time.Hour
		}},
		{"passivedns {\n clients full\n retention off\n schema auto\n}", "", func(c config) bool { return c.clients == record.ClientsFull && c.schema }},
		{"passivedns {\n clients off\n}", "", func(c config) bool { return c.clients == record.ClientsOff }},
		{"passivedns {\n spool /var/spool/pdns\n}", "", func(c config) bool { return c.spoolDir == "/var/spool/pdns" && c.spoolSize == 1<<30 }},
		{"passivedns {\n spool /s 512MiB\n}", "", func(c config) bool { return c.spoolSize == 512<<20 }},
		{"passivedns {\n spool /s 2G\n}", "", func(c config) bool { return c.spoolSize == 2<<30 }},
		{"passivedns {\n spool /s 100000\n}", "", func(c config) bool { return c.spoolSize == 100000 }},
		{"passivedns {\n cluster passivedns_2\n}", "", func(c config) bool { return c.cluster == "passivedns_2" && sinkOptions(c).Cluster == "passivedns_2" }},
		{"passivedns", "", func(c config) bool { return c.cluster == "" }},

		// Errors: each names the problem; the dispenser adds the line.
		{`passivedns a b`, "Wrong argument count", nil},
		{"passivedns\npassivedns", "can only be used once", nil},
		{`passivedns http://127.0.0.1:8123/x`, "scheme must be clickhouse://", nil},
		{`passivedns clickhouse:///x`, "no host", nil},
		{`passivedns clickhouse://127.0.0.1:9000/bad-name`, "database name", nil},
		{`passivedns clickhouse://u:secret@127.0.0.1:9000/x?dial_timeout=soon`, "invalid DSN clickhouse://u:xxxxx@", nil},
		{"passivedns {\n dsn ::nope\n}", "invalid DSN", nil},
		{"passivedns {\n batch\n}", "takes exactly one value", nil},
		{"passivedns {\n batch 1 2\n}", "takes exactly one value", nil},
		{"passivedns {\n batch x\n}", "invalid batch 'x': not a whole number", nil},
		{"passivedns {\n batch 0\n}", "invalid batch '0': must be between 1 and", nil},
		{"passivedns {\n batch 1000001\n}", "must be between 1 and 1000000", nil},
		{"passivedns {\n queue -1\n}", "invalid queue '-1'", nil},
		{"passivedns {\n queue 10000001\n}", "must be between 1 and 10000000", nil},
		{"passivedns {\n batch 100\n queue 10\n}", "batch 100 is larger than queue 10", nil},
		{"passivedns {\n flush 1\n}", "invalid flush '1': not a duration", nil},
		{"passivedns {\n flush 1ms\n}", "must be between 10ms and 10m0s", nil},
		{"passivedns {\n flush 1h\n}", "must be between", nil},
		{"passivedns {\n sensor \"\"\n}", "must not be empty", nil},
		{"passivedns {\n clients some\n}", "must be off, prefix or full", nil},
		{"passivedns {\n schema maybe\n}", "must be auto or off", nil},
		{"passivedns {\n retention 1m\n}", "invalid retention '1m': must be between 1h0m0s", nil},
		{"passivedns {\n retention 90m\n}", "whole number of hours", nil},
		{"passivedns {\n retention 876001h\n}", "must be between 1h0m0s and 87600h0m0s", nil},
		{"passivedns {\n retention forever\n}", "not a duration", nil},
		{"passivedns {\n colour blue\n}", "unknown property 'colour'", nil},
		{"passivedns {\n cluster a-b\n}", "invalid cluster 'a-b': must be the name of a cluster", nil},
		{"passivedns {\n cluster\n}", "takes exactly one value", nil},
		{"passivedns {\n spool\n}", "takes a directory and an optional size, got 0", nil},
		{"passivedns {\n spool /s 1G x\n}", "takes a directory and an optional size, got 3", nil},
		{"passivedns {\n spool /s lots\n}", "invalid spool size 'lots'", nil},
		{"passivedns {\n spool /s -1G\n}", "invalid spool size", nil},
		{"passivedns {\n spool /s 1KiB\n}", "must be at least 65536 bytes", nil},
		{"passivedns {\n spool /s 99999999999T\n}", "too large", nil},
	}
	for i, tc := range tests {
		c := caddy.NewTestController("dns", tc.input)
		cfg, err := parse(c)
		if tc.shouldErr != "" {
			if err == nil {
				t.Errorf("Test %d (%q): expected error containing %q, got none", i, tc.input, tc.shouldErr)
				continue
			}
			if !strings.Contains(err.Error(), tc.shouldErr) {
				t.Errorf("Test %d (%q): expected error containing %q, got %q", i, tc.input, tc.shouldErr, err)
			}
			continue
		}
		if err != nil {
			t.Errorf("Test %d (%q): unexpected error %v", i, tc.input, err)
			continue
		}
		if !tc.check(cfg) {
			t.Errorf("Test %d (%q): unexpected config %+v", i, tc.input, cfg)
		}
	}
}

// Errors must point at the Corefile line and never show a password.
func TestParseErrorNamesLineWithoutPassword(t *testing.T) {
	input := "passivedns {\n    batch 10\n    dsn clickhouse://user:hunter2@127.0.0.1:notaport/x\n}"
	_, err := parse(caddy.NewTestController("dns", input))
	if err == nil {
		t.Fatal("expected an error")
	}
	if !strings.Contains(err.Error(), ":3 - ") {
		t.Errorf("error %q does not name line 3", err)
	}
	if strings.Contains(err.Error(), "hunter2") {
		t.Errorf("error %q shows the password", err)
	}
}

func TestSetupAddsPlugin(t *testing.T) {
	c := caddy.NewTestController("dns", "passivedns clickhouse://127.0.0.1:1/x")
	if err := setup(c); err != nil {
		t.Fatalf("setup: %v", err)
	}
	if err := setup(caddy.NewTestController("dns", "passivedns {\n nope\n}")); err == nil || !strings.Contains(err.Error(), "plugin/passivedns") {
		t.Errorf("setup error %v is not wrapped by plugin.Error", err)
	}
}
