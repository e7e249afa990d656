package passivedns

// nameKind is how a name parameter matches stored names.

const (
	nameExact  nameKind = iota
	nameSuffix          // *.example.org: names under example.org, not example.org itself
	namePrefix          // www.example.*: names that start with the labels www.example
)

// nameSpec is a parsed name parameter. name is canonical (canonicalName): the name

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

func (r ipSpec) single() bool { return r.lo == r.hi }
