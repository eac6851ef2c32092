// Command gjson is the reference oracle for property paths: it runs tidwall/gjson, which the
// External Secrets Operator uses to read `remoteRef.property`, over JSON cases.
//
// stdin:  [{"json": "{...}", "paths": ["a.b", "k*y"]}, ...]
// stdout: [[{"exists": true, "string": "..."}, ...], ...]   (Result.Exists, Result.String)
package main

import (
	"encoding/json"
	"fmt"
	"os"

	"github.com/tidwall/gjson"
)

type testCase struct {
	JSON  string   `json:"json"`
	Paths []string `json:"paths"`
}

type pathResult struct {
	Exists bool   `json:"exists"`
	String string `json:"string"`
}

func main() {
	var cases []testCase
	if err := json.NewDecoder(os.Stdin).Decode(&cases); err != nil {
		fmt.Fprintln(os.Stderr, "gjson oracle: bad input:", err)
		os.Exit(2)
	}
	results := make([][]pathResult, len(cases))
	for i, c := range cases {
		results[i] = []pathResult{}
		for _, p := range c.Paths {
			r := gjson.Get(c.JSON, p)
			results[i] = append(results[i], pathResult{Exists: r.Exists(), String: r.String()})
		}
	}
	enc := json.NewEncoder(os.Stdout)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(results); err != nil {
		fmt.Fprintln(os.Stderr, "gjson oracle:", err)
		os.Exit(2)
	}
}
