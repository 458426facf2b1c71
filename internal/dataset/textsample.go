package dataset

import (
	"math"
	"math/rand/v2"
	"unicode/utf8"
)

// TextSampleSize is the number of a string column's values a profile keeps
// for text drift, which needs the texts themselves: all of them, in row
// order, up to this many (the reference sizes for which Evidently's default
// text test is exact), then a seeded uniform sample.
const TextSampleSize = 1000

// MaxSampledText bounds each kept text, so that a sample stays within about
// 4 MB whatever the column holds; a longer text is kept cut at a character
// boundary, and the sample no longer counts as complete.
const MaxSampledText = 4 << 10

// textSample keeps the first TextSampleSize values in row order, then
// replaces them at random (reservoir sampling, Li's algorithm L, which draws
// only at the values it keeps), seeded so that the same data gives the same
// sample.
type textSample struct {
	texts []string
	seen  int64
	rng   *rand.Rand
	w     float64
	next  int64 // the next value kept past the first TextSampleSize
	cut   bool  // a kept text was cut to MaxSampledText
}

func (s *textSample) add(b []byte) {
	if len(b) > MaxSampledText {
		b, s.cut = cutText(b), true
	}
	if len(s.texts) < TextSampleSize {
		s.seen++
		s.texts = append(s.texts, string(b))
		return
	}
	if s.rng == nil { // the sample just filled up (or was decoded or merged)
		s.rng = rand.New(rand.NewPCG(42, uint64(s.seen)))
		s.w = math.Exp(math.Log(s.uniform()) / TextSampleSize)
		s.skip()
	}
	s.seen++
	if s.seen == s.next {
		s.texts[s.rng.IntN(TextSampleSize)] = string(b)
		s.w *= math.Exp(math.Log(s.uniform()) / TextSampleSize)
		s.skip()
	}
}

// cutText cuts b to at most MaxSampledText bytes, at the start of a UTF-8
// character.
func cutText(b []byte) []byte {
	n := MaxSampledText
	for n > 0 && !utf8.RuneStart(b[n]) {
		n--
	}
	return b[:n]
}

func (s *textSample) skip() {
	s.next = s.seen + int64(math.Floor(math.Log(s.uniform())/math.Log1p(-s.w))) + 1
}

// uniform returns a number in (0, 1).
func (s *textSample) uniform() float64 {
	for {
		if u := s.rng.Float64(); u > 0 {
			return u
		}
	}
}

// merge appends o's sample; beyond TextSampleSize, each side keeps a share
// of the places in proportion to the values it has seen.
func (s *textSample) merge(o *textSample) {
	total := s.seen + o.seen
	if len(s.texts)+len(o.texts) > TextSampleSize && total > 0 {
		keepS := min(len(s.texts), int(int64(TextSampleSize)*s.seen/total))
		keepO := min(len(o.texts), TextSampleSize-keepS)
		s.texts = append(s.texts[:keepS:keepS], o.texts[:keepO]...)
	} else {
		s.texts = append(s.texts[:len(s.texts):len(s.texts)], o.texts...)
	}
	s.seen = total
	s.cut = s.cut || o.cut
	s.rng = nil
}

func (s *textSample) clone() textSample {
	return textSample{texts: append([]string(nil), s.texts...), seen: s.seen, cut: s.cut}
}

// Texts returns the column's sample of texts (string values, in row order
// while the column has at most TextSampleSize of them) and whether it holds
// every value, whole. A profile keeps the sample of text columns only; others, and
// profiles stored before samples were kept, return none.
func (c *ColumnProfile) Texts() (texts []string, complete bool) {
	return c.texts.texts, int64(len(c.texts.texts)) == c.texts.seen && !c.texts.cut
}
