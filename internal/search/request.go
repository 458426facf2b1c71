package search

// Request is what every search request carries, parsed: its filter, its order_by and
// the offset its page token names. How many results a page holds is each endpoint's
// rule (MLflow refuses a size out of range for runs, and clamps it for traces).
type Request struct {
	Filter []Comparison
	Order  []OrderBy
	Offset int
}

// ParseRequest parses a search request's filter and order_by for the endpoint s
// describes, and decodes its page token.
func ParseRequest(s *Schema, filter string, orderBy []string, pageToken string) (Request, error) {
	var r Request
	var err error
	if r.Filter, err = ParseFilter(filter, s); err != nil {
		return r, err
	}
	if r.Order, err = ParseOrderBy(orderBy, s); err != nil {
		return r, err
	}
	r.Offset, err = DecodePageToken(pageToken)
	return r, err
}
