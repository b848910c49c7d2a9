package seed

import (
	"slices"
	"strconv"
	"strings"
)

// Counts is how many messages Seed wrote, per topic.
type Counts map[string]int

// String lists the counts by topic name: "midata.consent=253 transactions=24012".
func (c Counts) String() string {
	topics := make([]string, 0, len(c))
	for t := range c {
		topics = append(topics, t)
	}
	slices.Sort(topics)
	var b strings.Builder
	for i, t := range topics {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(t)
		b.WriteByte('=')
		b.WriteString(strconv.Itoa(c[t]))
	}
	return b.String()
}
