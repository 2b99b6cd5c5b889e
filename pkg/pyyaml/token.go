package pyyaml

// Mark is a position in the input. Pointer counts code points from the start
// of the buffer (PyYAML's index and pointer are equal for string input).
type Mark struct {
	Line    int // 0-based
	Column  int // 0-based, in code points
	Pointer int // 0-based, in code points
}

// TokenKind identifies a token type, as PyYAML's token classes do.
type TokenKind uint8

// Token kinds, in PyYAML's names.
const (
	StreamStart TokenKind = iota
	StreamEnd
	Directive
	DocumentStart
	DocumentEnd
	BlockSequenceStart
	BlockMappingStart
	BlockEnd
	FlowSequenceStart
	FlowMappingStart
	FlowSequenceEnd
	FlowMappingEnd
	Key
	Value
	BlockEntry
	FlowEntry
	Alias
	Anchor
	Tag
	Scalar
)

var tokenIDs = [...]string{
	StreamStart:        "<stream start>",
	StreamEnd:          "<stream end>",
	Directive:          "<directive>",
	DocumentStart:      "<document start>",
	DocumentEnd:        "<document end>",
	BlockSequenceStart: "<block sequence start>",
	BlockMappingStart:  "<block mapping start>",
	BlockEnd:           "<block end>",
	FlowSequenceStart:  "[",
	FlowMappingStart:   "{",
	FlowSequenceEnd:    "]",
	FlowMappingEnd:     "}",
	Key:                "?",
	Value:              ":",
	BlockEntry:         "-",
	FlowEntry:          ",",
	Alias:              "<alias>",
	Anchor:             "<anchor>",
	Tag:                "<tag>",
	Scalar:             "<scalar>",
}

// ID is PyYAML's token id, used in parser error messages.
func (k TokenKind) ID() string { return tokenIDs[k] }

// Token is one scanner token.
type Token struct {
	Kind       TokenKind
	Start, End Mark
	// Value is the scalar value, the alias or anchor name, or the directive
	// name.
	Value string
	Plain bool // scalar: plain style
	Style rune // scalar: 0 (plain), '\'', '"', '|' or '>'
	// Extra holds tag and directive values (nil for other tokens), which
	// keeps the common token small.
	*Extra
}

// Extra are the values of tag and directive tokens.
type Extra struct {
	// Tag (handle, suffix); HasHandle is false for verbatim tags (None).
	Handle    string
	HasHandle bool
	Suffix    string
	// Directive values: %YAML major.minor, %TAG handle prefix.
	Major, Minor int
	TagPrefix    string
}
