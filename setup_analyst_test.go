package passivedns

import (
	"crypto/sha256"
	"strings"
	"testing"

	"github.com/coredns/caddy"
)

// TestParseAnalystProperties: clients_api_key (validated like api_key), watch and webhook.
func TestParseAnalystProperties(t *testing.T) {
	const key, ckey = "s3cret-key-1", "clients-key-1"
	tests := []struct {
		input     string
		shouldErr string
		check     func(config) bool
	}{
		{"passivedns {\n http 127.0.0.1:8053\n clients_api_key " + ckey + " other-key-2\n}", "", func(c config) bool {
			return len(c.api.ClientKeys) == 2 && c.api.ClientKeys[0] == sha256.Sum256([]byte(ckey)) && len(c.api.Keys) == 0
		}},
		{"passivedns {\n http 0.0.0.0:8053\n clients_api_key " + ckey + "\n}", "", nil}, // a key protects a network listener
		{"passivedns {\n http 0.0.0.0:8053\n api_key " + key + "\n clients_api_key " + ckey + "\n clients full\n}", "", func(c config) bool {
			return len(c.api.Keys) == 1 && len(c.api.ClientKeys) == 1 && c.api.Clients == "full"
		}},
		{"passivedns {\n http 127.0.0.1:8053\n}", "", func(c config) bool { return c.api.Clients == "off" }},
		{"passivedns {\n clients prefix\n}", "", func(c config) bool { return c.api.Clients == "prefix" }},
		{"passivedns {\n http 127.0.0.1:8053\n clients_api_key\n}", "'clients_api_key' needs at least one key", nil},
		{"passivedns {\n http 127.0.0.1:8053\n clients_api_key shortie\n}", "clients_api_key 1 is shorter than 8", nil},
		{"passivedns {\n http 127.0.0.1:8053\n clients_api_key " + ckey + " \"\"\n}", "clients_api_key 2 is empty", nil},
		{"passivedns {\n http 127.0.0.1:8053\n clients_api_key {$X}\n}", "clients_api_key 1 is an environment placeholder", nil},
		{"passivedns {\n clients_api_key " + ckey + "\n}", "need http ADDRESS", nil},

		{"passivedns {\n watch name *.example.com evil.example.net\n watch ip 192.0.2.0/24 2001:db8::1\n watch rdata *.evil.net\n webhook https://hooks.example.org/pdns\n}", "", func(c config) bool {
			return len(c.watches) == 5 && c.watches[0].String() == "name *.example.com." && c.watches[3].String() == "ip 2001:db8::1/128" &&
				c.webhook == "https://hooks.example.org/pdns"
		}},
		{"passivedns {\n watch name *.example.com\n}", "watch needs webhook URL", nil},
		{"passivedns {\n webhook http://127.0.0.1:9/\n}", "webhook has nothing to send without watch", nil},
		{"passivedns {\n watch name\n webhook http://127.0.0.1:9/\n}", "takes a kind (name, ip or rdata) and at least one value", nil},
		{"passivedns {\n watch host x.example\n webhook http://127.0.0.1:9/\n}", "kind must be name, ip or rdata", nil},
		{"passivedns {\n watch name *\n webhook http://127.0.0.1:9/\n}", "matches everything", nil},
		{"passivedns {\n watch ip 300.1.2.3\n webhook http://127.0.0.1:9/\n}", "not an address or CIDR", nil},
		{"passivedns {\n watch ip 192.0.2.0/24\n webhook ftp://x/\n}", "not an http:// or https:// URL", nil},
		{"passivedns {\n watch ip 192.0.2.0/24\n webhook a b\n}", "exactly one URL", nil},
		{"passivedns {\n watch ip 192.0.2.0/24\n webhook https://u:hunter22@\n}", "https://u:xxxxx@", nil},
	}
	for i, tc := range tests {
		c := caddy.NewTestController("dns", tc.input)
		cfg, err := parse(c)
		if tc.shouldErr == "" {
			if err != nil {
				t.Errorf("Test %d: %q: unexpected error %v", i, tc.input, err)
			} else if tc.check != nil && !tc.check(cfg) {
				t.Errorf("Test %d: %q: parsed %+v", i, tc.input, cfg)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), tc.shouldErr) {
			t.Errorf("Test %d: %q: error %v, want one containing %q", i, tc.input, err, tc.shouldErr)
		}
		if err != nil && (strings.Contains(err.Error(), ckey) || strings.Contains(err.Error(), "hunter22")) {
			t.Errorf("Test %d: the error shows a secret: %v", i, err)
		}
	}
}
