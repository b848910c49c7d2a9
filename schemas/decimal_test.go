package schemas_test

import (
	"testing"

	"github.com/midata/midata/schemas"
)

func TestParseDecimalReadsPlainDecimalsOnly(t *testing.T) {
	tests := []struct {
		in    string
		units int64
		scale int32
		ok    bool
	}{
		{"-12.34", -1234, 2, true},
		{"+5", 5, 0, true},
		{"0.5", 5, 1, true},
		{"007.50", 750, 2, true},
		{"-0", 0, 0, true},
		{"0.00", 0, 2, true},
		{"123456789012345678", 123456789012345678, 0, true},
		{"0.000000000000000001", 1, 18, true},
		{"1234567890123456789", 0, 0, false}, // 19 significant digits
		{"1e3", 0, 0, false},
		{"1.", 0, 0, false},
		{".5", 0, 0, false},
		{"", 0, 0, false},
		{"-", 0, 0, false},
		{" 1", 0, 0, false},
		{"1,000", 0, 0, false},
		{"£1", 0, 0, false},
		{"1.2.3", 0, 0, false},
		{"--1", 0, 0, false},
	}
	for _, tt := range tests {
		d, err := schemas.ParseDecimal(tt.in)
		if (err == nil) != tt.ok {
			t.Errorf("ParseDecimal(%q) error = %v, want ok %v", tt.in, err, tt.ok)
			continue
		}
		if tt.ok && (d.Units != tt.units || d.Scale != tt.scale || d.Text != tt.in) {
			t.Errorf("ParseDecimal(%q) = %+v, want units %d scale %d and the exact text", tt.in, d, tt.units, tt.scale)
		}
	}
}
