package run

import (
	"bufio"
	"fmt"
	"os"
	"strings"
)

// readEnvFile parses a GITHUB_ENV or GITHUB_OUTPUT file: lines of NAME=VALUE
// or the multi-line form NAME<<DELIMITER ... DELIMITER. Order is kept.
func readEnvFile(path string) ([][2]string, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		if os.IsNotExist(err) {
			return nil, nil
		}
		return nil, err
	}
	return parseEnvFile(string(data))
}

func parseEnvFile(data string) ([][2]string, error) {
	var out [][2]string
	sc := bufio.NewScanner(strings.NewReader(data))
	sc.Buffer(make([]byte, 64*1024), 64*1024*1024)
	line := 0
	for sc.Scan() {
		line++
		text := strings.TrimSuffix(sc.Text(), "\r")
		if strings.TrimSpace(text) == "" {
			continue
		}
		eq := strings.Index(text, "=")
		heredoc := strings.Index(text, "<<")
		if heredoc > 0 && (eq < 0 || heredoc < eq) {
			name, delim := text[:heredoc], text[heredoc+2:]
			if name == "" || delim == "" {
				return nil, fmt.Errorf("line %d: invalid format %q", line, text)
			}
			var val []string
			closed := false
			for sc.Scan() {
				line++
				l := strings.TrimSuffix(sc.Text(), "\r")
				if l == delim {
					closed = true
					break
				}
				val = append(val, l)
			}
			if !closed {
				return nil, fmt.Errorf("line %d: matching delimiter %q not found", line, delim)
			}
			out = append(out, [2]string{name, strings.Join(val, "\n")})
			continue
		}
		if eq <= 0 {
			return nil, fmt.Errorf("line %d: invalid format %q (want NAME=VALUE or NAME<<DELIMITER)", line, text)
		}
		out = append(out, [2]string{text[:eq], text[eq+1:]})
	}
	return out, sc.Err()
}
