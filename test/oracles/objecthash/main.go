// Command objecthash is the reference oracle for the data-hash annotation ESO writes on a Secret
// target: esutils.ObjectHash(secret.Data), sha3-224 of fmt.Sprintf("%+v", map[string][]byte).
//
// stdin:  [{"key": "<base64 value>", ...}, ...]
// stdout: ["<hex>", ...]
package main

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"os"

	"golang.org/x/crypto/sha3"
)

// objectHash is ESO's esutils.ObjectHash (runtime/esutils/utils.go).
func objectHash(object any) string {
	textualVersion := fmt.Sprintf("%+v", object)
	return fmt.Sprintf("%x", sha3.Sum224([]byte(textualVersion)))
}

func main() {
	var cases []map[string]string
	if err := json.NewDecoder(os.Stdin).Decode(&cases); err != nil {
		fmt.Fprintln(os.Stderr, "objecthash oracle: bad input:", err)
		os.Exit(2)
	}
	out := make([]string, len(cases))
	for i, c := range cases {
		data := make(map[string][]byte, len(c))
		for k, v := range c {
			b, err := base64.StdEncoding.DecodeString(v)
			if err != nil {
				fmt.Fprintln(os.Stderr, "objecthash oracle: bad base64:", err)
				os.Exit(2)
			}
			data[k] = b
		}
		out[i] = objectHash(data)
	}
	if err := json.NewEncoder(os.Stdout).Encode(out); err != nil {
		os.Exit(1)
	}
}
