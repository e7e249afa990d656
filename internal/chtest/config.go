package chtest

import (
	_ "embed"
	"encoding/xml"
	"strings"
)

// The server configuration lives in server/*.xml, the one copy that scripts/clickhouse.sh
// fills in too (with sed), so tests and `make run` run the same server.
var (
	//go:embed server/config.xml
	configXML string
	//go:embed server/users.xml
	usersXML string
)

// renderConfig fills in the placeholders of server/config.xml.
func renderConfig(dir, tcpPort, httpPort string) string {
	var esc strings.Builder
	_ = xml.EscapeText(&esc, []byte(dir))
	return strings.NewReplacer("@DIR@", esc.String(), "@TCP_PORT@", tcpPort, "@HTTP_PORT@", httpPort).Replace(configXML)
}
