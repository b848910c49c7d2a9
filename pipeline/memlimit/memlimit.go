// Package memlimit sets the soft memory limit of a midata process (the Go
// runtime's, runtime/debug.SetMemoryLimit): the configured one, else the
// GOMEMLIMIT the runtime already read, else a share of the container's
// memory limit read from its cgroup, else none. Near the limit the garbage
// collector runs more often instead of letting the heap grow to twice what
// is live (GOGC=100), so a burst of short-lived garbage does not raise the
// process's peak resident memory; it does not bound what is live (the
// pipeline's buffers do), and a limit below what is live makes the
// collector run all the time (the runtime caps it at about half the CPU).
//
// It does not read the configuration (package config does) or measure
// memory (midata bench does).
package memlimit

import (
	"math"
	"os"
	"runtime/debug"
	"strconv"
	"strings"
)

// ContainerShare is the share of the container's memory limit taken as the
// soft limit when none is configured: the rest is for what the runtime does
// not count (the binary's code, kernel buffers) and for the collector to
// catch up before the kernel's limit kills the process.
const ContainerShare = 0.9

// Sources of the limit, as Choose names them.
const (
	FromConfig = "config"     // memory_limit
	FromEnv    = "GOMEMLIMIT" // the runtime's own variable
	FromCgroup = "cgroup"     // ContainerShare of the container's limit
)

// Choose returns the soft limit in bytes and where it comes from: the
// configured limit (when more than 0), else GOMEMLIMIT (when env has it;
// the limit is then 0 and the runtime keeps what it read), else
// ContainerShare of the limit cgroup returns (when it has one), else 0 and
// "" (none).
func Choose(configured int64, env func(string) string, cgroup func() (int64, bool)) (int64, string) {
	switch {
	case configured > 0:
		return configured, FromConfig
	case env("GOMEMLIMIT") != "":
		return 0, FromEnv
	}
	if limit, ok := cgroup(); ok {
		return int64(float64(limit) * ContainerShare), FromCgroup
	}
	return 0, ""
}

// Apply sets the limit Choose picks from the process's environment and
// cgroup and returns the limit in force and its source ("" when none).
func Apply(configured int64) (int64, string) {
	limit, from := Choose(configured, os.Getenv, CgroupLimit)
	if limit > 0 {
		debug.SetMemoryLimit(limit)
	}
	if from == FromEnv {
		limit = debug.SetMemoryLimit(-1) // what the runtime read
	}
	return limit, from
}

// The memory limit files of a container's cgroup, as seen from inside it:
// cgroup v2 first, then v1.
var cgroupFiles = []string{"/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"}

// CgroupLimit returns the memory limit of the process's container, read
// from cgroupFiles; false when there is none ("max", v1's near-2⁶³ value
// for unlimited, or no such file).
func CgroupLimit() (int64, bool) {
	for _, path := range cgroupFiles {
		b, err := os.ReadFile(path)
		if err != nil {
			continue
		}
		return parseCgroupLimit(string(b))
	}
	return 0, false
}

// parseCgroupLimit reads the content of a cgroup memory limit file.
func parseCgroupLimit(s string) (int64, bool) {
	s = strings.TrimSpace(s)
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n <= 0 || n >= math.MaxInt64/2 { // "max", or v1's unlimited
		return 0, false
	}
	return n, true
}
