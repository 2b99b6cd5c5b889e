package pyyaml

import "fmt"

// EventKind identifies a parser event.
type EventKind uint8

// Event kinds.
const (
	StreamStartEvent EventKind = iota
	StreamEndEvent
	DocumentStartEvent
	DocumentEndEvent
	AliasEvent
	ScalarEvent
	SequenceStartEvent
	SequenceEndEvent
	MappingStartEvent
	MappingEndEvent
)

// Event is one parser event.
type Event struct {
	Kind       EventKind
	Start, End Mark
	Anchor     string
	Tag        string // resolved tag; "" when none
	Implicit   [2]bool
	Value      string
	Style      rune
	FlowStyle  bool
}

var defaultTags = map[string]string{"!": "!", "!!": "tag:yaml.org,2002:"}

// Parser is PyYAML's Parser over a Scanner.
type Parser struct {
	s          *Scanner
	current    Event
	hasCurrent bool
	tagHandles map[string]string
	states     []func() (Event, error)
	marks      []Mark
	state      func() (Event, error)
	hasVersion bool
}

// NewParser parses text (which must already pass CheckPrintable).
func NewParser(text []rune) *Parser {
	p := &Parser{s: NewScanner(text)}
	p.state = p.parseStreamStart
	return p
}

// GetEvent returns the next event, nil after the stream end.
func (p *Parser) GetEvent() (*Event, error) {
	ev, err := p.PeekEvent()
	p.hasCurrent = false
	return ev, err
}

// PeekEvent returns the next event without consuming it.
func (p *Parser) PeekEvent() (*Event, error) {
	if !p.hasCurrent {
		if p.state == nil {
			return nil, nil
		}
		ev, err := p.state()
		if err != nil {
			p.state = nil
			return nil, err
		}
		p.current, p.hasCurrent = ev, true
	}
	ev := p.current
	return &ev, nil
}

// Check parses the whole stream and returns the first error, like
// list(yaml.parse(text, Loader=yaml.BaseLoader)).
func Check(text []rune) error {
	buf := make([]rune, len(text)+1)
	copy(buf, text)
	return CheckBuffer(buf)
}

// CheckBuffer is Check on a NUL-terminated buffer (see NewScannerBuffer).
func CheckBuffer(buf []rune) error {
	p := &Parser{s: NewScannerBuffer(buf)}
	p.state = p.parseStreamStart
	p.s.noValues = true
	for p.state != nil {
		if _, err := p.state(); err != nil {
			return err
		}
	}
	return nil
}

func (p *Parser) checkToken(kinds ...TokenKind) (bool, error) {
	t, err := p.s.PeekToken()
	if err != nil || t == nil {
		return false, err
	}
	for _, k := range kinds {
		if t.Kind == k {
			return true, nil
		}
	}
	return false, nil
}

func (p *Parser) peekToken() (*Token, error) { return p.s.PeekToken() }
func (p *Parser) getToken() (*Token, error)  { return p.s.GetToken() }

func (p *Parser) pop() func() (Event, error) {
	st := p.states[len(p.states)-1]
	p.states = p.states[:len(p.states)-1]
	return st
}

func (p *Parser) perr(context string, cm *Mark, problem string, pm Mark) error {
	return &MarkedError{Kind: "parser", Context: context, ContextMark: cm, Problem: problem, ProblemMark: &pm, buf: p.s.buf}
}

func (p *Parser) parseStreamStart() (Event, error) {
	t, err := p.getToken()
	if err != nil {
		return Event{}, err
	}
	p.state = p.parseImplicitDocumentStart
	return Event{Kind: StreamStartEvent, Start: t.Start, End: t.End}, nil
}

