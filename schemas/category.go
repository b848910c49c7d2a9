package schemas

import (
	"fmt"
	"strings"
)

// Category is a data category a consent can grant. Categories form a bit set.
type Category uint8

// The consent categories of the input contract. Without Transactions nothing is
// released; Balances adds balance_after, Merchant adds the merchant fields.
const (
	Transactions Category = 1 << iota
	Balances
	Merchant
)

// AllCategories is every category the input contract knows.
const AllCategories = Transactions | Balances | Merchant

var categoryNames = []struct {
	c    Category
	name string
}{{Transactions, "transactions"}, {Balances, "balances"}, {Merchant, "merchant"}}

// ParseCategory returns the category with the given name.
func ParseCategory(name string) (Category, error) {
	for _, cn := range categoryNames {
		if cn.name == name {
			return cn.c, nil
		}
	}
	return 0, fmt.Errorf("unknown consent category %q (want transactions, balances or merchant)", name)
}

// Has reports whether every category in o is in c.
func (c Category) Has(o Category) bool { return c&o == o }

// Names returns the category names in c, in a fixed order.
func (c Category) Names() []string {
	var out []string
	for _, cn := range categoryNames {
		if c.Has(cn.c) {
			out = append(out, cn.name)
		}
	}
	return out
}

// String returns the names joined with commas.
func (c Category) String() string { return strings.Join(c.Names(), ",") }
