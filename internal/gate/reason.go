package gate

import (
	"fmt"
	"math"
	"math/big"
	"strconv"
)

// Reasons are sentences a user can act on: the metric, its value, what it
// was held to, and by how much it missed or made it.

func (in checkInput) thresholdReason(passed bool) string {
	c, t := formatPair(in.candidate, in.value)
	switch {
	case passed && in.greater:
		return fmt.Sprintf("%s %s meets the threshold: at least %s", in.metric, c, t)
	case passed:
		return fmt.Sprintf("%s %s meets the threshold: at most %s", in.metric, c, t)
	case in.greater:
		return fmt.Sprintf("%s %s is below the threshold %s", in.metric, c, t)
	}
	return fmt.Sprintf("%s %s is above the threshold %s", in.metric, c, t)
}

// changeReason says how the candidate compares with the baseline and what
// the check requires, e.g. "root_mean_squared_error 3.2 is 0.4 worse than
// production's 2.8; at most 0.1 worse is allowed".
func (in checkInput) changeReason() string {
	c, b := formatPair(in.candidate, in.baseline)
	return fmt.Sprintf("%s %s %s; %s", in.metric, c, in.comparison(b), in.requirement())
}

// comparison is "is 0.4 worse than production's 2.8", relative checks
// giving the change in percent of the baseline.
func (in checkInput) comparison(baseline string) string {
	than := fmt.Sprintf("than %s's %s", in.baselineName, baseline)
	if math.IsInf(in.candidate, 0) {
		if (in.candidate > 0) == in.greater {
			return "is infinitely better " + than
		}
		return "is infinitely worse " + than
	}
	better := new(big.Rat).Sub(exact(in.candidate), exact(in.baseline))
	if !in.greater {
		better.Neg(better)
	}
	if better.Sign() == 0 {
		return fmt.Sprintf("equals %s's %s", in.baselineName, baseline)
	}
	word := "better"
	if better.Sign() < 0 {
		word = "worse"
		better.Neg(better)
	}
	amount := ratString(better)
	if in.kind == CheckMinRelativeChange && in.baseline != 0 {
		better.Quo(better, new(big.Rat).Abs(exact(in.baseline)))
		amount = percent(better)
	}
	return fmt.Sprintf("is %s %s %s", amount, word, than)
}

func (in checkInput) requirement() string {
	v := in.value
	if in.kind == CheckMinRelativeChange {
		if in.baseline == 0 {
			return in.zeroBaselineRequirement()
		}
		return changeWords(v, percent(exact(math.Abs(v))))
	}
	return changeWords(v, formatNumber(math.Abs(v)))
}

func changeWords(v float64, amount string) string {
	switch {
	case v > 0:
		return "at least " + amount + " better is required"
	case v < 0:
		return "at most " + amount + " worse is allowed"
	}
	return "it must be no worse"
}

func (in checkInput) zeroBaselineRequirement() string {
	if in.value >= 0 {
		return fmt.Sprintf("a relative change from 0 is not defined, so it must be at least %s better", formatNumber(relativeZeroEpsilon))
	}
	return "a relative change from 0 is not defined, so it must be no worse"
}

func ratString(r *big.Rat) string {
	f, _ := r.Float64()
	return formatNumber(f)
}

func percent(r *big.Rat) string {
	f, _ := new(big.Rat).Mul(r, big.NewRat(100, 1)).Float64()
	return formatNumber(f) + "%"
}

// formatNumber writes x for a reader: in full when six significant digits
// or fewer say it exactly (0.85, 100000), else with four (0.8123).
func formatNumber(x float64) string {
	switch short := formatShortest(x); {
	case x == math.Trunc(x) && math.Abs(x) < 1e15:
		return strconv.FormatFloat(x, 'f', -1, 64)
	case strconv.FormatFloat(x, 'g', 6, 64) == short:
		return short
	}
	return strconv.FormatFloat(x, 'g', 4, 64)
}

// formatPair writes two numbers that are compared in one sentence with as
// many digits as it takes for different numbers to read differently, so a
// reason never says "0.85 is below the threshold 0.85".
func formatPair(a, b float64) (string, string) {
	sa, sb := formatNumber(a), formatNumber(b)
	for prec := 5; sa == sb && a != b && prec <= 17; prec++ {
		sa, sb = strconv.FormatFloat(a, 'g', prec, 64), strconv.FormatFloat(b, 'g', prec, 64)
	}
	return sa, sb
}

// formatShortest is x's shortest decimal form that reads back as x.
func formatShortest(x float64) string {
	return strconv.FormatFloat(x, 'g', -1, 64)
}
