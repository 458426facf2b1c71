package search

import (
	"regexp"
	"slices"
	"testing"
)

// FuzzParseFilter checks that no filter makes the parser panic, that every error is a
// client error, and that every accepted filter gives well-formed comparisons.
func FuzzParseFilter(f *testing.F) {
	for i, cases := range [][]filterCase{runsFilters, experimentsFilters, registeredModelsFilters,
		modelVersionsFilters, loggedModelsFilters} {
		for _, tc := range cases {
			f.Add(tc.filter, uint8(i))
		}
	}
	for i, cases := range [][]errorCase{runsErrors, experimentsErrors, registeredModelsErrors,
		modelVersionsErrors, loggedModelsErrors} {
		for _, tc := range cases {
			f.Add(tc.filter, uint8(i))
		}
	}
	traces := uint8(slices.Index(allSchemas, Traces))
	for _, filter := range []string{"span.name = 'a' AND span.type IN ('LLM', 'TOOL')", "feedback.score >= 0.5",
		"expectation.`a b` LIKE '%x%'", "tags.t IS NOT NULL AND metadata.m IS NULL", "name RLIKE '^a(b|c)+$'",
		"span.content ILIKE '%q%'", "issue.id = 'i'", "prompt = 'p/1'", "feedback.f is null and timestamp > 5"} {
		f.Add(filter, traces)
	}
	f.Fuzz(func(t *testing.T, filter string, schema uint8) {
		s := allSchemas[int(schema)%len(allSchemas)]
		got, err := ParseFilter(filter, s)
		if err != nil {
			assertInvalid(t, err)
			return
		}
		for _, c := range got {
			checkComparison(t, s, c)
		}
	})
}

func checkComparison(t *testing.T, s *Schema, c Comparison) {
	t.Helper()
	allowed := s.entityKeyOps(c.Entity, c.Key)
	if c.Entity == Attribute {
		a, ok := s.attrs[c.Key]
		if !ok || a.key != c.Key {
			t.Fatalf("%v: attribute key %q is not canonical", s, c.Key)
		}
		allowed = a.ops()
	}
	isList := c.Op == In || c.Op == NotIn
	switch {
	case !slices.Contains(allowed, c.Op):
		t.Fatalf("%v: %+v: operator not allowed for the entity", s, c)
	case isList != (len(c.List) > 0):
		t.Fatalf("%v: %+v: a list goes with IN and NOT IN, and only with them", s, c)
	case c.Numeric && (c.Str != "" || c.List != nil):
		t.Fatalf("%v: %+v: a numeric comparison has a string value", s, c)
	case c.Entity == Metric && !c.Numeric:
		t.Fatalf("%v: %+v: a metric compared with a string", s, c)
	case (c.Op == IsNull || c.Op == IsNotNull) && (c.Numeric || c.Str != "" || c.List != nil):
		t.Fatalf("%v: %+v: IS NULL has no value", s, c)
	}
	if _, err := regexp.Compile(c.Str); c.Op == RLike && err != nil {
		t.Fatalf("%v: %+v: an RLIKE pattern that does not compile: %v", s, c, err)
	}
}

func FuzzParseOrderBy(f *testing.F) {
	for _, tc := range orderCases {
		for _, c := range tc.clauses {
			f.Add(c, uint8(slices.Index(allSchemas, tc.schema)))
		}
	}
	for _, tc := range orderErrorCases {
		for _, c := range tc.clauses {
			f.Add(c, uint8(slices.Index(allSchemas, tc.schema)))
		}
	}
	f.Fuzz(func(t *testing.T, clause string, schema uint8) {
		s := allSchemas[int(schema)%len(allSchemas)]
		got, err := ParseOrderBy([]string{clause}, s)
		if err != nil {
			assertInvalid(t, err)
			return
		}
		if len(got) != 1 || got[0].Entity == "" {
			t.Fatalf("ParseOrderBy(%q, %v) = %+v", clause, s, got)
		}
	})
}

func FuzzDecodePageToken(f *testing.F) {
	for _, token := range []string{"", "eyJvZmZzZXQiOiAxMDB9", "abc", "e30=", "WzFd", EncodePageToken(7)} {
		f.Add(token)
	}
	f.Fuzz(func(t *testing.T, token string) {
		offset, err := DecodePageToken(token)
		if err != nil {
			assertInvalid(t, err)
			return
		}
		if offset < 0 {
			t.Fatalf("DecodePageToken(%q) = %d", token, offset)
		}
	})
}
