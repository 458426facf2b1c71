package registry

import (
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"unicode"

	"github.com/mlship/mlship/internal/fault"
)

// sourceKind is what a model version's source names.
type sourceKind int

const (
	sourceArtifacts    sourceKind = iota + 1 // mlflow-artifacts:/..., served by this server
	sourceRun                                // runs:/<run id>/<path>
	sourceLoggedModel                        // models:/<logged model id>
	sourceModelVersion                       // models:/<name>/<version>: a copy of another version
	sourceRemote                             // a URI of an allowed scheme (s3://bucket/...)
	sourcePrompt                             // a prompt's placeholder: prompts have no artifacts
)

// source is a checked model version source.
type source struct {
	kind      sourceKind
	canonical string // what is stored as the version's source
	runID     string // of a runs:/ source
	modelID   string // of a models:/<id> source
	name      string // of a models:/<name>/<version> source
	version   int64
}

// promptSources are the placeholders MLflow clients send as the source of a prompt
// version; nothing else is accepted for one.
var promptSources = []string{"dummy-source", "prompt-template"}

var loggedModelIDPattern = regexp.MustCompile(`^m-[0-9a-f]{32}$`)

// artifactsRoute is the artifact proxy's path: an http(s) source through it must be
// written as an mlflow-artifacts: URI, so that clients fetch it from this server and not
// from a host the source names.
var artifactsRoute = "/api/2.0/mlflow-artifacts/artifacts"

// checkSource validates a model version's source and returns its canonical form. The
// checks run on the source decoded as many times as it decodes, so that no encoding can
// smuggle a '..', a fragment or a query past them (the lesson of MLflow's CVEs).
func (s *Service) checkSource(raw string, prompt bool) (source, error) {
	if err := required("source", raw); err != nil {
		return source{}, err
	}
	if prompt {
		if !slices.Contains(promptSources, raw) {
			return source{}, badSource(raw, "a prompt's source must be one of MLflow's placeholders")
		}
		return source{kind: sourcePrompt, canonical: raw}, nil
	}
	if err := lengthLimit("source", raw, MaxSourceLength); err != nil {
		return source{}, err
	}
	if why := unsafeText(raw); why != "" {
		return source{}, badSource(raw, why)
	}
	u, err := url.Parse(raw)
	if err != nil {
		return source{}, badSource(raw, "it is not a valid URI")
	}
	scheme := strings.ToLower(u.Scheme)
	switch {
	case scheme == "":
		return source{}, badSource(raw, "local paths are not allowed; log the model to this server and register its mlflow-artifacts:, runs: or models: URI")
	case scheme == "file":
		return source{}, badSource(raw, "file: URIs are not allowed; log the model to this server and register its mlflow-artifacts:, runs: or models: URI")
	case u.Opaque != "" || u.User != nil:
		return source{}, badSource(raw, "the URI must have the form scheme:/path or scheme://host/path")
	case scheme == "mlflow-artifacts":
		return artifactsSource(raw, u)
	case scheme == "runs":
		return runSource(raw, u)
	case scheme == "models":
		return modelSource(raw, u)
	case slices.Contains(s.opts.SourceSchemes, scheme):
		return remoteSource(raw, u, scheme)
	}
	return source{}, badSource(raw, "the scheme must be mlflow-artifacts, runs, models or one this server allows")
}

func badSource(raw, why string) error {
	return fault.Invalidf("Invalid model version source: '%s': %s.", abbreviate(raw), why)
}

