// Command template is the reference oracle for the webhook's template engine: it renders
// ExternalSecret templates exactly as the External Secrets Operator does — Go's text/template
// with Option("missingkey=error"), sprig v3's TxtFuncMap without env, expandenv and
// getHostByName (ESO removes them), plus the functions ESO adds (eso.go) — against the secret
// data as map[string]string, and prints what Go produced or that it failed.
//
// stdin:  [{"template": "...", "data": {"k": "v"}, "now": "2024-01-02T03:04:05Z"}, ...]
// stdout: [{"output": "..."} | {"error": "..."}, ...]
//
// `now` (optional, RFC 3339) fixes the clock of sprig's date functions (clock.go) so they
// compare byte for byte; Local is UTC, as in ESO's container. A panic inside one case is that case's error.
package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"text/template"
	"time"

	"github.com/Masterminds/sprig"
)

type testCase struct {
	Template string            `json:"template"`
	Data     map[string]string `json:"data"`
	Now      string            `json:"now"`
}

type caseResult struct {
	Output *string `json:"output,omitempty"`
	Error  *string `json:"error,omitempty"`
}

func funcs(now time.Time) template.FuncMap {
	m := sprig.TxtFuncMap()
	delete(m, "env")
	delete(m, "expandenv")
	delete(m, "getHostByName")
	for k, v := range verifyFuncs() {
		m[k] = v
	}
	for k, v := range clockFuncs(now) {
		m[k] = v
	}
	for k, v := range esoFuncs() {
		m[k] = v
	}
	return m
}

func run(c testCase) (res caseResult) {
	defer func() {
		if r := recover(); r != nil {
			msg := fmt.Sprint("panic: ", r)
			res = caseResult{Error: &msg}
		}
	}()
	now := time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC)
	if c.Now != "" {
		if t, err := time.Parse(time.RFC3339Nano, c.Now); err == nil {
			now = t
		}
	}
	if c.Data == nil {
		c.Data = map[string]string{}
	}
	t, err := template.New("template").Option("missingkey=error").Funcs(funcs(now)).Parse(c.Template)
	if err != nil {
		msg := err.Error()
		return caseResult{Error: &msg}
	}
	var buf bytes.Buffer
	if err := t.Execute(&buf, c.Data); err != nil {
		msg := err.Error()
		return caseResult{Error: &msg}
	}
	out := buf.String()
	return caseResult{Output: &out}
}

func main() {
	// ESO's image has neither TZ nor /etc/localtime: Local is UTC there, and here.
	time.Local = time.UTC
	var cases []testCase
	if err := json.NewDecoder(os.Stdin).Decode(&cases); err != nil {
		fmt.Fprintln(os.Stderr, "template oracle: bad input:", err)
		os.Exit(2)
	}
	results := make([]caseResult, len(cases))
	for i, c := range cases {
		results[i] = run(c)
	}
	enc := json.NewEncoder(os.Stdout)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(results); err != nil {
		fmt.Fprintln(os.Stderr, "template oracle:", err)
		os.Exit(2)
	}
}
