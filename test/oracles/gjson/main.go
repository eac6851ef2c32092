// Command gjson is the reference oracle for property paths: it runs tidwall/gjson, which the
// External Secrets Operator uses to read `remoteRef.property`, over JSON cases.
//
// stdin:  [{"json": "{...}", "paths": ["a.b", "k*y"]}, ...]
// stdout: [[{"exists": true, "string": "...", "eso": {...}}, ...], ...]
// exists/string are gjson.Get(json, path).Exists()/.String(); eso is the same for ESO's lookup
// (its providers' GetSecret): first the path with every "." escaped, then the path itself.
package main

import (
	"encoding/json"
	"fmt"
	"os"
	"strings"

	"github.com/tidwall/gjson"
)

type testCase struct {
	JSON  string   `json:"json"`
	Paths []string `json:"paths"`
}

type result struct {
	Exists bool   `json:"exists"`
	String string `json:"string"`
}

type pathResult struct {
	result
	ESO result `json:"eso"`
}

func esoGet(json, property string) gjson.Result {
	if strings.Contains(property, ".") {
		if val := gjson.Get(json, strings.ReplaceAll(property, ".", "\\.")); val.Exists() {
			return val
		}
	}
	return gjson.Get(json, property)
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
			e := esoGet(c.JSON, p)
			results[i] = append(results[i], pathResult{
				result: result{Exists: r.Exists(), String: r.String()},
				ESO:    result{Exists: e.Exists(), String: e.String()},
			})
		}
	}
	enc := json.NewEncoder(os.Stdout)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(results); err != nil {
		fmt.Fprintln(os.Stderr, "gjson oracle:", err)
		os.Exit(2)
	}
}
