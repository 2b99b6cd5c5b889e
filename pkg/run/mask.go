package run

import (
	"sort"
	"strings"
	"sync"
)

// Masker replaces secret values with *** in text. It is safe for
// concurrent use: ::add-mask:: may arrive from any running step.
type Masker struct {
	mu       sync.RWMutex
	values   []string // longest first, so that a secret containing another is masked whole
	replacer *strings.Replacer
}

// Add registers a value to mask. A multi-line value is also masked line by
// line, because logs are written a line at a time.
func (m *Masker) Add(v string) {
	v = strings.TrimRight(v, "\r\n")
	if strings.TrimSpace(v) == "" {
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	add := func(s string) {
		if strings.TrimSpace(s) == "" {
			return
		}
		for _, x := range m.values {
			if x == s {
				return
			}
		}
		m.values = append(m.values, s)
	}
	add(v)
	if strings.Contains(v, "\n") {
		for _, line := range strings.Split(v, "\n") {
			add(strings.TrimRight(line, "\r"))
		}
	}
	sort.SliceStable(m.values, func(i, j int) bool { return len(m.values[i]) > len(m.values[j]) })
	pairs := make([]string, 0, 2*len(m.values))
	for _, x := range m.values {
		pairs = append(pairs, x, "***")
	}
	m.replacer = strings.NewReplacer(pairs...)
}

// Mask returns s with every registered value replaced by ***.
func (m *Masker) Mask(s string) string {
	m.mu.RLock()
	r := m.replacer
	m.mu.RUnlock()
	if r == nil {
		return s
	}
	return r.Replace(s)
}
