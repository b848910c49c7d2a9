package summary

// spendGroup is a merchant category group of the html summary: a coarse,
// customer-readable grouping of ISO 18245 merchant category codes (MCC).
type spendGroup uint8

// The groups, in the order ties are broken on the page.
const (
	groupGroceries spendGroup = iota
	groupEatingOut
	groupTransport
	groupTravel
	groupShopping
	groupBills
	groupEntertainment
	groupHealth
	groupCash
	groupOther         // an MCC in none of the groups above
	groupUncategorised // no MCC on the record
	numSpendGroups
)

// spendGroupInfo names a group for people (Label) and for tests (Key, the
// page's data-category attribute).
var spendGroupInfo = [numSpendGroups]struct{ Key, Label string }{
	groupGroceries:     {"groceries", "Groceries"},
	groupEatingOut:     {"eating-out", "Eating out"},
	groupTransport:     {"transport", "Transport"},
	groupTravel:        {"travel", "Travel"},
	groupShopping:      {"shopping", "Shopping"},
	groupBills:         {"bills", "Utilities & bills"},
	groupEntertainment: {"entertainment", "Entertainment"},
	groupHealth:        {"health", "Health"},
	groupCash:          {"cash", "Cash"},
	groupOther:         {"other", "Other"},
	groupUncategorised: {"uncategorised", "Uncategorised"},
}

// mccGroup returns the group of a merchant category code: four ASCII
// digits. An empty code is Uncategorised; a code that is not four digits,
// or is in no group, is Other. Single codes are matched before ranges, so
// chemists (5912) are Health although 5900–5999 is Shopping.
//
//	Groceries          5411 5422 5441 5451 5462 5499
//	Eating out         5812 5813 5814
//	Transport          4111 4112 4121 4131 4784 5541 5542
//	Travel             3000–3999 (airlines, car hire, hotels) 4511 4722 7011
//	Shopping           5300–5399 5600–5699 5900–5999
//	Utilities & bills  4814 4899 4900
//	Entertainment      7832 7841 7991–7999
//	Health             5912 8011–8099
//	Cash               6010 6011
func mccGroup(code string) spendGroup {
	if code == "" {
		return groupUncategorised
	}
	if len(code) != 4 {
		return groupOther
	}
	n := 0
	for i := 0; i < 4; i++ {
		c := code[i]
		if c < '0' || c > '9' {
			return groupOther
		}
		n = n*10 + int(c-'0')
	}
	switch n {
	case 5411, 5422, 5441, 5451, 5462, 5499:
		return groupGroceries
	case 5812, 5813, 5814:
		return groupEatingOut
	case 4111, 4112, 4121, 4131, 4784, 5541, 5542:
		return groupTransport
	case 4511, 4722, 7011:
		return groupTravel
	case 4814, 4899, 4900:
		return groupBills
	case 7832, 7841:
		return groupEntertainment
	case 5912:
		return groupHealth
	case 6010, 6011:
		return groupCash
	}
	switch {
	case n >= 3000 && n <= 3999:
		return groupTravel
	case n >= 5300 && n <= 5399, n >= 5600 && n <= 5699, n >= 5900 && n <= 5999:
		return groupShopping
	case n >= 7991 && n <= 7999:
		return groupEntertainment
	case n >= 8011 && n <= 8099:
		return groupHealth
	}
	return groupOther
}
