package main

import (
	"encoding/json"
	"io"
	"sort"
)

// SARIF 2.1.0 (OASIS), the subset code-scanning UIs read: one run whose
// driver lists a rule per kind, and a result per problem with its file
// (a relative URI) and region.
type (
	sarifLog struct {
		Schema  string     `json:"$schema"`
		Version string     `json:"version"`
		Runs    []sarifRun `json:"runs"`
	}
	sarifRun struct {
		Tool    sarifTool     `json:"tool"`
		Results []sarifResult `json:"results"`
	}
	sarifTool struct {
		Driver sarifDriver `json:"driver"`
	}
	sarifDriver struct {
		Name           string      `json:"name"`
		InformationURI string      `json:"informationUri,omitempty"`
		Rules          []sarifRule `json:"rules"`
	}
	sarifRule struct {
		ID               string       `json:"id"`
		ShortDescription sarifMessage `json:"shortDescription"`
	}
	sarifResult struct {
		RuleID    string          `json:"ruleId"`
		RuleIndex int             `json:"ruleIndex"`
		Level     string          `json:"level"`
		Message   sarifMessage    `json:"message"`
		Locations []sarifLocation `json:"locations"`
	}
	sarifMessage struct {
		Text string `json:"text"`
	}
	sarifLocation struct {
		PhysicalLocation sarifPhysical `json:"physicalLocation"`
	}
	sarifPhysical struct {
		ArtifactLocation sarifArtifact `json:"artifactLocation"`
		Region           sarifRegion   `json:"region"`
	}
	sarifArtifact struct {
		URI string `json:"uri"`
	}
	sarifRegion struct {
		StartLine   int `json:"startLine"`
		StartColumn int `json:"startColumn"`
	}
)

const sarifSchema = "https://json.schemastore.org/sarif-2.1.0.json"

func writeSARIF(w io.Writer, problems []checkProblem) error {
	kinds := map[string]int{}
	var names []string
	for _, p := range problems {
		if _, ok := kinds[p.Kind]; !ok {
			kinds[p.Kind] = 0
			names = append(names, p.Kind)
		}
	}
	sort.Strings(names)
	driver := sarifDriver{Name: "runner", Rules: []sarifRule{}}
	for i, k := range names {
		kinds[k] = i
		driver.Rules = append(driver.Rules, sarifRule{ID: k, ShortDescription: sarifMessage{Text: "runner check: " + k}})
	}
	results := []sarifResult{}
	for _, p := range problems {
		results = append(results, sarifResult{
			RuleID: p.Kind, RuleIndex: kinds[p.Kind], Level: p.Severity,
			Message: sarifMessage{Text: p.Message},
			Locations: []sarifLocation{{PhysicalLocation: sarifPhysical{
				ArtifactLocation: sarifArtifact{URI: p.Filepath},
				Region:           sarifRegion{StartLine: p.Line, StartColumn: p.Column},
			}}},
		})
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(sarifLog{Schema: sarifSchema, Version: "2.1.0", Runs: []sarifRun{{Tool: sarifTool{Driver: driver}, Results: results}}})
}
