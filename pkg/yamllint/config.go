package yamllint

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/birdflock/runner/pkg/pyyaml"
)

// ErrConfig marks an invalid configuration; its message is yamllint's.
var ErrConfig = errors.New("invalid config")

type configError struct{ msg string }

func (e *configError) Error() string { return e.msg }
func (e *configError) Unwrap() error { return ErrConfig }

func cfgErr(format string, args ...any) error {
	return &configError{msg: fmt.Sprintf(format, args...)}
}

// Config is a yamllint configuration (YamlLintConfig).
type Config struct {
	rules     *pyyaml.Map // rule id -> Options, or false when disabled
	ignore    *PathSpec
	yamlFiles *PathSpec
	Locale    string
}

type enabledRule struct {
	rule *rule
	opts Options
}

const defaultConf = `---

yaml-files:
  - '*.yaml'
  - '*.yml'
  - '.yamllint'

rules:
  braces: enable
  brackets: enable
  colons: enable
  commas: enable
  comments:
    level: warning
  comments-indentation:
    level: warning
  document-end: disable
  document-start:
    level: warning
  empty-lines: enable
  empty-values: disable
  float-values: disable
  hyphens: enable
  indentation: enable
  key-duplicates: enable
  key-ordering: disable
  line-length: enable
  new-line-at-end-of-file: enable
  new-lines: enable
  octal-values: disable
  quoted-strings: disable
  trailing-spaces: enable
  truthy:
    level: warning
`

const relaxedConf = `---

extends: default

rules:
  braces:
    level: warning
    max-spaces-inside: 1
  brackets:
    level: warning
    max-spaces-inside: 1
  colons:
    level: warning
  commas:
    level: warning
  comments: disable
  comments-indentation: disable
  document-start: disable
  empty-lines:
    level: warning
  hyphens:
    level: warning
  indentation:
    level: warning
    indent-sequences: consistent
  line-length:
    level: warning
    allow-non-breakable-inline-mappings: true
  truthy: disable
`

// ParseConfig parses configuration text, as `yamllint -d` does (a value
// without ':' means `extends: VALUE`).
func ParseConfig(content string) (*Config, error) { return ParseConfigIn("", content) }

// ParseConfigIn is ParseConfig with relative paths in the configuration
// (extends, ignore-from-file) resolved against dir instead of the working
// directory.
func ParseConfigIn(dir, content string) (*Config, error) {
	if content != "" && !strings.Contains(content, ":") {
		content = "extends: " + content
	}
	return newConfig(content, dir)
}

// LoadConfigFile parses a configuration file, as `yamllint -c` does.
func LoadConfigFile(path string) (*Config, error) { return LoadConfigFileIn("", path) }

// LoadConfigFileIn is LoadConfigFile with relative paths (the file's and
// those inside it) resolved against dir.
func LoadConfigFileIn(dir, path string) (*Config, error) {
	data, err := os.ReadFile(resolve(dir, path))
	if err != nil {
		return nil, fmt.Errorf("read config: %w", err)
	}
	return newConfig(string(data), dir)
}

// DefaultConfig is `extends: default`.
func DefaultConfig() *Config {
	c, err := newConfig("extends: default", "")
	if err != nil {
		panic(err) // the embedded configuration is valid
	}
	return c
}

// FindConfig picks the configuration the way yamllint does when neither
// -c nor -d is given: .yamllint, .yamllint.yaml, .yamllint.yml in dir, then
// the user-global file ($YAMLLINT_CONFIG_FILE, $XDG_CONFIG_HOME/yamllint/
// config or ~/.config/yamllint/config), else the default configuration.
// getenv may be nil (no variables).
func FindConfig(dir string, getenv func(string) string) (*Config, error) {
	for _, name := range []string{".yamllint", ".yamllint.yaml", ".yamllint.yml"} {
		p := filepath.Join(dir, name)
		if st, err := os.Stat(p); err == nil && st.Mode().IsRegular() {
			return LoadConfigFileIn(dir, name)
		}
	}
	if getenv == nil {
		getenv = func(string) string { return "" }
	}
	var global string
	if v := getenv("YAMLLINT_CONFIG_FILE"); v != "" {
		global = expandUser(v, getenv)
	} else if v := getenv("XDG_CONFIG_HOME"); v != "" {
		global = filepath.Join(v, "yamllint", "config")
	} else {
		global = expandUser("~/.config/yamllint/config", getenv)
	}
	if st, err := os.Stat(global); err == nil && st.Mode().IsRegular() {
		return LoadConfigFileIn(dir, global)
	}
	return DefaultConfig(), nil
}

