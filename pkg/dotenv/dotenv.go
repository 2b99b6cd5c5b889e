// Package dotenv reads KEY=VALUE files (runner exec's --secret-file, runner
// serve's secrets-file) with the dotenv rules of github.com/joho/godotenv:
// comments, `export`, single quotes literal, double quotes with \n escapes
// (so a multi-line secret can be given) and multi-line quoted values. It is
// not for files whose text may be shown: errors never quote the file.
package dotenv

import (
	"bytes"
	"fmt"
	"os"

	"github.com/joho/godotenv"
)

// Read parses the file at path and adds its variables to m. A syntax error
// names the file and, where it can tell, the line, never the text: the
// file holds secrets.
func Read(path string, m map[string]string) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	vars, err := godotenv.UnmarshalBytes(b)
	if err != nil {
		if n := badLine(b); n > 0 {
			return fmt.Errorf("%s:%d: want KEY=VALUE (dotenv syntax; the line is not shown, it may hold a secret)", path, n)
		}
		return fmt.Errorf("%s: not in dotenv syntax (KEY=VALUE lines; the text is not shown, it may hold a secret)", path)
	}
	for k, v := range vars {
		m[k] = v
	}
	return nil
}

// badLine finds the first line that cannot start a variable: not blank, not
// a comment, no '=' and not inside a quoted value that spans lines. 0 when
// no such line is found.
func badLine(b []byte) int {
	var quote byte // the quote of a value still open at the end of a line
	for i, line := range bytes.Split(b, []byte("\n")) {
		t := bytes.TrimSpace(line)
		if quote != 0 {
			if bytes.IndexByte(t, quote) >= 0 {
				quote = 0
			}
			continue
		}
		if len(t) == 0 || t[0] == '#' {
			continue
		}
		eq := bytes.IndexAny(t, "=:")
		if eq <= 0 {
			return i + 1
		}
		v := bytes.TrimSpace(t[eq+1:])
		if len(v) > 0 && (v[0] == '"' || v[0] == '\'') && bytes.IndexByte(v[1:], v[0]) < 0 {
			quote = v[0]
		}
	}
	return 0
}
