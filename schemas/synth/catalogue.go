package synth

// The catalogue: merchants, billers, employers and places the data set is
// made of. Amounts are in minor units (pence, cents) and are magnitudes; the
// transaction type gives the sign.

// suffix says what follows a shop's description prefix.
type suffix uint8

const (
	noSuffix    suffix = iota
	storeNumber        // "TESCO STORES 2345"
	placeName          // "PRET A MANGER LEEDS"
	reference          // "AMAZON.CO.UK*AB12CD34E"
)

// shop is a card merchant.
type shop struct {
	name     string // merchant.name
	mcc      string // merchant.category_code
	desc     string // description prefix, as banks print it
	suffix   suffix
	min, max int64 // amount range in minor units
	weight   int
}

// ukShops are where the customers spend in pounds.
var ukShops = []shop{
	{"Tesco", "5411", "TESCO STORES", storeNumber, 350, 9500, 12},
	{"Sainsbury's", "5411", "SAINSBURYS S/MKT", storeNumber, 300, 8800, 8},
	{"Asda", "5411", "ASDA STORES", storeNumber, 400, 9000, 5},
	{"Aldi", "5411", "ALDI", storeNumber, 250, 6500, 5},
	{"Lidl", "5411", "LIDL GB", placeName, 250, 6000, 5},
	{"Co-op", "5411", "CO-OP GROUP", storeNumber, 150, 2500, 6},
	{"M&S", "5411", "M&S SIMPLY FOOD", storeNumber, 300, 3500, 4},
	{"Waitrose", "5411", "WAITROSE", storeNumber, 500, 9000, 2},
	{"Pret A Manger", "5814", "PRET A MANGER", placeName, 250, 1200, 6},
	{"Greggs", "5814", "GREGGS PLC", placeName, 120, 800, 6},
	{"Costa Coffee", "5814", "COSTA COFFEE", storeNumber, 200, 900, 5},
	{"Caffè Nero", "5814", "CAFFÈ NERO", storeNumber, 200, 900, 3},
	{"Starbucks", "5814", "STARBUCKS", placeName, 250, 900, 2},
	{"McDonald's", "5814", "MCDONALDS", storeNumber, 150, 1500, 3},
	{"Nando's", "5812", "NANDOS", placeName, 1200, 4500, 2},
	{"Pâtisserie Valerie", "5462", "PÂTISSERIE VALERIE", placeName, 300, 1500, 1},
	{"Deliveroo", "5812", "DELIVEROO", noSuffix, 1200, 4500, 3},
	{"Just Eat", "5814", "JUST EAT.CO.UK", noSuffix, 1100, 3500, 2},
	{"JD Wetherspoon", "5813", "JD WETHERSPOON", placeName, 350, 3500, 3},
	{"Shell", "5541", "SHELL", placeName, 2500, 9500, 3},
	{"BP", "5541", "BP", placeName, 2500, 9000, 3},
	{"Esso", "5541", "ESSO", placeName, 2500, 9000, 2},
	{"Trainline", "4112", "TRAINLINE.COM", noSuffix, 800, 14000, 3},
	{"Transport for London", "4111", "TFL TRAVEL CH", noSuffix, 175, 1200, 5},
	{"Uber", "4121", "UBER *TRIP", reference, 600, 3500, 3},
	{"Amazon", "5942", "AMAZON.CO.UK*", reference, 400, 12000, 6},
	{"Boots", "5912", "BOOTS", storeNumber, 300, 4500, 3},
	{"Argos", "5311", "ARGOS LTD", noSuffix, 800, 20000, 1},
	{"John Lewis", "5311", "JOHN LEWIS", placeName, 1500, 25000, 1},
	{"Currys", "5732", "CURRYS", placeName, 1000, 60000, 1},
	{"B&Q", "5200", "B&Q", storeNumber, 500, 15000, 1},
	{"IKEA", "5712", "IKEA", placeName, 1000, 30000, 1},
	{"Cineworld", "7832", "CINEWORLD", placeName, 800, 3000, 1},
	{"Premier Inn", "7011", "PREMIER INN", placeName, 4500, 15000, 1},
	{"Ryanair", "4511", "RYANAIR", reference, 2500, 18000, 1},
}

// eurShops and usdShops are where the few customers with a euro or dollar
// account spend from it.
var eurShops = []shop{
	{"Carrefour", "5411", "CARREFOUR CITY", placeName, 300, 8000, 6},
	{"Boulangerie Pâtisserie", "5462", "BOULANGERIE PÂTISSERIE", placeName, 150, 1500, 5},
	{"Café de Flore", "5814", "CAFÉ DE FLORE", noSuffix, 400, 3500, 2},
	{"SNCF", "4112", "SNCF INTERNET", reference, 1500, 15000, 2},
	{"Deutsche Bahn", "4112", "DB VERTRIEB GMBH", reference, 1500, 12000, 1},
	{"Albert Heijn", "5411", "ALBERT HEIJN", storeNumber, 300, 6000, 3},
	{"Müller", "5912", "MÜLLER", placeName, 200, 4000, 2},
}

var usdShops = []shop{
	{"Whole Foods Market", "5411", "WHOLE FOODS MKT", storeNumber, 500, 12000, 5},
	{"Starbucks", "5814", "STARBUCKS STORE", storeNumber, 300, 1200, 5},
	{"MTA", "4111", "MTA*NYCT PAYGO", noSuffix, 290, 3400, 4},
	{"Uber", "4121", "UBER *TRIP", reference, 900, 6000, 3},
	{"Target", "5310", "TARGET", storeNumber, 500, 15000, 2},
	{"CVS Pharmacy", "5912", "CVS/PHARMACY", storeNumber, 300, 5000, 2},
}