func expandUser(p string, getenv func(string) string) string {
	if strings.HasPrefix(p, "~/") || p == "~" {
		if home := getenv("HOME"); home != "" {
			return home + p[1:]
		}
	}
	return p
}

func newConfig(content, dir string) (*Config, error) {
	c := &Config{}
	var err error
	if c.yamlFiles, err = NewPathSpec([]string{"*.yaml", "*.yml", ".yamllint"}); err != nil {
		return nil, err
	}
	if err := c.parse(content, dir); err != nil {
		return nil, err
	}
	if err := c.validate(); err != nil {
		return nil, err
	}
	return c, nil
}

// IsFileIgnored applies the top-level `ignore` patterns.
func (c *Config) IsFileIgnored(path string) bool { return c.ignore.Match(path) }

// IsYAMLFile applies `yaml-files` to the base name, for directory walks.
func (c *Config) IsYAMLFile(path string) bool { return c.yamlFiles.Match(filepath.Base(path)) }

func (c *Config) enabledRules(path string) []enabledRule {
	var out []enabledRule
	for _, k := range c.rules.Keys {
		v := c.rules.Values[k]
		o, ok := v.(Options)
		if !ok {
			continue
		}
		if ig, ok := o["ignore"].(*PathSpec); ok && path != "" && ig.Match(path) {
			continue
		}
		out = append(out, enabledRule{rule: getRule(k.(string)), opts: o})
	}
	return out
}

func (c *Config) parse(content, dir string) error {
	raw, err := pyyaml.SafeLoad(content)
	if err != nil {
		return cfgErr("invalid config: %s", err)
	}
	conf, ok := raw.(*pyyaml.Map)
	if !ok {
		return cfgErr("invalid config: not a dict")
	}
	c.rules = &pyyaml.Map{Values: map[any]any{}}
	if r, ok := conf.Get("rules"); ok {
		rm, ok := r.(*pyyaml.Map)
		if !ok {
			return cfgErr("invalid config: rules should be a dict")
		}
		for _, k := range rm.Keys {
			v := rm.Values[k]
			switch v {
			case "enable":
				v = &pyyaml.Map{Values: map[any]any{}}
			case "disable":
				v = false
			}
			c.rules.Set(k, v)
		}
	}
	if ext, ok := conf.Get("extends"); ok {
		name, ok := ext.(string)
		if !ok {
			return cfgErr("invalid config: extends should be a string")
		}
		base, err := extendedConfig(name, dir)
		if err != nil {
			return err
		}
		c.extend(base)
	}
	ig, hasIgnore := conf.Get("ignore")
	igf, hasIgnoreFrom := conf.Get("ignore-from-file")
	switch {
	case hasIgnore && hasIgnoreFrom:
		return cfgErr("invalid config: ignore and ignore-from-file keys cannot be used together")
	case hasIgnoreFrom:
		var files []string
		switch v := igf.(type) {
		case string:
			files = []string{v}
		case []any:
			for _, f := range v {
				s, ok := f.(string)
				if !ok {
					return cfgErr("invalid config: ignore-from-file should contain filename(s), either as a list or string")
				}
				files = append(files, s)
			}
		default:
			return cfgErr("invalid config: ignore-from-file should contain filename(s), either as a list or string")
		}
		var lines []string
		for _, f := range files {
			data, err := os.ReadFile(resolve(dir, f))
			if err != nil {
				return fmt.Errorf("read ignore-from-file: %w", err)
			}
			lines = append(lines, strings.Split(string(data), "\n")...)
		}
		if c.ignore, err = NewPathSpec(lines); err != nil {
			return cfgErr("invalid config: %s", err)
		}
	case hasIgnore:
		lines, ok := stringLines(ig)
		if !ok {
			return cfgErr("invalid config: ignore should contain file patterns")
		}
		if c.ignore, err = NewPathSpec(lines); err != nil {
			return cfgErr("invalid config: %s", err)
		}
	}
	if yf, ok := conf.Get("yaml-files"); ok {
		l, isList := yf.([]any)
		var pats []string
		for _, x := range l {
			s, ok := x.(string)
			if !ok {
				isList = false
			}
			pats = append(pats, s)
		}
		if !isList {
			return cfgErr("invalid config: yaml-files should be a list of file patterns")
		}
		if c.yamlFiles, err = NewPathSpec(pats); err != nil {
			return cfgErr("invalid config: %s", err)
		}
	}
	if loc, ok := conf.Get("locale"); ok {
		s, ok := loc.(string)
		if !ok {
			return cfgErr("invalid config: locale should be a string")
		}
		c.Locale = s
	}
	return nil
}

