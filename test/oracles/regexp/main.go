// Command regexp is the reference oracle for the webhook's pattern engine: it runs Go's own
// regexp package (the engine the External Secrets Operator uses for find.name.regexp,
// rewrite[].regexp and conditions[].namespaceRegexes) over JSON cases and prints what Go does,
// so a differential test can require the TypeScript engine to agree.
//
// stdin:  [{"pattern": "...", "inputs": ["..."], "replace": "$1-x"}, ...]   (replace optional)
// stdout: [{"error": "...", "names": [...], "inputs": [{"match": true, "submatches": [...],
// "replaced": "..."}]}, ...]
//
// `submatches` is FindAllStringSubmatchIndex turned into strings (null for a group that did not
// take part); `replaced` is ReplaceAllString(input, replace), exactly what ESO's rewrite does.
package main

import (
	"encoding/json"
	"fmt"
	"os"
	"regexp"
)

type testCase struct {
	Pattern string   `json:"pattern"`
	Inputs  []string `json:"inputs"`
	Replace *string  `json:"replace"`
}

type inputResult struct {
	Match      bool        `json:"match"`
	Submatches [][]*string `json:"submatches"`
	Replaced   *string     `json:"replaced,omitempty"`
}

type caseResult struct {
	Error  *string       `json:"error,omitempty"`
	Names  []string      `json:"names,omitempty"`
	Inputs []inputResult `json:"inputs,omitempty"`
}

func run(c testCase) caseResult {
	re, err := regexp.Compile(c.Pattern)
	if err != nil {
		msg := err.Error()
		return caseResult{Error: &msg}
	}
	out := caseResult{Names: re.SubexpNames(), Inputs: []inputResult{}}
	for _, in := range c.Inputs {
		r := inputResult{Match: re.MatchString(in), Submatches: [][]*string{}}
		for _, idx := range re.FindAllStringSubmatchIndex(in, -1) {
			groups := make([]*string, len(idx)/2)
			for g := range groups {
				if idx[2*g] >= 0 {
					s := in[idx[2*g]:idx[2*g+1]]
					groups[g] = &s
				}
			}
			r.Submatches = append(r.Submatches, groups)
		}
		if c.Replace != nil {
			s := re.ReplaceAllString(in, *c.Replace)
			r.Replaced = &s
		}
		out.Inputs = append(out.Inputs, r)
	}
	return out
}

func main() {
	var cases []testCase
	if err := json.NewDecoder(os.Stdin).Decode(&cases); err != nil {
		fmt.Fprintln(os.Stderr, "regexp oracle: bad input:", err)
		os.Exit(2)
	}
	results := make([]caseResult, len(cases))
	for i, c := range cases {
		results[i] = run(c)
	}
	enc := json.NewEncoder(os.Stdout)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(results); err != nil {
		fmt.Fprintln(os.Stderr, "regexp oracle:", err)
		os.Exit(2)
	}
}
