package run

import "strings"

// command is one workflow command: ::name key=value,key=value::message
type command struct {
	Name  string
	Props map[string]string
	Value string
}

// parseCommand recognises a workflow command line. Leading whitespace is
// allowed, as GitHub's runner allows it.
func parseCommand(line string) (command, bool) {
	s := strings.TrimLeft(line, " \t")
	if !strings.HasPrefix(s, "::") {
		return command{}, false
	}
	s = s[2:]
	end := strings.Index(s, "::")
	if end < 0 {
		return command{}, false
	}
	head, value := s[:end], s[end+2:]
	c := command{Value: unescapeData(strings.TrimRight(value, "\r"))}
	name, props, _ := strings.Cut(head, " ")
	if name == "" || strings.ContainsAny(name, "=,") {
		return command{}, false
	}
	c.Name = name
	if props = strings.TrimSpace(props); props != "" {
		c.Props = map[string]string{}
		for _, kv := range strings.Split(props, ",") {
			k, v, ok := strings.Cut(kv, "=")
			if ok && k != "" {
				c.Props[strings.TrimSpace(k)] = unescapeProp(v)
			}
		}
	}
	return c, true
}

var dataUnescaper = strings.NewReplacer("%0D", "\r", "%0A", "\n", "%25", "%")
var propUnescaper = strings.NewReplacer("%0D", "\r", "%0A", "\n", "%3A", ":", "%2C", ",", "%25", "%")

func unescapeData(s string) string { return dataUnescaper.Replace(s) }
func unescapeProp(s string) string { return propUnescaper.Replace(s) }