// stringLines accepts a string (split into lines) or a list of strings.
func stringLines(v any) ([]string, bool) {
	switch x := v.(type) {
	case string:
		return splitLines(x), true
	case []any:
		var out []string
		for _, e := range x {
			s, ok := e.(string)
			if !ok {
				return nil, false
			}
			out = append(out, s)
		}
		return out, true
	}
	return nil, false
}

// splitLines is Python's str.splitlines for the common separators.
func splitLines(s string) []string {
	s = strings.ReplaceAll(s, "\r\n", "\n")
	s = strings.ReplaceAll(s, "\r", "\n")
	lines := strings.Split(s, "\n")
	if len(lines) > 0 && lines[len(lines)-1] == "" {
		lines = lines[:len(lines)-1]
	}
	return lines
}

func extendedConfig(name, dir string) (*Config, error) {
	if !strings.Contains(name, "/") {
		switch name {
		case "default":
			return newConfig(defaultConf, dir)
		case "relaxed":
			return newConfig(relaxedConf, dir)
		}
	}
	data, err := os.ReadFile(resolve(dir, name))
	if err != nil {
		return nil, fmt.Errorf("read extended config: %w", err)
	}
	return newConfig(string(data), dir)
}

func (c *Config) extend(base *Config) {
	for _, k := range c.rules.Keys {
		v := c.rules.Values[k]
		child, isMap := v.(*pyyaml.Map)
		bv, inBase := base.rules.Get(k)
		if isMap && inBase && bv != false {
			bo := bv.(Options)
			for _, ok := range child.Keys {
				if s, isStr := ok.(string); isStr {
					bo[s] = child.Values[ok]
				} else {
					bo[fmt.Sprint(ok)] = child.Values[ok]
				}
			}
		} else {
			base.rules.Set(k, v)
		}
	}
	c.rules = base.rules
	if base.ignore != nil {
		c.ignore = base.ignore
	}
}

func (c *Config) validate() error {
	for _, k := range c.rules.Keys {
		id := fmt.Sprint(k)
		r := getRule(id)
		if r == nil {
			return cfgErr("invalid config: no such rule: \"%s\"", id)
		}
		o, err := validateRuleConf(r, c.rules.Values[k])
		if err != nil {
			return err
		}
		if o == nil {
			c.rules.Values[k] = false
		} else {
			c.rules.Values[k] = o
		}
	}
	return nil
}

// validateRuleConf returns nil Options for a disabled rule.
func validateRuleConf(r *rule, v any) (Options, error) {
	if v == false {
		return nil, nil
	}
	var o Options
	var keys []string // option names in the user's order, for messages
	switch x := v.(type) {
	case Options:
		o = x
		for k := range o {
			keys = append(keys, k)
		}
		sort.Strings(keys)
	case *pyyaml.Map:
		o = Options{}
		for _, k := range x.Keys {
			o[fmt.Sprint(k)] = x.Values[k]
			keys = append(keys, fmt.Sprint(k))
		}
	default:
		return nil, cfgErr("invalid config: rule \"%s\": should be either \"enable\", \"disable\" or a dict", r.ID)
	}
	if ig, ok := o["ignore"]; ok {
		if _, done := ig.(*PathSpec); !done {
			lines, ok := stringLines(ig)
			if !ok {
				return nil, cfgErr("invalid config: ignore should contain file patterns")
			}
			ps, err := NewPathSpec(lines)
			if err != nil {
				return nil, cfgErr("invalid config: %s", err)
			}
			o["ignore"] = ps
		}
	}
	if _, ok := o["level"]; !ok {
		o["level"] = "error"
	} else if l := o["level"]; l != "error" && l != "warning" {
		return nil, cfgErr("invalid config: level should be \"error\" or \"warning\"")
	}
	for _, k := range keys {
		if k == "ignore" || k == "ignore-from-file" || k == "level" {
			continue
		}
		opt := r.option(k)
		if opt == nil {
			return nil, cfgErr("invalid config: unknown option \"%s\" for rule \"%s\"", k, r.ID)
		}
		if msg := opt.check(o[k]); msg != "" {
			return nil, cfgErr("invalid config: option \"%s\" of \"%s\" %s", k, r.ID, msg)
		}
		if opt.kind == optInt {
			if b, ok := o[k].(bool); ok { // Python: bool is an int
				o[k] = map[bool]int{false: 0, true: 1}[b]
			}
		}
	}
	for _, opt := range r.Options {
		if _, ok := o[opt.name]; !ok {
			o[opt.name] = opt.def()
		}
	}
	if r.Validate != nil {
		if msg := r.Validate(o); msg != "" {
			return nil, cfgErr("invalid config: %s: %s", r.ID, msg)
		}
	}
	return o, nil
}
