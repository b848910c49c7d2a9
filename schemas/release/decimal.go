package release

import (
	"strconv"

	"github.com/midata/midata/schemas"
)

// appendDecimal appends d with at least scale decimal places, without
// allocating: zeros pad a shorter fraction, and a longer one is kept whole
// (money is never rounded). A negative d gets a leading '-'; zero and
// positive values get no sign.
func appendDecimal(dst []byte, d schemas.Decimal, scale int) []byte {
	u := d.Units
	if u < 0 {
		dst = append(dst, '-')
	}
	return appendAbsDecimal(dst, d, scale)
}

// appendAbsDecimal appends the absolute value of d like appendDecimal.
func appendAbsDecimal(dst []byte, d schemas.Decimal, scale int) []byte {
	u := d.Units
	var abs uint64
	if u < 0 {
		abs = uint64(-u) // also right for math.MinInt64
	} else {
		abs = uint64(u)
	}
	var buf [24]byte
	digits := strconv.AppendUint(buf[:0], abs, 10)
	sc := int(d.Scale)
	if sc < 0 { // Units × 10^-Scale with a negative scale: trailing zeros
		for ; sc < 0; sc++ {
			digits = append(digits, '0')
		}
	}
	pad := 0
	if sc < scale {
		pad = scale - sc
		sc = scale
	}
	// digits followed by pad zeros is the number times 10^sc.
	n := len(digits) + pad
	if n <= sc { // no integer digits: "0." and zeros before the digits
		dst = append(dst, '0', '.')
		for i := n; i < sc; i++ {
			dst = append(dst, '0')
		}
		dst = append(dst, digits...)
		return appendZeros(dst, pad)
	}
	// n-sc is len(digits) minus the unpadded scale, so the integer part is
	// a prefix of digits and the padding zeros all belong to the fraction.
	intLen := n - sc
	dst = append(dst, digits[:intLen]...)
	if sc > 0 {
		dst = append(dst, '.')
		dst = append(dst, digits[intLen:]...)
	}
	return appendZeros(dst, pad)
}

func appendZeros(dst []byte, n int) []byte {
	for range n {
		dst = append(dst, '0')
	}
	return dst
}