func (p *Parser) parseImplicitDocumentStart() (Event, error) {
	ok, err := p.checkToken(Directive, DocumentStart, StreamEnd)
	if err != nil {
		return Event{}, err
	}
	if !ok {
		p.tagHandles = defaultTags
		t, err := p.peekToken()
		if err != nil {
			return Event{}, err
		}
		p.states = append(p.states, p.parseDocumentEnd)
		p.state = p.parseBlockNode
		return Event{Kind: DocumentStartEvent, Start: t.Start, End: t.Start}, nil
	}
	return p.parseDocumentStart()
}

func (p *Parser) parseDocumentStart() (Event, error) {
	for {
		ok, err := p.checkToken(DocumentEnd)
		if err != nil {
			return Event{}, err
		}
		if !ok {
			break
		}
		if _, err := p.getToken(); err != nil {
			return Event{}, err
		}
	}
	ok, err := p.checkToken(StreamEnd)
	if err != nil {
		return Event{}, err
	}
	if !ok {
		t, err := p.peekToken()
		if err != nil {
			return Event{}, err
		}
		start := t.Start
		if err := p.processDirectives(); err != nil {
			return Event{}, err
		}
		ok, err := p.checkToken(DocumentStart)
		if err != nil {
			return Event{}, err
		}
		if !ok {
			t, _ := p.peekToken()
			return Event{}, p.perr("", nil, fmt.Sprintf("expected '<document start>', but found %s", Repr(t.Kind.ID())), t.Start)
		}
		t, err = p.getToken()
		if err != nil {
			return Event{}, err
		}
		p.states = append(p.states, p.parseDocumentEnd)
		p.state = p.parseDocumentContent
		return Event{Kind: DocumentStartEvent, Start: start, End: t.End}, nil
	}
	t, err := p.getToken()
	if err != nil {
		return Event{}, err
	}
	p.state = nil
	return Event{Kind: StreamEndEvent, Start: t.Start, End: t.End}, nil
}

func (p *Parser) parseDocumentEnd() (Event, error) {
	t, err := p.peekToken()
	if err != nil {
		return Event{}, err
	}
	start, end := t.Start, t.Start
	ok, err := p.checkToken(DocumentEnd)
	if err != nil {
		return Event{}, err
	}
	if ok {
		t, err := p.getToken()
		if err != nil {
			return Event{}, err
		}
		end = t.End
	}
	p.state = p.parseDocumentStart
	return Event{Kind: DocumentEndEvent, Start: start, End: end}, nil
}

func (p *Parser) parseDocumentContent() (Event, error) {
	ok, err := p.checkToken(Directive, DocumentStart, DocumentEnd, StreamEnd)
	if err != nil {
		return Event{}, err
	}
	if ok {
		t, _ := p.peekToken()
		p.state = p.pop()
		return emptyScalar(t.Start), nil
	}
	return p.parseBlockNode()
}

func (p *Parser) processDirectives() error {
	p.hasVersion = false
	p.tagHandles = map[string]string{}
	for {
		ok, err := p.checkToken(Directive)
		if err != nil {
			return err
		}
		if !ok {
			break
		}
		t, err := p.getToken()
		if err != nil {
			return err
		}
		switch t.Value {
		case "YAML":
			if p.hasVersion {
				return p.perr("", nil, "found duplicate YAML directive", t.Start)
			}
			if t.Major != 1 {
				return p.perr("", nil, "found incompatible YAML document (version 1.* is required)", t.Start)
			}
			p.hasVersion = true
		case "TAG":
			if _, dup := p.tagHandles[t.Handle]; dup {
				return p.perr("", nil, fmt.Sprintf("duplicate tag handle %s", Repr(t.Handle)), t.Start)
			}
			p.tagHandles[t.Handle] = t.TagPrefix
		}
	}
	for k, v := range defaultTags {
		if _, ok := p.tagHandles[k]; !ok {
			p.tagHandles[k] = v
		}
	}
	return nil
}

