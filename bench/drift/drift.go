package main

import (
	"context"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"slices"
	"time"
)

// dataFiles are the reference and current files of the drift figure.
type dataFiles struct {
	Reference string   `json:"reference"`
	Current   string   `json:"current"`
	Sizes     [2]int64 `json:"sizes_bytes"`
	GenerateS float64  `json:"generate_seconds"`
}

// columnInfo describes a generated column in the report.
type columnInfo struct {
	Name   string `json:"name"`
	Family string `json:"family"`
	Shift  string `json:"shift,omitempty"`
	Drift  bool   `json:"injected_drift,omitempty"`
}

// driftResult is the drift figure.
type driftResult struct {
	Rows        int64        `json:"rows"`
	Numeric     int          `json:"numeric_columns"`
	Categorical int          `json:"categorical_columns"`
	Columns     []columnInfo `json:"columns"`
	Files       dataFiles    `json:"files"`

	Mlship    *mlshipDrift     `json:"mlship"`
	InProcess *inprocessResult `json:"in_process"`
	Evidently *evidentlyRun    `json:"evidently"`
	Verdicts  verdictCheck     `json:"verdicts"`
	// InProcessExactAgrees is true when the in-process exact comparison flags the same
	// columns as the server's; ProfilesAgree when the comparison of the profiles does.
	InProcessExactAgrees bool `json:"in_process_exact_agrees"`
	ProfilesAgree        bool `json:"profiles_agree"`
	// ProfilesMaxScoreDiff is the largest difference between a score computed from
	// the profiles and the exact one, and ProfilesMaxScoreColumn its column.
	ProfilesMaxScoreDiff   float64 `json:"profiles_max_score_difference"`
	ProfilesMaxScoreColumn string  `json:"profiles_max_score_difference_column"`
}

func generateData(cfg config, s schema, work string, logger *log.Logger) (*dataFiles, error) {
	dir := filepath.Join(work, "drift")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	d := &dataFiles{Reference: filepath.Join(dir, "reference.csv"), Current: filepath.Join(dir, "current.csv")}
	logger.Printf("drift: writing %d rows x %d columns to %s and %s", cfg.rows, cfg.cols, d.Reference, d.Current)
	t0 := time.Now()
	for i, f := range []struct {
		path string
		id   int
	}{{d.Reference, fileReference}, {d.Current, fileCurrent}} {
		n, err := s.writeFile(f.path, f.id, cfg.rows, 0)
		if err != nil {
			return nil, err
		}
		d.Sizes[i] = n
	}
	d.GenerateS = time.Since(t0).Seconds()
	return d, nil
}

// benchDrift generates the two files and measures mlship's server, mlship's packages in
// process and Evidently on them, one after the other.
func benchDrift(ctx context.Context, cfg config, work string, logger *log.Logger) (*driftResult, error) {
	s := newSchema(cfg.cols)
	res := &driftResult{Rows: cfg.rows}
	for _, c := range s.Columns {
		res.Columns = append(res.Columns, columnInfo{Name: c.Name, Family: familyNames[c.Family], Shift: c.Desc, Drift: c.Shift == shiftDrift})
		if c.Family >= famLabel {
			res.Categorical++
		} else {
			res.Numeric++
		}
	}
	d, err := generateData(cfg, s, work, logger)
	if err != nil {
		return nil, err
	}
	res.Files = *d
	if res.Mlship, err = benchMlshipDrift(ctx, cfg, d, logger); err != nil {
		return nil, fmt.Errorf("mlship: %w", err)
	}
	logger.Printf("in process: profile both files, compare the profiles, load both tables, compare them")
	if res.InProcess, err = runInprocess(ctx, d.Reference, d.Current, cfg.cpuProfileDir); err != nil {
		return nil, err
	}
	if res.Evidently, err = benchEvidently(ctx, cfg, d, work, logger); err != nil {
		return nil, fmt.Errorf("evidently: %w", err)
	}
	res.Verdicts = checkVerdicts(res.Evidently.evidentlyResult, res.Mlship.Report, s.Drifted())
	server := res.Mlship.Report.drifted()
	res.InProcessExactAgrees = slices.Equal(res.InProcess.Exact.drifted(), server)
	res.ProfilesAgree = slices.Equal(res.InProcess.Profiles.drifted(), server)
	res.ProfilesMaxScoreDiff, res.ProfilesMaxScoreColumn = maxScoreDiff(res.InProcess.Profiles, res.InProcess.Exact)
	if !cfg.keep && cfg.wants(partRegister) {
		// The registration part needs the disk more than these files.
		_ = os.RemoveAll(filepath.Dir(d.Reference))
	}
	return res, nil
}
