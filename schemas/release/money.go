package release

import "github.com/midata/midata/schemas"

// appendMoney appends d as a plain decimal with the currency's minor units
// (schemas.CurrencyMinorUnits: GBP 2, JPY 0, BHD 3): "-12.34", "12.50",
// "1500". It never rounds: an amount with more places than its currency
// allows, or in a currency without known minor units, keeps its own places.
// With signed, a negative amount gets a leading '-'; zero (also "-0.00")
// and positive amounts get no sign. Without signed, the absolute value is
// written. It does not allocate beyond growing dst.
func appendMoney(dst []byte, d schemas.Decimal, currency string, signed bool) []byte {
	scale, _ := schemas.CurrencyMinorUnits(currency) // unknown: 0, own places kept
	if signed {
		return appendDecimal(dst, d, scale)
	}
	return appendAbsDecimal(dst, d, scale)
}

// creditDebit returns the Open Banking credit/debit indicator of a signed
// amount: "Debit" for money out (negative), "Credit" otherwise. Zero is a
// Credit, as the midata CSV writes it "+£0.00".
func creditDebit(d schemas.Decimal) string {
	if d.Units < 0 {
		return "Debit"
	}
	return "Credit"
}