func (p *Parser) parseBlockNode() (Event, error) { return p.parseNode(true, false) }
func (p *Parser) parseFlowNode() (Event, error)  { return p.parseNode(false, false) }
func (p *Parser) parseBlockNodeOrIndentlessSequence() (Event, error) {
	return p.parseNode(true, true)
}

func (p *Parser) parseNode(block, indentlessSequence bool) (Event, error) {
	ok, err := p.checkToken(Alias)
	if err != nil {
		return Event{}, err
	}
	if ok {
		t, _ := p.getToken()
		p.state = p.pop()
		return Event{Kind: AliasEvent, Anchor: t.Value, Start: t.Start, End: t.End}, nil
	}
	var anchor string
	var tagTok *Token
	var start, end, tagMark Mark
	haveStart := false
	if ok, err := p.checkToken(Anchor); err != nil {
		return Event{}, err
	} else if ok {
		t, _ := p.getToken()
		start, end, anchor, haveStart = t.Start, t.End, t.Value, true
		if ok, err := p.checkToken(Tag); err != nil {
			return Event{}, err
		} else if ok {
			t, _ := p.getToken()
			tagMark, end, tagTok = t.Start, t.End, t
		}
	} else if ok, err := p.checkToken(Tag); err != nil {
		return Event{}, err
	} else if ok {
		t, _ := p.getToken()
		start, tagMark, end, tagTok, haveStart = t.Start, t.Start, t.End, t, true
		if ok, err := p.checkToken(Anchor); err != nil {
			return Event{}, err
		} else if ok {
			t, _ := p.getToken()
			end, anchor = t.End, t.Value
		}
	}
	tag := ""
	hasTag := tagTok != nil
	if hasTag {
		if tagTok.HasHandle {
			prefix, ok := p.tagHandles[tagTok.Handle]
			if !ok {
				sm := start
				return Event{}, p.perr("while parsing a node", &sm,
					fmt.Sprintf("found undefined tag handle %s", Repr(tagTok.Handle)), tagMark)
			}
			tag = prefix + tagTok.Suffix
		} else {
			tag = tagTok.Suffix
		}
	}
	if !haveStart {
		t, err := p.peekToken()
		if err != nil {
			return Event{}, err
		}
		start, end = t.Start, t.Start
	}
	implicit := !hasTag || tag == "!"
	if indentlessSequence {
		if ok, err := p.checkToken(BlockEntry); err != nil {
			return Event{}, err
		} else if ok {
			t, _ := p.peekToken()
			p.state = p.parseIndentlessSequenceEntry
			return Event{Kind: SequenceStartEvent, Anchor: anchor, Tag: tag, Implicit: [2]bool{implicit}, Start: start, End: t.End}, nil
		}
	}
	t, err := p.peekToken()
	if err != nil {
		return Event{}, err
	}
	switch {
	case t.Kind == Scalar:
		p.getToken()
		var imp [2]bool
		if (t.Plain && !hasTag) || tag == "!" {
			imp = [2]bool{true, false}
		} else if !hasTag {
			imp = [2]bool{false, true}
		}
		p.state = p.pop()
		return Event{Kind: ScalarEvent, Anchor: anchor, Tag: tag, Implicit: imp, Value: t.Value, Style: t.Style, Start: start, End: t.End}, nil
	case t.Kind == FlowSequenceStart:
		p.state = p.parseFlowSequenceFirstEntry
		return Event{Kind: SequenceStartEvent, Anchor: anchor, Tag: tag, Implicit: [2]bool{implicit}, Start: start, End: t.End, FlowStyle: true}, nil
	case t.Kind == FlowMappingStart:
		p.state = p.parseFlowMappingFirstKey
		return Event{Kind: MappingStartEvent, Anchor: anchor, Tag: tag, Implicit: [2]bool{implicit}, Start: start, End: t.End, FlowStyle: true}, nil
	case block && t.Kind == BlockSequenceStart:
		p.state = p.parseBlockSequenceFirstEntry
		return Event{Kind: SequenceStartEvent, Anchor: anchor, Tag: tag, Implicit: [2]bool{implicit}, Start: start, End: t.Start}, nil
	case block && t.Kind == BlockMappingStart:
		p.state = p.parseBlockMappingFirstKey
		return Event{Kind: MappingStartEvent, Anchor: anchor, Tag: tag, Implicit: [2]bool{implicit}, Start: start, End: t.Start}, nil
	case anchor != "" || hasTag:
		p.state = p.pop()
		return Event{Kind: ScalarEvent, Anchor: anchor, Tag: tag, Implicit: [2]bool{implicit, false}, Start: start, End: end}, nil
	}
	node := "flow"
	if block {
		node = "block"
	}
	sm := start
	return Event{}, p.perr(fmt.Sprintf("while parsing a %s node", node), &sm,
		fmt.Sprintf("expected the node content, but found %s", Repr(t.Kind.ID())), t.Start)
}

