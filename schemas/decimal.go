package schemas

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// MaxDigits is the most significant digits a Decimal holds (fits an int64).
const MaxDigits = 18

// Decimal is an exact signed decimal number: Units × 10^-Scale. Text keeps
// the input's exact text, so formats that promise "exact text" can write it.
// Money is never a float in midata.
type Decimal struct {
	Units int64
	Scale int32
	Text  string
}

var errNotDecimal = errors.New("not a decimal string")

// ParseDecimal parses a plain decimal string: an optional sign, digits, and
// an optional fraction ("-12.34", "+5", "0.5"). No exponent, no thousands
// separators, at most MaxDigits significant digits.
func ParseDecimal(s string) (Decimal, error) {
	body := s
	neg := false
	if body != "" && (body[0] == '-' || body[0] == '+') {
		neg = body[0] == '-'
		body = body[1:]
	}
	intPart, frac, hasDot := strings.Cut(body, ".")
	if intPart == "" || (hasDot && frac == "") {
		return Decimal{}, fmt.Errorf("%q: %w", s, errNotDecimal)
	}
	var units int64
	digits := 0
	for _, part := range [2]string{intPart, frac} {
		for i := 0; i < len(part); i++ {
			c := part[i]
			if c < '0' || c > '9' {
				return Decimal{}, fmt.Errorf("%q: %w", s, errNotDecimal)
			}
			if units == 0 && c == '0' {
				continue // leading zeros are not significant
			}
			digits++
			if digits > MaxDigits {
				return Decimal{}, fmt.Errorf("%q: more than %d significant digits", s, MaxDigits)
			}
			units = units*10 + int64(c-'0')
		}
	}
	if neg {
		units = -units
	}
	return Decimal{Units: units, Scale: int32(len(frac)), Text: s}, nil
}

// String returns the exact input text, or a canonical rendering when the
// Decimal was built without text.
func (d Decimal) String() string {
	if d.Text != "" {
		return d.Text
	}
	return d.Format(int(d.Scale), true)
}

// Sign returns -1, 0 or +1.
func (d Decimal) Sign() int {
	switch {
	case d.Units < 0:
		return -1
	case d.Units > 0:
		return 1
	}
	return 0
}

// Rescale returns the units of d at the given scale. It fails when digits
// would be lost (scale smaller than needed) or the result overflows int64.
func (d Decimal) Rescale(scale int32) (int64, error) {
	u := d.Units
	for s := d.Scale; s < scale; s++ {
		if u > (1<<63-1)/10 || u < -(1<<63-1)/10 {
			return 0, fmt.Errorf("decimal %s overflows at scale %d", d, scale)
		}
		u *= 10
	}
	for s := d.Scale; s > scale; s-- {
		if u%10 != 0 {
			return 0, fmt.Errorf("decimal %s has more than %d decimal places", d, scale)
		}
		u /= 10
	}
	return u, nil
}

// Format renders d with exactly scale decimal places (padding with zeros;
// it never rounds: a Decimal with more places keeps them). With signed false
// the sign is dropped (the absolute value).
func (d Decimal) Format(scale int, signed bool) string {
	u := d.Units
	neg := u < 0
	var digits string
	if neg {
		digits = strconv.FormatUint(uint64(-u), 10)
	} else {
		digits = strconv.FormatInt(u, 10)
	}
	sc := int(d.Scale)
	if sc < scale {
		digits += strings.Repeat("0", scale-sc)
		sc = scale
	}
	if len(digits) <= sc {
		digits = strings.Repeat("0", sc-len(digits)+1) + digits
	}
	var b strings.Builder
	if neg && signed {
		b.WriteByte('-')
	}
	b.WriteString(digits[:len(digits)-sc])
	if sc > 0 {
		b.WriteByte('.')
		b.WriteString(digits[len(digits)-sc:])
	}
	return b.String()
}
