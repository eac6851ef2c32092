// Command cron is the reference oracle for sync-window schedules: robfig/cron v3's standard
// parser, which the External Secrets Operator uses for `spec.syncWindows.windows[].schedule`.
//
// stdin:  [{"spec": "0 22 * * 1-5", "times": [1780351200, ...]}, ...]   (Unix seconds, UTC)
// stdout: [{"error": "..."} | {"next": [1780351200 | null, ...]}, ...]
// next[i] is schedule.Next(times[i]) in Unix seconds, null when robfig finds none (zero time).
package main

import (
	"encoding/json"
	"fmt"
	"os"
	"time"

	"github.com/robfig/cron"
)

type testCase struct {
	Spec  string  `json:"spec"`
	Times []int64 `json:"times"`
}

type result struct {
	Error *string  `json:"error,omitempty"`
	Next  []*int64 `json:"next,omitempty"`
}

func main() {
	var cases []testCase
	if err := json.NewDecoder(os.Stdin).Decode(&cases); err != nil {
		fmt.Fprintln(os.Stderr, "cron oracle: bad input:", err)
		os.Exit(2)
	}
	results := make([]result, len(cases))
	for i, c := range cases {
		sched, err := cron.ParseStandard(c.Spec)
		if err != nil {
			msg := err.Error()
			results[i] = result{Error: &msg}
			continue
		}
		next := make([]*int64, len(c.Times))
		for j, t := range c.Times {
			n := sched.Next(time.Unix(t, 0).UTC())
			if !n.IsZero() {
				s := n.Unix()
				next[j] = &s
			}
		}
		results[i] = result{Next: next}
	}
	if err := json.NewEncoder(os.Stdout).Encode(results); err != nil {
		fmt.Fprintln(os.Stderr, "cron oracle:", err)
		os.Exit(1)
	}
}