func (p *Parser) parseBlockSequenceFirstEntry() (Event, error) {
	t, err := p.getToken()
	if err != nil {
		return Event{}, err
	}
	p.marks = append(p.marks, t.Start)
	return p.parseBlockSequenceEntry()
}

func (p *Parser) popMark() Mark {
	m := p.marks[len(p.marks)-1]
	p.marks = p.marks[:len(p.marks)-1]
	return m
}

func (p *Parser) parseBlockSequenceEntry() (Event, error) {
	if ok, err := p.checkToken(BlockEntry); err != nil {
		return Event{}, err
	} else if ok {
		t, _ := p.getToken()
		ok, err := p.checkToken(BlockEntry, BlockEnd)
		if err != nil {
			return Event{}, err
		}
		if !ok {
			p.states = append(p.states, p.parseBlockSequenceEntry)
			return p.parseBlockNode()
		}
		p.state = p.parseBlockSequenceEntry
		return emptyScalar(t.End), nil
	}
	t, err := p.peekToken()
	if err != nil {
		return Event{}, err
	}
	if t.Kind != BlockEnd {
		m := p.marks[len(p.marks)-1]
		return Event{}, p.perr("while parsing a block collection", &m,
			fmt.Sprintf("expected <block end>, but found %s", Repr(t.Kind.ID())), t.Start)
	}
	p.getToken()
	p.state = p.pop()
	p.popMark()
	return Event{Kind: SequenceEndEvent, Start: t.Start, End: t.End}, nil
}

func (p *Parser) parseIndentlessSequenceEntry() (Event, error) {
	if ok, err := p.checkToken(BlockEntry); err != nil {
		return Event{}, err
	} else if ok {
		t, _ := p.getToken()
		ok, err := p.checkToken(BlockEntry, Key, Value, BlockEnd)
		if err != nil {
			return Event{}, err
		}
		if !ok {
			p.states = append(p.states, p.parseIndentlessSequenceEntry)
			return p.parseBlockNode()
		}
		p.state = p.parseIndentlessSequenceEntry
		return emptyScalar(t.End), nil
	}
	t, err := p.peekToken()
	if err != nil {
		return Event{}, err
	}
	p.state = p.pop()
	return Event{Kind: SequenceEndEvent, Start: t.Start, End: t.Start}, nil
}

func (p *Parser) parseBlockMappingFirstKey() (Event, error) {
	t, err := p.getToken()
	if err != nil {
		return Event{}, err
	}
	p.marks = append(p.marks, t.Start)
	return p.parseBlockMappingKey()
}

