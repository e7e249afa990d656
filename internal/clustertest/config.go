package clustertest

import (
	_ "embed"
	"strconv"
	"strings"
)

// server/*: the cluster's additions to the one server configuration, and ZooKeeper's
// configuration; scripts/cluster.sh fills in the same files.
var (
	//go:embed server/cluster.xml
	clusterXML string
	//go:embed server/zoo.cfg
	zooCfg string
)

// renderClusterXML fills in server/cluster.xml for node n (1-based) of the cluster.
func renderClusterXML(n int, p ports) string {
	r := []string{
		"@SHARD@", strconv.Itoa(shardOf(n)),
		"@REPLICA@", nodeName(n),
		"@INTERSERVER_PORT@", strconv.Itoa(p.interserver[n-1]),
		"@ZK_PORT@", strconv.Itoa(p.zk),
		"@ZK_SESSION_MS@", strconv.Itoa(int(SessionTimeout.Milliseconds())),
	}
	for i, tcp := range p.tcp {
		r = append(r, "@NODE"+strconv.Itoa(i+1)+"_TCP@", strconv.Itoa(tcp))
	}
	return strings.NewReplacer(r...).Replace(clusterXML)
}

// renderZooCfg fills in server/zoo.cfg; a properties file, so the folder is taken as is
// (xml escaping would be wrong here, and temporary folders hold no special characters).
func renderZooCfg(dir string, port int) string {
	return strings.NewReplacer("@DIR@", dir, "@PORT@", strconv.Itoa(port)).Replace(zooCfg)
}
