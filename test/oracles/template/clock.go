package main

// Sprig's date functions read the wall clock (time.Now, time.Since) in a few places. The
// differential test fixes "now", so those functions are redefined here exactly as sprig 3.2.3
// (and ESO's vendored copy) writes them, with the clock replaced by the case's fixed time.
// Everything else (layouts, zones, durations) is Go's and sprig's own code.

import (
	"strconv"
	"time"
)

func clockFuncs(now time.Time) map[string]interface{} {
	since := func(t time.Time) time.Duration { return now.Sub(t) }
	dateInZone := func(fmt string, date interface{}, zone string) string {
		var t time.Time
		switch date := date.(type) {
		default:
			t = now
		case time.Time:
			t = date
		case *time.Time:
			t = *date
		case int64:
			t = time.Unix(date, 0)
		case int:
			t = time.Unix(int64(date), 0)
		case int32:
			t = time.Unix(int64(date), 0)
		}
		loc, err := time.LoadLocation(zone)
		if err != nil {
			loc, _ = time.LoadLocation("UTC")
		}
		return t.In(loc).Format(fmt)
	}
	return map[string]interface{}{
		"now":            func() time.Time { return now },
		"date":           func(fmt string, date interface{}) string { return dateInZone(fmt, date, "Local") },
		"dateInZone":     dateInZone,
		"date_in_zone":   dateInZone,
		"htmlDate":       func(date interface{}) string { return dateInZone("2006-01-02", date, "Local") },
		"htmlDateInZone": func(date interface{}, zone string) string { return dateInZone("2006-01-02", date, zone) },
		"ago": func(date interface{}) string {
			var t time.Time
			switch date := date.(type) {
			default:
				t = now
			case time.Time:
				t = date
			case int64:
				t = time.Unix(date, 0)
			case int:
				t = time.Unix(int64(date), 0)
			}
			return since(t).Round(time.Second).String()
		},
		"durationRound": func(duration interface{}) string {
			var d time.Duration
			switch duration := duration.(type) {
			default:
				d = 0
			case string:
				d, _ = time.ParseDuration(duration)
			case int64:
				d = time.Duration(duration)
			case time.Time:
				d = since(duration)
			}
			u := uint64(d)
			if d < 0 {
				u = -u
			}
			var (
				year   = uint64(time.Hour) * 24 * 365
				month  = uint64(time.Hour) * 24 * 30
				day    = uint64(time.Hour) * 24
				hour   = uint64(time.Hour)
				minute = uint64(time.Minute)
				second = uint64(time.Second)
			)
			switch {
			case u > year:
				return strconv.FormatUint(u/year, 10) + "y"
			case u > month:
				return strconv.FormatUint(u/month, 10) + "mo"
			case u > day:
				return strconv.FormatUint(u/day, 10) + "d"
			case u > hour:
				return strconv.FormatUint(u/hour, 10) + "h"
			case u > minute:
				return strconv.FormatUint(u/minute, 10) + "m"
			case u > second:
				return strconv.FormatUint(u/second, 10) + "s"
			}
			return "0s"
		},
	}
}