func (p *Parser) parseBlockMappingKey() (Event, error) {
	if ok, err := p.checkToken(Key); err != nil {
		return Event{}, err
	} else if ok {
		t, _ := p.getToken()
		ok, err := p.checkToken(Key, Value, BlockEnd)
		if err != nil {
			return Event{}, err
		}
		if !ok {
			p.states = append(p.states, p.parseBlockMappingValue)
			return p.parseBlockNodeOrIndentlessSequence()
		}
		p.state = p.parseBlockMappingValue
		return emptyScalar(t.End), nil
	}
	t, err := p.peekToken()
	if err != nil {
		return Event{}, err
	}
	if t.Kind != BlockEnd {
		m := p.marks[len(p.marks)-1]
		return Event{}, p.perr("while parsing a block mapping", &m,
			fmt.Sprintf("expected <block end>, but found %s", Repr(t.Kind.ID())), t.Start)
	}
	p.getToken()
	p.state = p.pop()
	p.popMark()
	return Event{Kind: MappingEndEvent, Start: t.Start, End: t.End}, nil
}

func (p *Parser) parseBlockMappingValue() (Event, error) {
	if ok, err := p.checkToken(Value); err != nil {
		return Event{}, err
	} else if ok {
		t, _ := p.getToken()
		ok, err := p.checkToken(Key, Value, BlockEnd)
		if err != nil {
			return Event{}, err
		}
		if !ok {
			p.states = append(p.states, p.parseBlockMappingKey)
			return p.parseBlockNodeOrIndentlessSequence()
		}
		p.state = p.parseBlockMappingKey
		return emptyScalar(t.End), nil
	}
	p.state = p.parseBlockMappingKey
	t, err := p.peekToken()
	if err != nil {
		return Event{}, err
	}
	return emptyScalar(t.Start), nil
}

func (p *Parser) parseFlowSequenceFirstEntry() (Event, error) {
	t, err := p.getToken()
	if err != nil {
		return Event{}, err
	}
	p.marks = append(p.marks, t.Start)
	return p.parseFlowSequenceEntryFirst(true)
}

func (p *Parser) parseFlowSequenceEntry() (Event, error) {
	return p.parseFlowSequenceEntryFirst(false)
}

func (p *Parser) parseFlowSequenceEntryFirst(first bool) (Event, error) {
	t, err := p.peekToken()
	if err != nil {
		return Event{}, err
	}
	if t.Kind != FlowSequenceEnd {
		if !first {
			if t.Kind == FlowEntry {
				p.getToken()
			} else {
				m := p.marks[len(p.marks)-1]
				return Event{}, p.perr("while parsing a flow sequence", &m,
					fmt.Sprintf("expected ',' or ']', but got %s", Repr(t.Kind.ID())), t.Start)
			}
		}
		t, err = p.peekToken()
		if err != nil {
			return Event{}, err
		}
		if t.Kind == Key {
			p.state = p.parseFlowSequenceEntryMappingKey
			return Event{Kind: MappingStartEvent, Implicit: [2]bool{true}, Start: t.Start, End: t.End, FlowStyle: true}, nil
		} else if t.Kind != FlowSequenceEnd {
			p.states = append(p.states, p.parseFlowSequenceEntry)
			return p.parseFlowNode()
		}
	}
	t, err = p.getToken()
	if err != nil {
		return Event{}, err
	}
	p.state = p.pop()
	p.popMark()
	return Event{Kind: SequenceEndEvent, Start: t.Start, End: t.End}, nil
}

func (p *Parser) parseFlowSequenceEntryMappingKey() (Event, error) {
	t, err := p.getToken()
	if err != nil {
		return Event{}, err
	}
	ok, err := p.checkToken(Value, FlowEntry, FlowSequenceEnd)
	if err != nil {
		return Event{}, err
	}
	if !ok {
		p.states = append(p.states, p.parseFlowSequenceEntryMappingValue)
		return p.parseFlowNode()
	}
	p.state = p.parseFlowSequenceEntryMappingValue
	return emptyScalar(t.End), nil
}

