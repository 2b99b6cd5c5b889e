package yamllint

import (
	"regexp"
	"strings"

	"github.com/birdflock/runner/pkg/pyyaml"
)

var ruleQuotedStrings = &rule{
	ID:   "quoted-strings",
	Type: tokenRule,
	Options: []option{
		{name: "quote-type", kind: optTuple, choices: []any{"any", "single", "double"},
			repr: "('any', 'single', 'double')", dflt: "any"},
		{name: "required", kind: optTuple, choices: []any{true, false, "only-when-needed"},
			repr: "(True, False, 'only-when-needed')", dflt: true},
		{name: "extra-required", kind: optList, choices: []any{pyStr}, repr: "[<class 'str'>]", dflt: []any{}},
		{name: "extra-allowed", kind: optList, choices: []any{pyStr}, repr: "[<class 'str'>]", dflt: []any{}},
		boolOpt("allow-quoted-quotes", false),
	},
	Validate: func(o Options) string {
		req := o["required"]
		switch {
		case req == true && len(o.list("extra-allowed")) > 0:
			return `cannot use both "required: true" and "extra-allowed"`
		case req == true && len(o.list("extra-required")) > 0:
			return `cannot use both "required: true" and "extra-required"`
		case req == false && len(o.list("extra-allowed")) > 0:
			return `cannot use both "required: false" and "extra-allowed"`
		}
		return ""
	},
	NewState:   func() any { return &quotedState{res: map[string]*regexp.Regexp{}} },
	CheckToken: checkQuotedStrings,
}

type quotedState struct{ res map[string]*regexp.Regexp }

// search is Python's re.search with a cache; an invalid pattern never
// matches (Python would crash).
func (q *quotedState) search(pattern, s string) bool {
	re, ok := q.res[pattern]
	if !ok {
		re, _ = regexp.Compile(pattern)
		q.res[pattern] = re
	}
	return re != nil && re.MatchString(s)
}

func (q *quotedState) anyMatch(o Options, key, s string) bool {
	for _, p := range o.list(key) {
		if ps, ok := p.(string); ok && q.search(ps, s) {
			return true
		}
	}
	return false
}

func quoteMatch(quoteType string, style rune) bool {
	return quoteType == "any" || (quoteType == "single" && style == '\'') || (quoteType == "double" && style == '"')
}

// quotesAreNeeded scans "key: " + s and checks it is one plain scalar.
func quotesAreNeeded(s string) bool {
	sc := pyyaml.NewScanner([]rune("key: " + s))
	for i := 0; i < 5; i++ {
		if _, err := sc.GetToken(); err != nil {
			return true
		}
	}
	a, err := sc.GetToken()
	if err != nil {
		return true
	}
	b, err := sc.GetToken()
	if err != nil {
		return true
	}
	return !(a != nil && a.Kind == pyyaml.Scalar && a.Style == 0 && b != nil && b.Kind == pyyaml.BlockEnd && a.Value == s)
}

func hasQuotedQuotes(t *pyyaml.Token) bool {
	return !t.Plain && ((t.Style == '\'' && strings.Contains(t.Value, `"`)) ||
		(t.Style == '"' && strings.Contains(t.Value, "'")))
}

func checkQuotedStrings(o Options, t tokenArgs, state any, _ []rune) []Problem {
	tok, prev := t.token, t.prev
	q := state.(*quotedState)
	if tok.Kind != pyyaml.Scalar || prev == nil {
		return nil
	}
	switch prev.Kind {
	case pyyaml.BlockEntry, pyyaml.FlowEntry, pyyaml.FlowSequenceStart, pyyaml.Tag, pyyaml.Value:
	default:
		return nil
	}
	// explicit types such as !!str or !!int: yamllint compares the tag
	// tuple's first item (the handle) with '!!'
	if prev.Kind == pyyaml.Tag && prev.HasHandle && prev.Handle == "!!" {
		return nil
	}
	tag := pyyaml.ResolveScalar(tok.Value)
	if tok.Plain && tag != pyyaml.TagStr {
		return nil
	}
	if !tok.Plain && (tok.Style == '|' || tok.Style == '>') {
		return nil
	}
	quoteType := o.str("quote-type")
	allowQQ := o.bool("allow-quoted-quotes")
	msg := ""
	switch req := o["required"]; {
	case req == true:
		if tok.Style == 0 || !(quoteMatch(quoteType, tok.Style) || (allowQQ && hasQuotedQuotes(tok))) {
			msg = "string value is not quoted with " + quoteType + " quotes"
		}
	case req == false:
		if tok.Style != 0 && !quoteMatch(quoteType, tok.Style) && !(allowQQ && hasQuotedQuotes(tok)) {
			msg = "string value is not quoted with " + quoteType + " quotes"
		} else if tok.Style == 0 && q.anyMatch(o, "extra-required", tok.Value) {
			msg = "string value is not quoted"
		}
	case req == "only-when-needed":
		if tok.Style != 0 && tag == pyyaml.TagStr && tok.Value != "" && !quotesAreNeeded(tok.Value) {
			if !q.anyMatch(o, "extra-required", tok.Value) && !q.anyMatch(o, "extra-allowed", tok.Value) {
				msg = "string value is redundantly quoted with " + quoteType + " quotes"
			}
		} else if tok.Style != 0 && !quoteMatch(quoteType, tok.Style) && !(allowQQ && hasQuotedQuotes(tok)) {
			msg = "string value is not quoted with " + quoteType + " quotes"
		} else if tok.Style == 0 && q.anyMatch(o, "extra-required", tok.Value) {
			msg = "string value is not quoted"
		}
	}
	if msg != "" {
		return []Problem{problem(tok.Start.Line+1, tok.Start.Column+1, msg)}
	}
	return nil
}
