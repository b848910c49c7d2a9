package bench

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/midata/midata/pipeline/topics"
)

// groupTimeout bounds the wait for the workers' group to settle.
const groupTimeout = 90 * time.Second

// awaitMembers waits until group is stable with n members that each hold
// partitions. A serve process that answers /readyz need not have joined
// its group yet: in the two-serve tests the group settled 2.7–3.6 s after
// both were ready, and a bulk run started before that gives the first
// member every task it fetches.
func awaitMembers(ctx context.Context, conn topics.Connection, group string, n int) error {
	tr := conn.Transport()
	defer tr.CloseIdleConnections()
	c := &kafka.Client{Addr: conn.Addr(), Transport: tr, Timeout: 10 * time.Second}
	deadline := time.Now().Add(groupTimeout)
	for {
		have := 0
		res, err := c.DescribeGroups(ctx, &kafka.DescribeGroupsRequest{GroupIDs: []string{group}})
		if err == nil && len(res.Groups) == 1 && res.Groups[0].GroupState == "Stable" {
			for _, m := range res.Groups[0].Members {
				if ts := m.MemberAssignments.Topics; len(ts) > 0 && len(ts[0].Partitions) > 0 {
					have++
				}
			}
		}
		if have == n {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("bench: group %s has %d members with partitions after %v, want %d (last error: %v)", group, have, groupTimeout, n, err)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// taskSplit returns how many tasks of bulk run parent each worker ran, as
// "a+b" in decreasing order, from the runs s lists.
func (s *server) taskSplit(ctx context.Context, parent string) (string, error) {
	var list struct {
		Runs []struct {
			Worker  string `json:"worker"`
			Request struct {
				Kind   string `json:"kind"`
				Parent string `json:"parent"`
			} `json:"request"`
		} `json:"runs"`
	}
	if err := s.do(ctx, "GET", "/v1/runs?limit=1000", nil, &list); err != nil {
		return "", err
	}
	by := map[string]int{}
	for _, r := range list.Runs {
		if r.Request.Kind == "task" && r.Request.Parent == parent {
			by[r.Worker]++
		}
	}
	counts := make([]int, 0, len(by))
	for _, n := range by {
		counts = append(counts, n)
	}
	slices.Sort(counts)
	slices.Reverse(counts)
	parts := make([]string, len(counts))
	for i, n := range counts {
		parts[i] = strconv.Itoa(n)
	}
	return strings.Join(parts, "+"), nil
}
