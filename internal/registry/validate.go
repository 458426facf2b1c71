package registry

import (
	"encoding/json"
	"net/url"
	"path"
	"regexp"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/mlship/mlship/internal/fault"
)

// Limits: MLflow's validation limits (mlflow/utils/validation.py) and, where MLflow
// leaves a column's size to the database, that column's size.
const (
	MaxNameLength           = 256
	MaxTagKeyLength         = 250
	MaxTagValueLength       = 100_000
	MaxAliasLength          = 255
	MaxDescriptionLength    = 5000
	MaxSourceLength         = 2048
	MaxRunLinkLength        = 2048
	MaxSearchModels         = 1000
	MaxSearchVersions       = 200_000
	DefaultSearchModels     = 100
	DefaultSearchVersions   = 10_000
	maxTagsPerCreateRequest = 1000
)

var (
	// tagKeyPattern is MLflow's ^[/\w.\- :]*$ with Python's Unicode \w.
	tagKeyPattern = regexp.MustCompile(`^[/\p{L}\p{N}_.\- :]*$`)
	// aliasPattern is MLflow's ^[\w\-]*$.
	aliasPattern        = regexp.MustCompile(`^[\p{L}\p{N}_\-]*$`)
	versionAliasPattern = regexp.MustCompile(`^[vV]\d+$`)
	runIDPattern        = regexp.MustCompile(`^[a-zA-Z0-9][\w\-]{0,255}$`)
)

// required fails with MLflow's message when value is empty.
func required(name, value string) error {
	if value == "" {
		return fault.Missing(name)
	}
	return nil
}

// invalidValue is MLflow's invalid_value message.
func invalidValue(param, value, why string) error {
	v, _ := json.Marshal(abbreviate(value))
	return fault.Invalidf("Invalid value %s for parameter '%s' supplied: %s", v, param, why)
}

func lengthLimit(what, value string, max int) error {
	if utf8.RuneCountInString(value) > max {
		return fault.Invalidf("'%s' exceeds the maximum length of %d characters", what, max)
	}
	return nil
}

func abbreviate(s string) string {
	if len(s) <= 200 {
		return s
	}
	for i := 200; i > 0; i-- {
		if utf8.RuneStart(s[i]) {
			return s[:i] + "..."
		}
	}
	return s[:200] + "..."
}

// validateName checks a registered model name as MLflow does, and also refuses control
// characters and percent-encoding, so that no two names read alike once decoded.
func validateName(param, name string) error {
	if strings.TrimSpace(name) == "" {
		return required(param, "")
	}
	if strings.ContainsAny(name, "/:") {
		return fault.Invalidf("Invalid model name '%s'. Names cannot contain '/' or ':'.", abbreviate(name))
	}
	if strings.IndexFunc(name, unicode.IsControl) >= 0 {
		return invalidValue(param, name, "Names cannot contain control characters.")
	}
	if d, err := url.PathUnescape(name); err == nil && d != name {
		return invalidValue(param, name, "Names cannot contain percent-encoded characters.")
	}
	if pathNotUnique(name) {
		return invalidValue(param, name, badPathMessage(name))
	}
	return lengthLimit(param, name, MaxNameLength)
}

// pathNotUnique is MLflow's test that a name, read as a path, names nothing else.
func pathNotUnique(name string) bool {
	n := path.Clean(name)
	return n != name || n == "." || strings.HasPrefix(n, "..") || strings.HasPrefix(n, "/")
}

func badPathMessage(name string) string {
	return "Names may be treated as files in certain cases, and must not resolve to other names when treated as such. " +
		"This name would resolve to '" + abbreviate(path.Clean(name)) + "'"
}

// validateTag checks a registered model or model version tag.
func validateTag(t Tag) error {
	if t.Key == "" {
		return required("key", "")
	}
	if !tagKeyPattern.MatchString(t.Key) {
		return invalidValue("key", t.Key, "Names may only contain alphanumerics, underscores (_), dashes (-), periods (.), spaces ( ), colon(:) and slashes (/).")
	}
	if pathNotUnique(t.Key) {
		return invalidValue("key", t.Key, badPathMessage(t.Key))
	}
	if err := lengthLimit("key", t.Key, MaxTagKeyLength); err != nil {
		return err
	}
	return lengthLimit("value", t.Value, MaxTagValueLength)
}

func validateTags(tags []Tag) error {
	if len(tags) > maxTagsPerCreateRequest {
		return fault.Invalidf("A request can set at most %d tags, got %d.", maxTagsPerCreateRequest, len(tags))
	}
	for _, t := range tags {
		if err := validateTag(t); err != nil {
			return err
		}
	}
	return nil
}

// lastTags drops all but the last tag of each key, keeping their order: a later tag
// with the same key wins, as in MLflow.
func lastTags(tags []Tag) []Tag {
	last := make(map[string]int, len(tags))
	for i, t := range tags {
		last[t.Key] = i
	}
	out := make([]Tag, 0, len(last))
	for i, t := range tags {
		if last[t.Key] == i {
			out = append(out, t)
		}
	}
	return out
}

// validateAlias checks an alias name's form.
func validateAlias(alias string) error {
	if alias == "" {
		return fault.Invalidf("Registered model alias name cannot be empty.")
	}
	if !aliasPattern.MatchString(alias) {
		return fault.Invalidf("Invalid alias name: '%s'. Names may only contain alphanumerics, underscores (_), and dashes (-).", abbreviate(alias))
	}
	return lengthLimit("Registered model alias name", alias, MaxAliasLength)
}

// validateNewAlias checks an alias that is to be set: a valid name that is not reserved.
func validateNewAlias(alias string) error {
	if err := validateAlias(alias); err != nil {
		return err
	}
	if strings.EqualFold(alias, aliasLatest) {
		return fault.Invalidf("'latest' alias name (case insensitive) is reserved.")
	}
	if versionAliasPattern.MatchString(alias) {
		return fault.Invalidf("Version alias name '%s' is reserved.", alias)
	}
	return nil
}

// parseVersion reads a version number, as MLflow's int() does.
func parseVersion(v string) (int64, error) {
	if err := required("version", v); err != nil {
		return 0, err
	}
	n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
	if err != nil {
		return 0, fault.Invalidf("Parameter 'version' must be an integer, got '%s'.", abbreviate(v))
	}
	return n, nil
}

// canonicalStage returns a stage's canonical name; stages are case-insensitive.
func canonicalStage(stage string) (string, error) {
	for _, s := range Stages {
		if strings.EqualFold(s, stage) {
			return s, nil
		}
	}
	return "", fault.Invalidf("Invalid Model Version stage: %s. Value must be one of %s.", abbreviate(stage), strings.Join(Stages, ", "))
}

func validateDescription(d string) error {
	return lengthLimit("description", d, MaxDescriptionLength)
}

func validateRunID(id string) error {
	if id != "" && !runIDPattern.MatchString(id) {
		return invalidValue("run_id", id, "a run id has up to 256 letters, digits, underscores and dashes.")
	}
	return nil
}

// validateRunLink accepts an empty link or an absolute http(s) URL: clients show it as
// a link, so no other scheme (javascript:, data:) may get in.
func validateRunLink(link string) error {
	if link == "" {
		return nil
	}
	if err := lengthLimit("run_link", link, MaxRunLinkLength); err != nil {
		return err
	}
	u, err := url.Parse(link)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" ||
		strings.IndexFunc(link, unicode.IsControl) >= 0 {
		return invalidValue("run_link", link, "a run link must be an http or https URL.")
	}
	return nil
}
