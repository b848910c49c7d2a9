package serve

// OpenConsent and OpenRunView open the service's views as New does.
var (
	OpenConsent = openConsent
	OpenRunView = openView
)
