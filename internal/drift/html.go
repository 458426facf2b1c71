package drift

import (
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"html/template"
	"io"
	"math"
	"strconv"
)

// The HTML report is one self-contained page: no scripts, no external assets,
// histograms drawn as inline SVG. Every name and value from the data goes
// through html/template's escaping. The page carries its own
// Content-Security-Policy, which allows nothing but its one style sheet (by
// hash); a server can send the same policy as a header
// (HTMLContentSecurityPolicy).

const reportStyle = `body{font:14px/1.4 system-ui,sans-serif;margin:24px;color:#1d232a;max-width:1100px}
h1{font-size:22px;margin:0 0 4px}h2{font-size:16px;margin:28px 0 6px}
table{border-collapse:collapse;margin:12px 0}th,td{padding:4px 10px;border-bottom:1px solid #dde2e7;text-align:left}
th{background:#f3f5f7}td.n{text-align:right;font-variant-numeric:tabular-nums}
.drift{color:#b42318;font-weight:600}.ok{color:#067647}.muted{color:#667085}
.verdict{font-size:16px;padding:10px 14px;border-radius:6px;display:inline-block;margin:8px 0}
.verdict.drift{background:#fef3f2}.verdict.ok{background:#ecfdf3}
.legend span{display:inline-block;width:10px;height:10px;margin:0 4px 0 12px}
.ref{background:#4e79a7}.cur{background:#f28e2b}svg{display:block;margin:6px 0 2px}
.stats td{border:none;padding:1px 10px 1px 0}`

// HTMLContentSecurityPolicy is the policy the report page declares; serve it
// as the Content-Security-Policy header too.
var HTMLContentSecurityPolicy = func() string {
	sum := sha256.Sum256([]byte(reportStyle))
	return "default-src 'none'; style-src 'sha256-" + base64.StdEncoding.EncodeToString(sum[:]) + "'; base-uri 'none'; form-action 'none'"
}()

var reportTemplate = template.Must(template.New("report").Funcs(template.FuncMap{
	"fmt": formatNumber,
}).Parse(`<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="{{.CSP}}">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Data drift report</title>
<style>{{.Style}}</style></head>
<body>
<h1>Data drift report</h1>
<div class="muted">Reference: {{.R.ReferenceRows}} rows · current: {{.R.CurrentRows}} rows · compared from {{.R.Source}}</div>
{{if .R.DatasetDrift}}<div class="verdict drift">Dataset drift detected: {{.R.DriftedColumns}} of {{.R.Columns}} columns drifted (share {{fmt .R.ShareDrifted}}, threshold {{fmt .R.DriftShare}})</div>
{{else}}<div class="verdict ok">No dataset drift: {{.R.DriftedColumns}} of {{.R.Columns}} columns drifted (share {{fmt .R.ShareDrifted}}, threshold {{fmt .R.DriftShare}})</div>{{end}}
<table><thead><tr><th>Column</th><th>Kind</th><th>Test</th><th>Score</th><th>Threshold</th><th>Drift</th></tr></thead><tbody>
{{range .Columns}}<tr><td><a href="#{{.Anchor}}">{{.R.Name}}</a></td><td>{{.R.Kind}}</td><td>{{.R.MethodName}}</td><td class="n">{{fmt .R.Score.V}}{{if .R.Approximate}} ≈{{end}}</td><td class="n">{{fmt .R.Threshold}}</td><td>{{if .R.Drifted}}<span class="drift">drifted</span>{{else}}<span class="ok">no</span>{{end}}</td></tr>
{{end}}</tbody></table>
{{if .R.Skipped}}<p class="muted">Not compared: {{range $i, $s := .R.Skipped}}{{if $i}}; {{end}}{{$s.Name}} ({{$s.Reason}}){{end}}</p>{{end}}
<div class="legend muted"><span class="ref"></span>reference<span class="cur"></span>current</div>
{{range .Columns}}<h2 id="{{.Anchor}}">{{.R.Name}} {{if .R.Drifted}}<span class="drift">· drifted</span>{{end}}</h2>
<div class="muted">{{.R.MethodName}} = {{fmt .R.Score.V}}{{if .R.Approximate}} (approximate, from sketches){{end}}; drift when {{.Rule}} {{fmt .R.Threshold}}</div>
<svg width="{{.Chart.Width}}" height="{{.Chart.Height}}" viewBox="0 0 {{.Chart.Width}} {{.Chart.Height}}" role="img" aria-label="histogram of {{.R.Name}}">
<line x1="{{.Chart.Left}}" y1="{{.Chart.Base}}" x2="{{.Chart.Right}}" y2="{{.Chart.Base}}" stroke="#98a2b3"/>
{{range .Chart.Bars}}<rect x="{{fmt .X}}" y="{{fmt .Y}}" width="{{fmt .W}}" height="{{fmt .H}}" fill="{{.Fill}}"><title>{{.Title}}</title></rect>
{{end}}{{range .Chart.Labels}}<text x="{{fmt .X}}" y="{{fmt .Y}}" font-size="11" fill="#475467" text-anchor="{{.Anchor}}">{{.Text}}</text>
{{end}}</svg>
<table class="stats"><tr><td></td><td class="muted">count</td><td class="muted">missing</td><td class="muted">distinct</td>{{if .Numeric}}<td class="muted">min</td><td class="muted">mean</td><td class="muted">std</td><td class="muted">max</td>{{else}}<td class="muted">most frequent</td>{{end}}</tr>
{{range .Sides}}<tr><td class="muted">{{.Label}}</td><td class="n">{{.S.Count}}</td><td class="n">{{.S.Missing}}</td><td class="n">{{.S.Distinct}}</td>{{if .Numeric}}<td class="n">{{fmt .S.Min.V}}</td><td class="n">{{fmt .S.Mean.V}}</td><td class="n">{{fmt .S.Std.V}}</td><td class="n">{{fmt .S.Max.V}}</td>{{else}}<td>{{range $i, $t := .S.Top}}{{if lt $i 5}}{{if $i}}, {{end}}{{$t.Value}} ({{$t.Count}}){{end}}{{end}}</td>{{end}}</tr>
{{end}}</table>
{{end}}</body></html>
`))