var ukPlaces = []string{"LONDON", "MANCHESTER", "LEEDS", "BRISTOL", "GLASGOW", "CARDIFF",
	"BIRMINGHAM", "NOTTINGHAM", "BRIGHTON", "YORK", "BELFAST", "EDINBURGH", "NORWICH", "EXETER"}
var eurPlaces = []string{"PARIS", "LYON", "BARCELONA", "AMSTERDAM", "BERLIN", "DUBLIN", "ŁÓDŹ"}
var usdPlaces = []string{"NEW YORK", "BOSTON", "SAN FRANCISCO", "SEATTLE", "CHICAGO"}

// biller is a company paid by direct debit (or a recurring card payment).
type biller struct {
	name, mcc, desc string
}

// billerGroup is one kind of monthly bill; a customer has at most one biller
// of each group, with probability prob (per mille).
type billerGroup struct {
	typ      string // DD, or POS for recurring card payments
	billers  []biller
	min, max int64
	prob     int  // per mille of customers who have the bill
	seasonal bool // higher in winter (energy)
	skipFeb  bool // council tax: ten instalments, none in February and March
}

// bills are in priority order: when a customer's share of Transactions is
// too small for all of their regular payments, the last ones go first.
var bills = []billerGroup{
	{"DD", []biller{{"Octopus Energy", "4900", "OCTOPUS ENERGY"}, {"British Gas", "4900", "BRITISH GAS"},
		{"EDF Energy", "4900", "EDF ENERGY"}, {"E.ON Next", "4900", "E.ON NEXT"}}, 6000, 18000, 1000, true, false},
	{"DD", []biller{{"Vodafone", "4814", "VODAFONE LTD"}, {"EE", "4814", "EE LIMITED"},
		{"O2", "4814", "O2 UK"}, {"Three", "4814", "THREE"}, {"giffgaff", "4814", "GIFFGAFF"}}, 1000, 4500, 1000, false, false},
	{"DD", []biller{{"BT", "4814", "BT GROUP PLC"}, {"Sky", "4899", "SKY DIGITAL"},
		{"Virgin Media", "4899", "VIRGIN MEDIA"}, {"TalkTalk", "4814", "TALKTALK"}}, 2500, 6500, 850, false, false},
	{"DD", []biller{{"Thames Water", "4900", "THAMES WATER"}, {"United Utilities", "4900", "UNITED UTILITIES"},
		{"Severn Trent", "4900", "SEVERN TRENT WATER"}, {"Yorkshire Water", "4900", "YORKSHIRE WATER"}}, 2500, 5500, 700, false, false},
	{"DD", []biller{{"Aviva", "6300", "AVIVA INSURANCE"}, {"Admiral", "6300", "ADMIRAL INSURANCE"},
		{"Direct Line", "6300", "DIRECT LINE INS"}}, 1500, 6000, 600, false, false},
	{"DD", []biller{{"TV Licensing", "9399", "TV LICENCE MBP"}}, 1500, 1500, 600, false, false},
	{"POS", []biller{{"Netflix", "4899", "NETFLIX.COM"}}, 599, 1799, 500, false, false},
	{"POS", []biller{{"Spotify", "5815", "Spotify P"}}, 1199, 1199, 350, false, false},
	{"DD", []biller{{"PureGym", "7997", "PUREGYM LTD"}}, 2499, 2499, 300, false, false},
}

// councils bill council tax (MCC 9311, tax payments).
var councils = []biller{
	{"Leeds City Council", "9311", "LEEDS CITY COUNCIL CT"},
	{"Manchester City Council", "9311", "MANCHESTER CC CTAX"},
	{"London Borough of Camden", "9311", "LB CAMDEN COUNCIL TAX"},
	{"Bristol City Council", "9311", "BRISTOL CITY COUNCIL"},
	{"Glasgow City Council", "9311", "GLASGOW CITY COUNCIL"},
	{"Cardiff Council", "9311", "CARDIFF COUNCIL CT"},
}

var employers = []string{"NHS PAYROLL", "TESCO PLC SALARY", "BARCLAYS BANK PLC SAL", "HMRC SALARY",
	"UNIVERSITY OF LEEDS", "ACME WIDGETS LTD", "JOHN LEWIS PARTNERS", "BRITISH AIRWAYS PLC", "ARUP SALARY"}

var landlords = []string{"RENT FOXTONS LETTINGS", "RENT J PATEL", "RENT HOMELET", "NATIONWIDE MORTGAGE", "HALIFAX MORTGAGE", "SANTANDER MORTGAGE"}

// people send and receive faster payments.
var people = []string{"J SMITH", "A PATEL", "M JONES", "S O'BRIEN", "K NOWAK", "L ZHANG", "R WILLIAMS",
	"Zoë Williams", "D MÜLLER", "F AHMED"}

// paymentRefs are what people write on faster payments; a few are Unicode.
var paymentRefs = []string{"DINNER", "RENT SHARE", "BIRTHDAY", "CONCERT TIX", "HOLIDAY", "BILLS",
	"THANKS", "FOOTBALL", "🎂 BIRTHDAY", "寿司 SPLIT", "CAFÉ", "TAXI"}

// injectionDescriptions begin with the characters spreadsheets treat as a
// formula: the CSV formats must neutralise them.
var injectionDescriptions = []string{
	`=HYPERLINK("http://example.invalid/","CLICK")`,
	"+44 7700 900123 MOBILE TOPUP",
	"-REVERSAL J SMITH",
	"@PAYPAL *EBAY",
}
