package history

import "net/netip"

// nameKind is how a name parameter matches stored names.
type nameKind int

const (
	NameExact  nameKind = iota
	NameSuffix          // *.example.org: names under example.org, not example.org itself
	NamePrefix          // www.example.*: names that start with the labels www.example
)

// NameSpec is a parsed name parameter. name is canonical (canonicalName): the name
// itself, the domain under which names match (suffix), or the leading labels with
// their dot (prefix, "www.example.").
type NameSpec struct {
	Kind nameKind
	Name string
}

func (n NameSpec) String() string {
	switch n.Kind {
	case NameSuffix:
		return "*." + n.Name
	case NamePrefix:
		return n.Name + "*"
	}
	return n.Name
}

// IPSpec is an address range: one address, a prefix, or an explicit range; both ends
// in the 16-byte form history_by_ip stores (IPv4 mapped into IPv6).
type IPSpec struct {
	Lo, Hi netip.Addr
	Text   string // as given, for results that say which input they answer
}

func (r IPSpec) single() bool { return r.Lo == r.Hi }
