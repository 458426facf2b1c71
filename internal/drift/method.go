package drift

import (
	"errors"
	"fmt"

	"github.com/mlship/mlship/internal/dataset"
)

// Method names a statistical test, with Evidently's names.
type Method string

// The tests. p-value tests report drift when the p-value falls below the
// threshold (ks: at or below); distance tests when the distance reaches it.
const (
	MethodKS            Method = "ks"            // two-sample Kolmogorov-Smirnov p-value (numerical)
	MethodChiSquare     Method = "chisquare"     // chi-squared goodness of fit p-value (categorical)
	MethodZ             Method = "z"             // two-proportion z-test p-value (categorical)
	MethodWasserstein   Method = "wasserstein"   // Wasserstein distance over the reference's std (numerical)
	MethodJensenShannon Method = "jensenshannon" // Jensen-Shannon distance, natural log
	MethodPSI           Method = "psi"           // population stability index
	MethodKL            Method = "kl_div"        // Kullback-Leibler divergence
	// Text content drift (text columns): the ROC AUC of a classifier trained
	// to tell reference texts from current ones, against a fixed threshold
	// or against random classifiers' AUCs (see textDrift).
	MethodTextAbs  Method = "abs_text_content_drift"
	MethodTextPerc Method = "perc_text_content_drift"
)

// Errors.
var (
	ErrUnknownMethod  = errors.New("unknown drift method")
	ErrMethodKind     = errors.New("drift method does not apply to the column's kind")
	ErrBadOptions     = errors.New("bad drift options")
	ErrUnknownColumn  = errors.New("unknown column")
	errEmptyColumn    = errors.New("no values after dropping missing and infinite ones")
	errNotNumeric     = errors.New("numerical, but not numbers in both the reference and the current data")
	errNotText        = errors.New("text, but not strings in both the reference and the current data")
	errNoTexts        = errors.New("text, but a profile holds no sample of its texts and too many values to stand for one")
	errMissingCurrent = errors.New("missing from the current data")
)

type methodInfo struct {
	name      string // Evidently's display name
	pValue    bool
	inclusive bool // p-value tests: drift also when p equals the threshold
	threshold float64
	kinds     []dataset.Kind
}

var (
	numOnly = []dataset.Kind{dataset.KindNumerical}
	catOnly = []dataset.Kind{dataset.KindCategorical}
	both    = []dataset.Kind{dataset.KindNumerical, dataset.KindCategorical}
	txtOnly = []dataset.Kind{dataset.KindText}
)

var methods = map[Method]methodInfo{
	MethodKS:            {name: "K-S p_value", pValue: true, inclusive: true, threshold: 0.05, kinds: numOnly},
	MethodChiSquare:     {name: "chi-square p_value", pValue: true, threshold: 0.05, kinds: catOnly},
	MethodZ:             {name: "Z-test p_value", pValue: true, threshold: 0.05, kinds: catOnly},
	MethodWasserstein:   {name: "Wasserstein distance (normed)", threshold: 0.1, kinds: numOnly},
	MethodJensenShannon: {name: "Jensen-Shannon distance", threshold: 0.1, kinds: both},
	MethodPSI:           {name: "PSI", threshold: 0.1, kinds: both},
	MethodKL:            {name: "Kullback-Leibler divergence", threshold: 0.1, kinds: both},
	MethodTextAbs:       {name: "Absolute text content drift", threshold: 0.55, kinds: txtOnly},
	MethodTextPerc:      {name: "Percentile text content drift", threshold: 0.95, kinds: txtOnly},
}

// Methods lists the supported methods.
func Methods() []Method {
	return []Method{MethodKS, MethodChiSquare, MethodZ, MethodWasserstein, MethodJensenShannon, MethodPSI, MethodKL, MethodTextAbs, MethodTextPerc}
}

// ParseMethod checks a method name.
func ParseMethod(s string) (Method, error) {
	m := Method(s)
	if _, ok := methods[m]; !ok {
		return "", fmt.Errorf("%w: %q", ErrUnknownMethod, s)
	}
	return m, nil
}

// DisplayName is Evidently's name for the method.
func (m Method) DisplayName() string { return methods[m].name }

// IsPValue reports whether the method's score is a p-value (small means
// drift) rather than a distance (large means drift).
func (m Method) IsPValue() bool { return methods[m].pValue }

// DefaultThreshold is the threshold Evidently uses when none is given.
func (m Method) DefaultThreshold() float64 { return methods[m].threshold }

// Drifted applies the method's rule: p <= threshold for ks, p < threshold
// for the other p-value tests, distance >= threshold for distances, ROC AUC
// > threshold for abs_text_content_drift (perc_text_content_drift compares
// the AUC with a cutoff it derives from the threshold: see ColumnResult).
// NaN never drifts.
func (m Method) Drifted(score, threshold float64) bool {
	info := methods[m]
	switch {
	case m == MethodTextAbs || m == MethodTextPerc:
		return score > threshold
	case !info.pValue:
		return score >= threshold
	case info.inclusive:
		return score <= threshold
	}
	return score < threshold
}

func (m Method) allows(k dataset.Kind) bool {
	for _, allowed := range methods[m].kinds {
		if allowed == k {
			return true
		}
	}
	return false
}

// ReferenceRowsLimit is the number of reference rows up to which the default
// selection uses p-value tests, and distances above.
const ReferenceRowsLimit = 1000

// DefaultMethod is Evidently's choice of test (_get_default_stattest) for a
// column of the given kind, from the number of reference values after
// dropping missing and infinite ones, and the number of distinct values in
// reference and current together:
//
//	                          reference ≤ 1000   reference > 1000
//	numerical, > 5 distinct   ks                 wasserstein
//	numerical, 3 to 5         chisquare          jensenshannon
//	numerical, ≤ 2            z                  jensenshannon
//	categorical, > 2          chisquare          jensenshannon
//	categorical, ≤ 2          z                  jensenshannon
//	text                      perc_text_content_drift  abs_text_content_drift
func DefaultMethod(kind dataset.Kind, referenceRows, distinct int64) Method {
	if kind == dataset.KindText {
		if referenceRows > ReferenceRowsLimit {
			return MethodTextAbs
		}
		return MethodTextPerc
	}
	if referenceRows > ReferenceRowsLimit {
		if kind == dataset.KindNumerical && distinct > 5 {
			return MethodWasserstein
		}
		return MethodJensenShannon
	}
	switch {
	case kind == dataset.KindNumerical && distinct > 5:
		return MethodKS
	case distinct > 2:
		return MethodChiSquare
	}
	return MethodZ
}