// unsafeText explains why a source is unsafe at any level of percent-decoding, or
// returns "".
func unsafeText(s string) string {
	for range 8 {
		switch {
		case strings.IndexFunc(s, unicode.IsControl) >= 0:
			return "control characters are not allowed"
		case strings.Contains(s, `\`):
			return "backslashes are not allowed"
		case strings.ContainsAny(s, "#?;"):
			return "URI fragments, queries and parameters are not allowed"
		case hasDotSegment(s):
			return "'.' and '..' path segments are not allowed"
		}
		d, err := url.PathUnescape(s)
		if err != nil {
			return "it has malformed percent-encoding"
		}
		if d == s {
			return ""
		}
		s = d
	}
	return "it is percent-encoded too many times"
}

func hasDotSegment(s string) bool {
	for seg := range strings.SplitSeq(s, "/") {
		if seg == "." || seg == ".." {
			return true
		}
	}
	return false
}

// rawParts returns the authority and the path of a URI as the client wrote them (the
// parser's path is decoded), so that the canonical form keeps the client's encoding.
func rawParts(raw string) (authority, path string) {
	_, rest, _ := strings.Cut(raw, ":")
	if !strings.HasPrefix(rest, "//") {
		return "", rest
	}
	rest = rest[2:]
	if i := strings.IndexByte(rest, '/'); i >= 0 {
		return rest[:i], rest[i:]
	}
	return rest, ""
}

// segments returns a URI path's non-empty segments.
func segments(p string) []string {
	return strings.FieldsFunc(p, func(r rune) bool { return r == '/' })
}

func artifactsSource(raw string, u *url.URL) (source, error) {
	if u.Host != "" {
		return source{}, badSource(raw, "an mlflow-artifacts URI must not name a host")
	}
	_, p := rawParts(raw)
	segs := segments(p)
	if len(segs) == 0 {
		return source{}, badSource(raw, "the URI names no artifact path")
	}
	return source{kind: sourceArtifacts, canonical: "mlflow-artifacts:/" + strings.Join(segs, "/")}, nil
}

func runSource(raw string, u *url.URL) (source, error) {
	_, p := rawParts(raw)
	segs := segments(p)
	if u.Host != "" || len(segs) == 0 || !runIDPattern.MatchString(segs[0]) {
		return source{}, badSource(raw, "a runs: URI must have the form runs:/<run id>/<artifact path>")
	}
	return source{kind: sourceRun, canonical: "runs:/" + strings.Join(segs, "/"), runID: segs[0]}, nil
}

func modelSource(raw string, u *url.URL) (source, error) {
	_, p := rawParts(raw)
	segs := segments(p)
	switch {
	case u.Host != "" || !strings.HasPrefix(p, "/"):
	case len(segs) == 1 && loggedModelIDPattern.MatchString(segs[0]):
		return source{kind: sourceLoggedModel, canonical: "models:/" + segs[0], modelID: segs[0]}, nil
	case len(segs) == 2 && validateName("name", segs[0]) == nil:
		v, err := strconv.ParseInt(segs[1], 10, 64)
		if err == nil && v > 0 {
			return source{kind: sourceModelVersion, canonical: "models:/" + segs[0] + "/" + strconv.FormatInt(v, 10),
				name: segs[0], version: v}, nil
		}
	}
	return source{}, badSource(raw, "a models: source must be models:/<logged model id> or models:/<name>/<version number>")
}

func remoteSource(raw string, u *url.URL, scheme string) (source, error) {
	if u.Host == "" {
		return source{}, badSource(raw, "the URI must name a host or bucket")
	}
	if (scheme == "http" || scheme == "https") && strings.Contains(strings.ToLower(u.Path), artifactsRoute) {
		return source{}, badSource(raw, "artifacts served by an MLflow server must be registered by their mlflow-artifacts: URI")
	}
	host, p := rawParts(raw)
	canonical := scheme + "://" + host
	if segs := segments(p); len(segs) > 0 {
		canonical += "/" + strings.Join(segs, "/")
	}
	return source{kind: sourceRemote, canonical: canonical}, nil
}

// within reports whether the URI child lies under root, comparing path segments.
func within(child, root string) bool {
	cu, err1 := url.Parse(child)
	ru, err2 := url.Parse(root)
	if err1 != nil || err2 != nil || !strings.EqualFold(cu.Scheme, ru.Scheme) || !strings.EqualFold(cu.Host, ru.Host) {
		return false
	}
	c, r := segments(cu.Path), segments(ru.Path)
	return len(r) > 0 && len(c) >= len(r) && slices.Equal(c[:len(r)], r)
}

// SourceOrigin is what a model version's source reads from, for the permission check
// made before a version is created: registering a version copies its files, so the
// caller must be able to read where they come from.
type SourceOrigin struct {
	RunID         string // runs:/<run id>/...
	LoggedModelID string // models:/<logged model id>
	Model         string // models:/<name>/<version>, a copy of another version
	ArtifactPath  string // mlflow-artifacts:/<path>, the path in this server's artifact store
}

// OriginOf returns what raw reads from; an invalid source names nothing (its
// creation is refused for it).
func (s *Service) OriginOf(raw string) SourceOrigin {
	src, err := s.checkSource(raw, false)
	if err != nil {
		return SourceOrigin{}
	}
	o := SourceOrigin{RunID: src.runID, LoggedModelID: src.modelID, Model: src.name}
	if src.kind == sourceArtifacts {
		o.ArtifactPath = strings.TrimPrefix(src.canonical, "mlflow-artifacts:/")
	}
	return o
}
