package search

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strconv"

	"github.com/mlship/mlship/internal/fault"
)

// EncodePageToken returns the token of the page that starts at offset, in the format
// MLflow's stores use: base64 of the JSON {"offset": N}. Clients treat it as opaque.
func EncodePageToken(offset int) string {
	return base64.StdEncoding.EncodeToString(fmt.Appendf(nil, `{"offset": %d}`, offset))
}

// DecodePageToken returns the offset in a token made by EncodePageToken or by MLflow.
// The empty token is the first page, offset 0.
func DecodePageToken(token string) (int, error) {
	if token == "" {
		return 0, nil
	}
	raw, err := base64.StdEncoding.DecodeString(token)
	if err != nil {
		return 0, fault.Invalidf("Invalid page token, could not base64-decode")
	}
	var payload struct {
		Offset *json.Number `json:"offset"`
	}
	if err := json.Unmarshal(raw, &payload); err != nil {
		return 0, fault.Invalidf("Invalid page token, decoded value=%q", clip(string(raw)))
	}
	if payload.Offset == nil {
		return 0, fault.Invalidf("Invalid page token, parsed value=%q", clip(string(raw)))
	}
	offset, err := strconv.Atoi(payload.Offset.String())
	if err != nil || offset < 0 {
		return 0, fault.Invalidf("Invalid page token, not stringable %s", clip(payload.Offset.String()))
	}
	return offset, nil
}
