package record

import (
	"sync"
	"sync/atomic"
)

// The wire copies of captured answers live in slabs: fixed-size slots cut from large byte
// chunks, named by a number. A queued capture then holds a number, not a pointer, so the
// writer's queue is memory the garbage collector never scans, and a slot handed back is
// reused at once rather than after a collection (as sync.Pool's buffers would be).
//
// Slots are made on demand and kept: what the slabs hold is bounded by the captures in
// flight, which the queue's byte bound (and a batch's size, when a spool keeps them) caps.

// slotClasses are the slot sizes: most answers fit the smallest (a CNAME and a few
// addresses is about 200 bytes uncompressed), EDNS answers the middle one.
var slotClasses = [...]*slab{newSlab(slotSizes[0]), newSlab(slotSizes[1]), newSlab(slotSizes[2])}

// slotSizes are the classes' sizes, apart from the slabs: the queue's bound reads them on
// every capture, and a slab's own fields share a cache line with its lock.
var slotSizes = [...]int{256, 512, 4096}

// Slot numbers carry their class in the top bits; 0 is no slot.
const (
	classShift = 28
	slotMask   = 1<<classShift - 1
	bigClass   = len(slotClasses) // messages over the largest size, each its own buffer
)

// chunkBytes is the size of the chunks slots are cut from.
const chunkBytes = 64 << 10

type slab struct {
	size     int
	perChunk int

	mu     sync.Mutex
	free   []uint32 // slot indexes handed back
	made   int
	gets   atomic.Uint64                       // slots taken, ever: captures, for Yield
	chunks atomic.Pointer[[]*[chunkBytes]byte] // copied on growth, read without the lock
}

func newSlab(size int) *slab { return &slab{size: size, perChunk: chunkBytes / size} }

// get returns a free slot's index and its buffer (empty, with the class's capacity).
func (s *slab) get() (int, []byte) {
	s.mu.Lock()
	s.gets.Add(1) // its cache line is the lock's, already held
	var i int
	if n := len(s.free); n > 0 {
		i = int(s.free[n-1])
		s.free = s.free[:n-1]
	} else {
		i = s.made
		s.made++
		if i%s.perChunk == 0 {
			s.grow()
		}
	}
	s.mu.Unlock()
	return i, s.buf(i)[:0]
}

// grow adds a chunk; s.mu is held.
func (s *slab) grow() {
	var chunks []*[chunkBytes]byte
	if p := s.chunks.Load(); p != nil {
		chunks = *p
	}
	chunks = append(chunks[:len(chunks):len(chunks)], new([chunkBytes]byte))
	s.chunks.Store(&chunks)
}

// buf returns slot i's whole buffer.
func (s *slab) buf(i int) []byte {
	c := (*s.chunks.Load())[i/s.perChunk]
	off := i % s.perChunk * s.size
	return c[off : off+s.size : off+s.size]
}

func (s *slab) put(i int) {
	s.mu.Lock()
	s.free = append(s.free, uint32(i))
	s.mu.Unlock()
}

// captures counts the slots ever taken: a capture takes one.
func captures() uint64 {
	var n uint64
	for _, s := range slotClasses {
		n += s.gets.Load()
	}
	return n
}

// bigSlots holds the rare messages larger than the largest class, by number.
var bigSlots struct {
	mu   sync.Mutex
	next uint32
	m    map[uint32][]byte
}

// classOf is the class of the slot for n bytes: the smallest that holds them, or bigClass.
func classOf(n int) int {
	for c, size := range slotSizes {
		if n <= size {
			return c
		}
	}
	return bigClass
}

// newSlot returns a slot for n bytes and its buffer (empty, with room for n).
func newSlot(n int) (uint32, []byte) {
	if c := classOf(n); c < bigClass {
		i, b := slotClasses[c].get()
		return uint32(c)<<classShift | uint32(i+1), b
	}
	b := make([]byte, 0, n)
	bigSlots.mu.Lock()
	defer bigSlots.mu.Unlock()
	if bigSlots.m == nil {
		bigSlots.m = map[uint32][]byte{}
	}
	for {
		bigSlots.next = (bigSlots.next + 1) & slotMask
		if _, used := bigSlots.m[bigSlots.next]; bigSlots.next != 0 && !used {
			break
		}
	}
	bigSlots.m[bigSlots.next] = b
	return uint32(bigClass)<<classShift | bigSlots.next, b
}

// slotBytes returns the first n bytes of slot id.
func slotBytes(id uint32, n int) []byte {
	c, i := int(id>>classShift), int(id&slotMask)
	if c < bigClass {
		return slotClasses[c].buf(i - 1)[:n]
	}
	bigSlots.mu.Lock()
	defer bigSlots.mu.Unlock()
	return bigSlots.m[uint32(i)][:n]
}

// classBytes is the bytes the slot newSlot gives n bytes takes: the size, for the queue's
// bound, of any slot holding a wire of n bytes, since every slot is made for its wire.
func classBytes(n int) int {
	if c := classOf(n); c < bigClass {
		return slotSizes[c]
	}
	return n
}

func freeSlot(id uint32) {
	c, i := int(id>>classShift), int(id&slotMask)
	if c < bigClass {
		slotClasses[c].put(i - 1)
		return
	}
	bigSlots.mu.Lock()
	delete(bigSlots.m, uint32(i))
	bigSlots.mu.Unlock()
}

// freeSlots hands back many slots, taking each class's lock once.
func freeSlots(ids []uint32) {
	for c, s := range slotClasses {
		locked := false
		for _, id := range ids {
			if int(id>>classShift) != c || id == 0 {
				continue
			}
			if !locked {
				s.mu.Lock()
				locked = true
			}
			s.free = append(s.free, id&slotMask-1)
		}
		if locked {
			s.mu.Unlock()
		}
	}
	for _, id := range ids {
		if int(id>>classShift) == bigClass {
			freeSlot(id)
		}
	}
}

// DropQueued hands back the slots of queued captures that will not be decoded, taking each
// class's lock once.
func DropQueued(qs []Queued) {
	ids := make([]uint32, 0, len(qs))
	for i := range qs {
		ids = append(ids, qs[i].slot)
		qs[i].slot = 0
	}
	freeSlots(ids)
}
