package tracking

import (
	"path"
	"regexp"
	"strings"
	"unicode/utf8"

	"github.com/mlship/mlship/internal/fault"
)

// MLflow's validation limits (mlflow/utils/validation.py).
const (
	MaxBatchMetrics       = 1000
	MaxBatchParams        = 100
	MaxBatchTags          = 100
	MaxBatchEntities      = 1000
	MaxKeyLength          = 250
	MaxParamValueLength   = 6000
	MaxTagValueLength     = 8000
	MaxExperimentName     = 500
	MaxExpTagValueLength  = 5000
	MaxArtifactLocation   = 2048
	MaxDatasetName        = 500
	MaxDatasetDigest      = 36
	MaxDatasetSource      = 65535
	MaxDatasetSchema      = 1048575
	MaxDatasetProfile     = 16777215
	MaxInputTagKey        = 255
	MaxInputTagValue      = 500
	MaxSearchRunsResults  = 50000
	MaxSearchExpResults   = 50000
	MaxBulkIntervalRuns   = 100
	MaxBulkIntervalPoints = 2500
	MaxHistoryPage        = 25000
)

var (
	// keyPattern is MLflow's ^[/\w.\- :]*$ with Python's \w, which matches Unicode
	// letters and digits, not only ASCII ones as Go's does.
	keyPattern          = regexp.MustCompile(`^[/\p{L}\p{N}_.\- :]*$`)
	runIDPattern        = regexp.MustCompile(`^[a-zA-Z0-9][\w\-]{0,255}$`)
	experimentIDPattern = regexp.MustCompile(`^[a-zA-Z0-9][\w\-]{0,63}$`)
)

// Required fails with MLflow's message when value is empty.
func Required(name, value string) error {
	if value == "" {
		return fault.Missing(name)
	}
	return nil
}

// validateKey checks a metric, param or tag key: MLflow's character set, length, and a
// path that normalizes to itself so it can name an artifact-like file.
func validateKey(kind, key string) error {
	if key == "" {
		return fault.Missing("key")
	}
	if !keyPattern.MatchString(key) {
		return fault.Invalidf("Invalid %s name: '%s'. Names may only contain alphanumerics, underscores (_), dashes (-), periods (.), spaces ( ), colon(:) and slashes (/).", kind, key)
	}
	if path.Clean(key) != key || key == "." || strings.HasPrefix(key, "..") || strings.HasPrefix(key, "/") {
		return fault.Invalidf("Invalid %s name: '%s'. Names cannot contain path components that resolve outside their root, such as '..' or a leading '/'.", kind, key)
	}
	return lengthLimit(kind+" name", key, MaxKeyLength)
}

func lengthLimit(what, value string, max int) error {
	if n := utf8.RuneCountInString(value); n > max {
		return fault.Invalidf("%s '%s' had length %d, which exceeded length limit of %d", what, abbreviate(value), n, max)
	}
	return nil
}

// truncate shortens value to max characters, as MLflow does by default for run tags and
// params (MLFLOW_TRUNCATE_LONG_VALUES), or fails when truncation is off.
func (s *Service) truncate(what, value string, max int) (string, error) {
	if utf8.RuneCountInString(value) <= max {
		return value, nil
	}
	if !s.opts.TruncateLongValues {
		return "", lengthLimit(what, value, max)
	}
	return string([]rune(value)[:max]), nil
}

func abbreviate(s string) string {
	if len(s) <= 64 {
		return s
	}
	return s[:64] + "..."
}

// ValidateRunID checks the form of a run id.
func ValidateRunID(id string) error {
	if err := Required("run_id", id); err != nil {
		return err
	}
	if !runIDPattern.MatchString(id) {
		return fault.Invalidf("Invalid value \"%s\" for parameter 'run_id' supplied", abbreviate(id))
	}
	return nil
}

