package jobs

import "testing"

func TestMergeKeepsEndsAndCancelsAndOrdersRounds(t *testing.T) {
	run := func(retry int, st Status, note string) Run {
		return Run{ID: "r", Status: st, Note: note, Request: Request{ID: "r", Retry: retry}}
	}
	tests := []struct {
		name        string
		cur         Run
		exists      bool
		event       Run
		want        Status
		wantNote    string
		wantChanged bool
	}{
		{"the first event of a run is taken", Run{}, false, run(0, StatusQueued, "q"), StatusQueued, "q", true},
		{"running follows queued", run(0, StatusQueued, ""), true, run(0, StatusRunning, "r"), StatusRunning, "r", true},
		{"an end follows running", run(0, StatusRunning, ""), true, run(0, StatusSucceeded, "s"), StatusSucceeded, "s", true},
		{"a late queued event does not reopen an ended run", run(0, StatusSucceeded, "s"), true, run(0, StatusQueued, "q"), StatusSucceeded, "s", false},
		{"a late cancel does not reopen an ended run", run(0, StatusFailed, "f"), true, run(0, StatusCancelling, "c"), StatusFailed, "f", false},
		{"a second end of the same round replaces the first", run(0, StatusSucceeded, "one"), true, run(0, StatusSucceeded, "two"), StatusSucceeded, "two", true},
		{"a cancel asked sticks through progress", run(0, StatusCancelling, "c"), true, run(0, StatusRunning, "progress"), StatusCancelling, "progress", true},
		{"a cancel asked sticks through a hand back", run(0, StatusCancelling, "c"), true, run(0, StatusQueued, "handed back"), StatusCancelling, "handed back", true},
		{"a cancel asked ends with the run", run(0, StatusCancelling, "c"), true, run(0, StatusCancelled, "x"), StatusCancelled, "x", true},
		{"a new round reopens a failed run", run(0, StatusFailed, "f"), true, run(1, StatusQueued, "q1"), StatusQueued, "q1", true},
		{"an event of an earlier round is stale", run(1, StatusRunning, "r1"), true, run(0, StatusFailed, "f0"), StatusRunning, "r1", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, changed := merge(tt.cur, tt.exists, tt.event)
			if got.Status != tt.want || got.Note != tt.wantNote || changed != tt.wantChanged {
				t.Errorf("merge = %s %q changed %v; want %s %q changed %v", got.Status, got.Note, changed, tt.want, tt.wantNote, tt.wantChanged)
			}
		})
	}
}
