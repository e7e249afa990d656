package record

import (
	"testing"
	"time"
)

func TestWallTimeFollowsTheClock(t *testing.T) {
	for _, refresh := range []bool{false, true} {
		if refresh {
			RefreshClock()
		}
		before := time.Now()
		got := WallTime(Mono())
		after := time.Now()
		// Within the readings around it, give or take what NTP slewed since the anchor.
		if got.Before(before.Add(-time.Millisecond)) || got.After(after.Add(time.Millisecond)) {
			t.Errorf("refresh %v: wall time %s, not between %s and %s", refresh, got, before, after)
		}
	}
}

// A stepped system clock reaches the stored times at the next refresh: the anchor is what
// carries the wall clock.
func TestWallTimeTakesTheAnchor(t *testing.T) {
	defer RefreshClock()
	m := Mono()
	base := WallTime(m)
	clockAnchor.Add(int64(time.Hour)) // as if the clock had been set an hour ahead
	if d := WallTime(m).Sub(base); d != time.Hour {
		t.Errorf("a moved anchor moved the wall time by %s, want 1h", d)
	}
	RefreshClock()
	if d := WallTime(m).Sub(base); d > time.Millisecond || d < -time.Millisecond {
		t.Errorf("after a refresh the wall time is %s off", d)
	}
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
