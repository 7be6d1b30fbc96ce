// promcheck reads a Prometheus text exposition on stdin with Prometheus's own parser (expfmt) and
// prints it as JSON, with the problems promlint (what `promtool check metrics` runs) finds in it.
// The metrics tests use it so the scrape is judged by the parser Prometheus itself uses.
package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"

	"github.com/prometheus/client_golang/prometheus/testutil/promlint"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

type sample struct {
	Labels  map[string]string `json:"labels"`
	Value   *float64          `json:"value,omitempty"`
	Count   *uint64           `json:"count,omitempty"`
	Sum     *float64          `json:"sum,omitempty"`
	Buckets map[string]uint64 `json:"buckets,omitempty"`
}

type family struct {
	Name    string   `json:"name"`
	Type    string   `json:"type"`
	Help    string   `json:"help"`
	Metrics []sample `json:"metrics"`
}

type problem struct {
	Metric string `json:"metric"`
	Text   string `json:"text"`
}

func main() {
	in, err := io.ReadAll(os.Stdin)
	if err != nil {
		fail(err)
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(bytes.NewReader(in))
	if err != nil {
		fail(fmt.Errorf("not valid Prometheus text format: %w", err))
	}
	out := struct {
		Families []family  `json:"families"`
		Problems []problem `json:"problems"`
	}{Families: []family{}, Problems: []problem{}}
	for name, mf := range families {
		f := family{Name: name, Type: mf.GetType().String(), Help: mf.GetHelp()}
		for _, m := range mf.GetMetric() {
			s := sample{Labels: map[string]string{}}
			for _, l := range m.GetLabel() {
				s.Labels[l.GetName()] = l.GetValue()
			}
			switch mf.GetType() {
			case dto.MetricType_COUNTER:
				v := m.GetCounter().GetValue()
				s.Value = &v
			case dto.MetricType_GAUGE:
				v := m.GetGauge().GetValue()
				s.Value = &v
			case dto.MetricType_HISTOGRAM:
				h := m.GetHistogram()
				c, sum := h.GetSampleCount(), h.GetSampleSum()
				s.Count, s.Sum = &c, &sum
				s.Buckets = map[string]uint64{}
				for _, b := range h.GetBucket() {
					s.Buckets[fmt.Sprint(b.GetUpperBound())] = b.GetCumulativeCount()
				}
			default:
				v := m.GetUntyped().GetValue()
				s.Value = &v
			}
			f.Metrics = append(f.Metrics, s)
		}
		out.Families = append(out.Families, f)
	}
	lint := promlint.New(bytes.NewReader(in))
	problems, err := lint.Lint()
	if err != nil {
		fail(err)
	}
	for _, p := range problems {
		out.Problems = append(out.Problems, problem{Metric: p.Metric, Text: p.Text})
	}
	if err := json.NewEncoder(os.Stdout).Encode(out); err != nil {
		fail(err)
	}
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "promcheck:", err)
	os.Exit(1)
}
