package memlimit

import "testing"

func TestChooseTakesTheConfigThenGOMEMLIMITThenTheContainer(t *testing.T) {
	t.Parallel()
	noEnv := func(string) string { return "" }
	withEnv := func(k string) string {
		if k == "GOMEMLIMIT" {
			return "300MiB"
		}
		return ""
	}
	container := func() (int64, bool) { return 1 << 30, true }
	none := func() (int64, bool) { return 0, false }
	tests := []struct {
		name       string
		configured int64
		env        func(string) string
		cgroup     func() (int64, bool)
		want       int64
		from       string
	}{
		{"the configured limit wins", 200 << 20, withEnv, container, 200 << 20, FromConfig},
		{"GOMEMLIMIT is left to the runtime", 0, withEnv, container, 0, FromEnv},
		{"nine tenths of the container's limit", 0, noEnv, container, 966367641, FromCgroup},
		{"no limit anywhere is none", 0, noEnv, none, 0, ""},
	}
	for _, tt := range tests {
		got, from := Choose(tt.configured, tt.env, tt.cgroup)
		if got != tt.want || from != tt.from {
			t.Errorf("%s: Choose = %d from %q, want %d from %q", tt.name, got, from, tt.want, tt.from)
		}
	}
}

func TestCgroupLimitFiles(t *testing.T) {
	t.Parallel()
	tests := []struct {
		content string
		want    int64
		ok      bool
	}{
		{"1073741824\n", 1 << 30, true},
		{"max\n", 0, false},
		{"9223372036854771712\n", 0, false}, // cgroup v1 without a limit
		{"", 0, false},
	}
	for _, tt := range tests {
		if got, ok := parseCgroupLimit(tt.content); got != tt.want || ok != tt.ok {
			t.Errorf("parseCgroupLimit(%q) = %d, %v; want %d, %v", tt.content, got, ok, tt.want, tt.ok)
		}
	}
}
