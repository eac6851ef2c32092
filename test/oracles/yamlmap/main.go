// Command yamlmap is the reference oracle for templateFrom's KeysAndValues (and literal) output:
// ESO unmarshals the rendered text into a map[string]string with k8s.io/apimachinery's
// yaml.Unmarshal, which for that type is sigs.k8s.io/yaml.Unmarshal (go-yaml v2 to JSON, then
// encoding/json).
//
// stdin:  ["a: b\n", ...]
// stdout: [{"map": {"a": "b"}}, {"err": "..."}, ...]
package main

import (
	"encoding/json"
	"fmt"
	"os"

	"sigs.k8s.io/yaml"
)

type result struct {
	Map map[string]string `json:"map,omitempty"`
	Err string            `json:"err,omitempty"`
	OK  bool              `json:"ok"`
}

func main() {
	var cases []string
	if err := json.NewDecoder(os.Stdin).Decode(&cases); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	out := make([]result, len(cases))
	for i, c := range cases {
		m := make(map[string]string)
		if err := yaml.Unmarshal([]byte(c), &m); err != nil {
			out[i] = result{Err: err.Error()}
			continue
		}
		out[i] = result{Map: m, OK: true}
	}
	if err := json.NewEncoder(os.Stdout).Encode(out); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
}