// ValidateExperimentID checks the form of an experiment id.
func ValidateExperimentID(id string) error {
	if err := Required("experiment_id", id); err != nil {
		return err
	}
	if !experimentIDPattern.MatchString(id) {
		return fault.Invalidf("Invalid experiment ID: '%s'", abbreviate(id))
	}
	return nil
}

func validateMetric(m *Metric) error {
	if err := validateKey("metric", m.Key); err != nil {
		return err
	}
	if m.Timestamp < 0 {
		return fault.Invalidf("Got invalid timestamp %d for metric '%s' (value=%v). Timestamp must be a nonnegative long (64-bit integer)", m.Timestamp, m.Key, float64(m.Value))
	}
	return nil
}

func (s *Service) normalizeParam(p *Param) error {
	if err := validateKey("param", p.Key); err != nil {
		return err
	}
	v, err := s.truncate("Param value", p.Value, MaxParamValueLength)
	p.Value = v
	return err
}

func (s *Service) normalizeTag(t *Tag) error {
	if err := validateKey("tag", t.Key); err != nil {
		return err
	}
	v, err := s.truncate("Tag value", t.Value, MaxTagValueLength)
	t.Value = v
	return err
}

func validateExperimentName(name string) error {
	if strings.TrimSpace(name) == "" {
		return fault.Invalidf("Invalid experiment name: '%s'. Experiment names cannot be empty.", name)
	}
	return lengthLimit("Experiment name", name, MaxExperimentName)
}

func validateExperimentTag(t Tag) error {
	if err := validateKey("tag", t.Key); err != nil {
		return err
	}
	return lengthLimit("Experiment tag value", t.Value, MaxExpTagValueLength)
}

// CheckBatchSizes applies MLflow's limits on the numbers of metrics, params and tags in
// one log-batch request, with MLflow's messages.
func CheckBatchSizes(metrics, params, tags int) error {
	switch {
	case metrics > MaxBatchMetrics:
		return fault.Invalidf("A batch logging request can contain at most %d metrics. Got %d metrics. Please split up metrics across multiple requests and try again.", MaxBatchMetrics, metrics)
	case params > MaxBatchParams:
		return fault.Invalidf("A batch logging request can contain at most %d params. Got %d params. Please split up params across multiple requests and try again.", MaxBatchParams, params)
	case tags > MaxBatchTags:
		return fault.Invalidf("A batch logging request can contain at most %d tags. Got %d tags. Please split up tags across multiple requests and try again.", MaxBatchTags, tags)
	case metrics+params+tags > MaxBatchEntities:
		return fault.Invalidf("A batch logging request can contain at most %d total entities (metrics, params and tags). Got %d. Please split up entities across multiple requests and try again.", MaxBatchEntities, metrics+params+tags)
	}
	return nil
}

func validateDatasetInput(in DatasetInput) error {
	d := in.Dataset
	for _, f := range []struct {
		name, value string
		max         int
		required    bool
	}{
		{"Dataset name", d.Name, MaxDatasetName, true},
		{"Dataset digest", d.Digest, MaxDatasetDigest, true},
		{"Dataset source_type", d.SourceType, 36, true},
		{"Dataset source", d.Source, MaxDatasetSource, true},
		{"Dataset schema", d.Schema, MaxDatasetSchema, false},
		{"Dataset profile", d.Profile, MaxDatasetProfile, false},
	} {
		if f.required && f.value == "" {
			return fault.Invalidf("%s is required", f.name)
		}
		if err := lengthLimit(f.name, f.value, f.max); err != nil {
			return err
		}
	}
	for _, t := range in.Tags {
		if t.Key == "" {
			return fault.Invalidf("Input tag key is required")
		}
		if err := lengthLimit("Input tag key", t.Key, MaxInputTagKey); err != nil {
			return err
		}
		if err := lengthLimit("Input tag value", t.Value, MaxInputTagValue); err != nil {
			return err
		}
	}
	return nil
}
