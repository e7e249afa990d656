package record

import (
	"testing"
	"time"
)

func TestWallTimeFollowsTheClock(t *testing.T) {
	before := time.Now()
	got := WallTime(Mono())
	after := time.Now()
	// Within the readings around it, give or take what NTP slewed since the anchor.
	if got.Before(before.Add(-time.Millisecond)) || got.After(after.Add(time.Millisecond)) {
		t.Errorf("wall time %s, not between %s and %s", got, before, after)
	}
}

// A stepped system clock reaches the stored times once the anchor is a second old: the
// anchor is what carries the wall clock, and WallTime renews it by itself.
func TestWallTimeRenewsTheAnchor(t *testing.T) {
	m := Mono()
	takeAnchor(m)
	base := WallTime(m)
	clockOffset.Add(int64(time.Hour)) // as if the clock had been set an hour back since
	if d := WallTime(m + anchorAge/2).Sub(base); d != time.Hour+anchorAge/2 {
		t.Errorf("within the anchor's age the wall time moved by %s, want 1h%s", d, anchorAge/2)
	}
	later := m + 2*anchorAge
	if d := WallTime(later).Sub(base); d > 2*anchorAge+time.Millisecond || d < 2*anchorAge-time.Millisecond {
		t.Errorf("after the anchor's age the wall time moved by %s, want %s: the anchor was not renewed", d, 2*anchorAge)
	}
	takeAnchor(Mono())
}

func BenchmarkClock(b *testing.B) {
	b.Run("time.Now+Since", func(b *testing.B) {
		for b.Loop() {
			start := time.Now()
			_ = start.Add(time.Since(start))
		}
	})
	b.Run("Mono+Mono", func(b *testing.B) {
		for b.Loop() {
			start := Mono()
			end := Mono()
			_, _ = WallTime(end), end-start
		}
	})
}