type htmlPage struct {
	CSP     string
	Style   template.CSS
	R       *Report
	Columns []htmlColumn
}

type htmlColumn struct {
	R       ColumnResult
	Anchor  string
	Rule    string
	Numeric bool
	Chart   chart
	Sides   []htmlSide
}

type htmlSide struct {
	Label   string
	S       Summary
	Numeric bool
}

// WriteHTML renders the report as a self-contained HTML page.
func (r *Report) WriteHTML(w io.Writer) error {
	page := htmlPage{CSP: HTMLContentSecurityPolicy, Style: template.CSS(reportStyle), R: r}
	for i, c := range r.Results {
		numeric := len(c.Histogram.Edges) > 0
		page.Columns = append(page.Columns, htmlColumn{
			R: c, Anchor: "col-" + strconv.Itoa(i), Rule: ruleText(c.Method), Numeric: numeric,
			Chart: drawHistogram(c.Histogram),
			Sides: []htmlSide{{"reference", c.Reference, numeric}, {"current", c.Current, numeric}},
		})
	}
	return reportTemplate.Execute(w, page)
}

func ruleText(m Method) string {
	info := methods[m]
	switch {
	case !info.pValue:
		return "≥"
	case info.inclusive:
		return "≤"
	}
	return "<"
}

func formatNumber(v float64) string {
	switch {
	case math.IsNaN(v):
		return "–"
	case math.IsInf(v, 0), v == 0, math.Abs(v) >= 1e-3 && math.Abs(v) < 1e6:
		return strconv.FormatFloat(v, 'g', 4, 64)
	}
	return strconv.FormatFloat(v, 'e', 2, 64)
}

type chart struct {
	Width, Height, Left, Right, Base int
	Bars                             []bar
	Labels                           []label
}

type bar struct {
	X, Y, W, H float64
	Fill       string
	Title      string
}

type label struct {
	X, Y   float64
	Anchor string
	Text   string
}

const (
	chartWidth  = 760
	chartHeight = 190
	chartLeft   = 10
	chartBase   = 150
	chartTop    = 10
)

// drawHistogram lays out paired bars: reference and current share per bin.
func drawHistogram(h Histogram) chart {
	c := chart{Width: chartWidth, Height: chartHeight, Left: chartLeft, Right: chartWidth - chartLeft, Base: chartBase}
	bins := len(h.Reference)
	if bins == 0 {
		return c
	}
	top := 0.0
	for i := range bins {
		top = math.Max(top, math.Max(h.Reference[i], h.Current[i]))
	}
	if top == 0 {
		top = 1
	}
	slot := float64(c.Right-c.Left) / float64(bins)
	barW := math.Max(slot*0.4, 1)
	for i := range bins {
		x := float64(c.Left) + float64(i)*slot + slot*0.1
		name := binName(h, i)
		for side, share := range []float64{h.Reference[i], h.Current[i]} {
			height := share / top * float64(chartBase-chartTop)
			fill, who := "#4e79a7", "reference"
			if side == 1 {
				fill, who = "#f28e2b", "current"
			}
			c.Bars = append(c.Bars, bar{
				X: x + float64(side)*barW, Y: float64(chartBase) - height, W: barW, H: height, Fill: fill,
				Title: fmt.Sprintf("%s: %s %.2f%%", name, who, share*100),
			})
		}
	}
	c.Labels = histogramLabels(h, slot)
	return c
}

func binName(h Histogram, i int) string {
	if len(h.Edges) > 0 {
		return "[" + formatNumber(h.Edges[i]) + ", " + formatNumber(h.Edges[i+1]) + ")"
	}
	return h.Labels[i]
}

// histogramLabels names the bins under the axis: the range ends (and middle)
// of numerical bins, or category labels while they fit.
func histogramLabels(h Histogram, slot float64) []label {
	y := float64(chartBase + 16)
	if len(h.Edges) > 0 {
		last := len(h.Edges) - 1
		return []label{
			{X: chartLeft, Y: y, Anchor: "start", Text: formatNumber(h.Edges[0])},
			{X: chartWidth / 2, Y: y, Anchor: "middle", Text: formatNumber((h.Edges[0] + h.Edges[last]) / 2)},
			{X: chartWidth - chartLeft, Y: y, Anchor: "end", Text: formatNumber(h.Edges[last])},
		}
	}
	maxChars := max(int(slot/6.5), 3)
	var out []label
	for i, text := range h.Labels {
		if r := []rune(text); len(r) > maxChars {
			text = string(r[:maxChars-1]) + "…"
		}
		out = append(out, label{X: chartLeft + (float64(i)+0.5)*slot, Y: y, Anchor: "middle", Text: text})
	}
	return out
}