func (p *Parser) parseFlowSequenceEntryMappingValue() (Event, error) {
	if ok, err := p.checkToken(Value); err != nil {
		return Event{}, err
	} else if ok {
		t, _ := p.getToken()
		ok, err := p.checkToken(FlowEntry, FlowSequenceEnd)
		if err != nil {
			return Event{}, err
		}
		if !ok {
			p.states = append(p.states, p.parseFlowSequenceEntryMappingEnd)
			return p.parseFlowNode()
		}
		p.state = p.parseFlowSequenceEntryMappingEnd
		return emptyScalar(t.End), nil
	}
	p.state = p.parseFlowSequenceEntryMappingEnd
	t, err := p.peekToken()
	if err != nil {
		return Event{}, err
	}
	return emptyScalar(t.Start), nil
}

func (p *Parser) parseFlowSequenceEntryMappingEnd() (Event, error) {
	p.state = p.parseFlowSequenceEntry
	t, err := p.peekToken()
	if err != nil {
		return Event{}, err
	}
	return Event{Kind: MappingEndEvent, Start: t.Start, End: t.Start}, nil
}

func (p *Parser) parseFlowMappingFirstKey() (Event, error) {
	t, err := p.getToken()
	if err != nil {
		return Event{}, err
	}
	p.marks = append(p.marks, t.Start)
	return p.parseFlowMappingKeyFirst(true)
}

func (p *Parser) parseFlowMappingKey() (Event, error) { return p.parseFlowMappingKeyFirst(false) }

func (p *Parser) parseFlowMappingKeyFirst(first bool) (Event, error) {
	t, err := p.peekToken()
	if err != nil {
		return Event{}, err
	}
	if t.Kind != FlowMappingEnd {
		if !first {
			if t.Kind == FlowEntry {
				p.getToken()
			} else {
				m := p.marks[len(p.marks)-1]
				return Event{}, p.perr("while parsing a flow mapping", &m,
					fmt.Sprintf("expected ',' or '}', but got %s", Repr(t.Kind.ID())), t.Start)
			}
		}
		t, err = p.peekToken()
		if err != nil {
			return Event{}, err
		}
		if t.Kind == Key {
			p.getToken()
			ok, err := p.checkToken(Value, FlowEntry, FlowMappingEnd)
			if err != nil {
				return Event{}, err
			}
			if !ok {
				p.states = append(p.states, p.parseFlowMappingValue)
				return p.parseFlowNode()
			}
			p.state = p.parseFlowMappingValue
			return emptyScalar(t.End), nil
		} else if t.Kind != FlowMappingEnd {
			p.states = append(p.states, p.parseFlowMappingEmptyValue)
			return p.parseFlowNode()
		}
	}
	t, err = p.getToken()
	if err != nil {
		return Event{}, err
	}
	p.state = p.pop()
	p.popMark()
	return Event{Kind: MappingEndEvent, Start: t.Start, End: t.End}, nil
}

func (p *Parser) parseFlowMappingValue() (Event, error) {
	if ok, err := p.checkToken(Value); err != nil {
		return Event{}, err
	} else if ok {
		t, _ := p.getToken()
		ok, err := p.checkToken(FlowEntry, FlowMappingEnd)
		if err != nil {
			return Event{}, err
		}
		if !ok {
			p.states = append(p.states, p.parseFlowMappingKey)
			return p.parseFlowNode()
		}
		p.state = p.parseFlowMappingKey
		return emptyScalar(t.End), nil
	}
	p.state = p.parseFlowMappingKey
	t, err := p.peekToken()
	if err != nil {
		return Event{}, err
	}
	return emptyScalar(t.Start), nil
}

func (p *Parser) parseFlowMappingEmptyValue() (Event, error) {
	p.state = p.parseFlowMappingKey
	t, err := p.peekToken()
	if err != nil {
		return Event{}, err
	}
	return emptyScalar(t.Start), nil
}

func emptyScalar(m Mark) Event {
	return Event{Kind: ScalarEvent, Implicit: [2]bool{true, false}, Start: m, End: m}
}
