package bench

import (
	"context"
	"os/exec"
	"runtime"
	"testing"
	"time"
)

// TestPeakRSSIsTheChildsOwn: the peak RSS of a child is its own, not the
// bench process's. getrusage's ru_maxrss of a child started with vfork
// (os/exec) carries the parent's high-water mark across execve: a serve
// child's "peak" was once the bench's own 186 MiB.
func TestPeakRSSIsTheChildsOwn(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("reads /proc")
	}
	sleep, err := exec.LookPath("sleep")
	if err != nil {
		t.Skip("no sleep command")
	}
	// Make this process big: 256 MiB, touched.
	const big = 256 << 20
	ballast := make([]byte, big)
	for i := range ballast {
		if i%4096 == 0 {
			ballast[i] = 1
		}
	}
	c, err := startChild(t.Context(), func(ctx context.Context, _ ...string) *exec.Cmd {
		return exec.CommandContext(ctx, sleep, "5")
	}, nil, "sleep")
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(200 * time.Millisecond)
	peak := c.stop()
	runtime.KeepAlive(ballast)
	if peak <= 0 || peak >= 64<<20 {
		t.Fatalf("peak RSS of a sleep child: %d MiB, want its own (a few MiB), not the parent's %d MiB", peak>>20, big>>20)
	}
}
