package release

// registry returns every release format by name: the one place they are
// listed (format.go's formats is built from it).
func registry() map[string]Format {
	return map[string]Format{
		MidataCSV.Name: MidataCSV,
		NDJSON.Name:    NDJSON,
		Summary.Name:   Summary,
		Parquet.Name:   Parquet,
		CSV.Name:       CSV,
		JSON.Name:      JSON,
	}
}
