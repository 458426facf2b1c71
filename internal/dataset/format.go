package dataset

import (
	"fmt"
	"path/filepath"
	"strings"
)

// Format names a file format the readers understand.
type Format string

// The supported formats.
const (
	FormatCSV       Format = "csv"
	FormatJSONLines Format = "jsonl"
	FormatParquet   Format = "parquet"
)

// DetectFormat picks the format from a file name's extension: .csv, .jsonl or
// .ndjson, .parquet or .pq (case-insensitive).
func DetectFormat(name string) (Format, error) {
	ext := strings.ToLower(filepath.Ext(name))
	switch ext {
	case ".csv":
		return FormatCSV, nil
	case ".jsonl", ".ndjson":
		return FormatJSONLines, nil
	case ".parquet", ".pq":
		return FormatParquet, nil
	}
	return "", fmt.Errorf("%w: cannot tell the format of %q from its extension (want .csv, .jsonl, .ndjson or .parquet)", ErrUnknownFormat, filepath.Base(name))
}

// ParseFormat reads a format name as a user types it: csv, jsonl (or
// jsonlines, ndjson), parquet.
func ParseFormat(s string) (Format, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "csv":
		return FormatCSV, nil
	case "jsonl", "jsonlines", "json-lines", "ndjson":
		return FormatJSONLines, nil
	case "parquet", "pq":
		return FormatParquet, nil
	}
	return "", fmt.Errorf("%w: %q (want csv, jsonl or parquet)", ErrUnknownFormat, s)
}
