package bench

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"
)

// Figure is one measured value, with the baseline it is judged against,
// the ratio to that baseline and the target, when it has one.
type Figure struct {
	Shape string  `json:"shape"`
	Name  string  `json:"name"`
	Value float64 `json:"value"`
	Unit  string  `json:"unit"`
	// Baseline names the figure (of the same shape) that Ratio divides by;
	// empty when the figure stands alone.
	Baseline string  `json:"baseline,omitempty"`
	Ratio    float64 `json:"ratio,omitempty"`
	// Target is the rule, e.g. "ratio >= 0.8"; Met says whether it holds
	// (nil when there is no target).
	Target string `json:"target,omitempty"`
	Met    *bool  `json:"met,omitempty"`
	Note   string `json:"note,omitempty"`
}

// Report is the outcome of one bench run.
type Report struct {
	Date    time.Time `json:"date"`
	Machine string    `json:"machine"`
	Scale   float64   `json:"scale"`
	// Path says how the bulk releases were driven.
	Path    string   `json:"path"`
	Figures []Figure `json:"figures"`
	// Errors are the parts that could not be measured, in words.
	Errors []string `json:"errors,omitempty"`
}

// Find returns the figure of shape and name.
func (r *Report) Find(shape, name string) (Figure, bool) {
	for _, f := range r.Figures {
		if f.Shape == shape && f.Name == name {
			return f, true
		}
	}
	return Figure{}, false
}

func (r *Report) add(f Figure) *Figure {
	r.Figures = append(r.Figures, f)
	return &r.Figures[len(r.Figures)-1]
}

// judge sets f's ratio to base and whether it meets the target.
func (f *Figure) judge(baseName string, base float64, target string, met func(ratio float64) bool) {
	f.Baseline, f.Target = baseName, target
	if base > 0 {
		f.Ratio = f.Value / base
	}
	if met != nil {
		ok := base > 0 && f.Value > 0 && met(f.Ratio)
		f.Met = &ok
	}
}

// WriteJSON writes r as indented JSON.
func (r *Report) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

// WriteTable writes r as a Markdown table: figure, value, unit, ratio to
// its baseline, target and whether it is met.
func (r *Report) WriteTable(w io.Writer) error {
	fmt.Fprintf(w, "midata bench, %s, %s, scale %g; bulk path: %s\n\n", r.Date.UTC().Format("2006-01-02 15:04 MST"), r.Machine, r.Scale, r.Path)
	tw := tabwriter.NewWriter(w, 0, 0, 1, ' ', 0)
	fmt.Fprintln(tw, "| shape\t| figure\t| value\t| unit\t| ratio (to)\t| target\t| met\t| note\t|")
	fmt.Fprintln(tw, "|---\t|---\t|---\t|---\t|---\t|---\t|---\t|---\t|")
	for _, f := range r.Figures {
		ratio := ""
		if f.Baseline != "" {
			ratio = fmt.Sprintf("%.3g (%s)", f.Ratio, f.Baseline)
		}
		met := ""
		if f.Met != nil {
			met = map[bool]string{true: "met", false: "**missed**"}[*f.Met]
		}
		fmt.Fprintf(tw, "| %s\t| %s\t| %s\t| %s\t| %s\t| %s\t| %s\t| %s\t|\n", f.Shape, f.Name, human(f.Value), f.Unit, ratio, f.Target, met, cell(f.Note))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, e := range r.Errors {
		fmt.Fprintf(w, "\nnot measured: %s\n", e)
	}
	return nil
}

// cell escapes the pipes of a Markdown table cell.
func cell(s string) string { return strings.ReplaceAll(s, "|", `\|`) }

// human prints v with three significant digits and a k/M suffix.
func human(v float64) string {
	switch a := max(v, -v); {
	case a >= 1e6:
		return fmt.Sprintf("%.3g M", v/1e6)
	case a >= 1e4:
		return fmt.Sprintf("%.3g k", v/1e3)
	case a >= 100:
		return fmt.Sprintf("%.0f", v)
	default:
		return fmt.Sprintf("%.3g", v)
	}
}
