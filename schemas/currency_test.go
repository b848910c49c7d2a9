package schemas_test

import (
	"testing"

	"github.com/midata/midata/schemas"
)

func TestCurrencyMinorUnitsFollowsISO4217(t *testing.T) {
	tests := []struct {
		code   string
		minor  int
		active bool
	}{
		{"GBP", 2, true}, {"EUR", 2, true}, {"USD", 2, true},
		{"JPY", 0, true}, {"KRW", 0, true}, {"ISK", 0, true}, {"XOF", 0, true},
		{"BHD", 3, true}, {"KWD", 3, true}, {"TND", 3, true},
		{"CLF", 4, true}, {"UYW", 4, true},
		{"XCG", 2, true}, {"ZWG", 2, true}, {"SLE", 2, true}, {"VED", 2, true},
		// Withdrawn, metal, test and malformed codes are not active.
		{"ANG", 0, false}, {"BGN", 0, false}, {"HRK", 0, false}, {"SLL", 0, false}, {"DEM", 0, false},
		{"XAU", 0, false}, {"XXX", 0, false}, {"XTS", 0, false},
		{"gbp", 0, false}, {"GB", 0, false}, {"GBPX", 0, false}, {"", 0, false},
	}
	for _, tt := range tests {
		minor, active := schemas.CurrencyMinorUnits(tt.code)
		if minor != tt.minor || active != tt.active {
			t.Errorf("CurrencyMinorUnits(%q) = %d, %v; want %d, %v", tt.code, minor, active, tt.minor, tt.active)
		}
	}
}
