package sinks

import (
	"path"
	"strings"
)

// ContentType is the media type an object is stored and served with, by
// its key's extension, so a browser that follows a link knows what it
// downloads.
func ContentType(key string) string {
	switch strings.ToLower(path.Ext(key)) {
	case ".csv":
		return "text/csv; charset=utf-8"
	case ".ndjson":
		return "application/x-ndjson"
	case ".json":
		return "application/json"
	case ".parquet":
		return "application/vnd.apache.parquet"
	case ".html":
		return "text/html; charset=utf-8"
	case ".txt":
		return "text/plain; charset=utf-8"
	}
	return "application/octet-stream"
}
