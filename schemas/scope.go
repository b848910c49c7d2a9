package schemas

import "fmt"

// Scope says whose records a request (or a schedule) releases: the listed
// Customers, or everyone whose consent covers the recipient (All). Exactly
// one is set. It is carried on the requests topic, the schedules topic and
// in the config file, hence the JSON and YAML tags.
type Scope struct {
	Customers []string `json:"customers,omitempty" yaml:"customers,omitempty"`
	All       bool     `json:"all,omitempty" yaml:"all,omitempty"`
}

// Validate reports what is wrong with the scope: both or neither of All
// and Customers, a customer id that is not valid (CustomerID.Validate), or
// a customer listed twice.
func (s Scope) Validate() error {
	switch {
	case s.All && len(s.Customers) > 0:
		return fmt.Errorf(`both "all" and "customers": give one`)
	case !s.All && len(s.Customers) == 0:
		return fmt.Errorf(`neither "all" nor "customers": give {"all": true} or {"customers": [...]}`)
	}
	seen := make(map[string]bool, len(s.Customers))
	for _, c := range s.Customers {
		if err := CustomerID(c).Validate(); err != nil {
			return err
		}
		if seen[c] {
			return fmt.Errorf("customer %s twice", shown(c))
		}
		seen[c] = true
	}
	return nil
}
