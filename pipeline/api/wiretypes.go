package api

import "github.com/midata/midata/pipeline/api/wire"

// The JSON shapes of the API (package wire).
type (
	RunView                = wire.RunView
	ReleaseView            = wire.ReleaseView
	ReleaseLinks           = wire.ReleaseLinks
	RunList                = wire.RunList
	ReleaseList            = wire.ReleaseList
	CustomerReleaseRequest = wire.CustomerReleaseRequest
	ReleaseRequest         = wire.ReleaseRequest
	ErrorBody              = wire.ErrorBody
	GrantChange            = wire.GrantChange
	Grant                  = wire.Grant
	GrantList              = wire.GrantList
)
