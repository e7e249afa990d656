package passivedns

import "net/netip"

// nameKind is how a name parameter matches stored names.
type nameKind int

const (
	nameExact  nameKind = iota
	nameSuffix          // *.example.org: names under example.org, not example.org itself
	namePrefix          // www.example.*: names that start with the labels www.example
)

// nameSpec is a parsed name parameter. name is canonical (canonicalName): the name
// itself, the domain under which names match (suffix), or the leading labels with
// their dot (prefix, "www.example.").
type nameSpec struct {
	kind nameKind
	name string
}

func (n nameSpec) String() string {
	switch n.kind {
	case nameSuffix:
		return "*." + n.name
	case namePrefix:
		return n.name + "*"
	}
	return n.name
}

// ipSpec is an address range: one address, a prefix, or an explicit range; both ends
// in the 16-byte form history_by_ip stores (IPv4 mapped into IPv6).
type ipSpec struct {
	lo, hi netip.Addr
	text   string // as given, for results that say which input they answer
}

func (r ipSpec) single() bool { return r.lo == r.hi }
