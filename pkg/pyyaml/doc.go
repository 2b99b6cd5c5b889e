// Package pyyaml is a Go port of PyYAML 6.0's pure-Python reader, scanner
// and parser (plus a small safe loader), kept faithful down to token marks
// and error messages. It exists so that the yamllint port sees exactly the
// tokens and syntax errors Python's yamllint sees; it is not a general YAML
// library (use gopkg.in/yaml.v3 for that).
package pyyaml
