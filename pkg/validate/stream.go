package validate

import (
	"bytes"
	"runtime"
	"sync"
)

// chunk is a piece of a YAML stream holding whole documents; line is the
// number of lines before it in the file.
type chunk struct {
	data []byte
	line int
}

// splitDocuments cuts a YAML stream before each "---" and after each "..."
// marker line, so that the documents can be parsed in parallel. YAML forbids
// those markers at the start of a line inside any scalar, so the cut never
// falls inside a document. Streams with directives (%YAML, %TAG: they bind to
// the next document) or in UTF-16 are not cut, nor are those holding NEL, LS
// or PS, which the parser counts as line breaks where YAML 1.2 does not.
// Lines are counted as the parser counts them: "\r\n", "\r" and "\n" each
// end one.
func splitDocuments(data []byte) []chunk {
	if bytes.HasPrefix(data, []byte{0xFE, 0xFF}) || bytes.HasPrefix(data, []byte{0xFF, 0xFE}) ||
		bytes.HasPrefix(data, []byte("%")) || bytes.Contains(data, []byte("\n%")) ||
		bytes.Contains(data, []byte("\u0085")) || bytes.Contains(data, []byte("\u2028")) || bytes.Contains(data, []byte("\u2029")) {
		return []chunk{{data: data}}
	}
	var out []chunk
	start, startLine, line := 0, 0, 0
	for pos := 0; pos < len(data); {
		end := bytes.IndexByte(data[pos:], '\n')
		next := len(data)
		if end >= 0 {
			next = pos + end + 1
		}
		breaks := bytes.Count(data[pos:next], []byte("\r")) - bytes.Count(data[pos:next], []byte("\r\n")) + bytes.Count(data[pos:next], []byte("\n"))
		switch {
		case isMarker(data[pos:next], "---") && pos > start:
			out = append(out, chunk{data[start:pos], startLine})
			start, startLine = pos, line
		case isMarker(data[pos:next], "..."):
			out = append(out, chunk{data[start:next], startLine})
			start, startLine = next, line+breaks
		}
		line += breaks
		pos = next
	}
	if start < len(data) || len(out) == 0 {
		out = append(out, chunk{data[start:], startLine})
	}
	return out
}

// isMarker reports whether a line is the document marker m, alone or
// followed by white space (and content, for "---").
func isMarker(line []byte, m string) bool {
	if !bytes.HasPrefix(line, []byte(m)) {
		return false
	}
	rest := line[len(m):]
	return len(rest) == 0 || rest[0] == ' ' || rest[0] == '\t' || rest[0] == '\r' || rest[0] == '\n'
}

// eachParallel calls f(i) for i in [0, n) on up to GOMAXPROCS goroutines.
func eachParallel(n int, f func(i int)) {
	workers := min(runtime.GOMAXPROCS(0), n)
	if workers <= 1 {
		for i := 0; i < n; i++ {
			f(i)
		}
		return
	}
	var wg sync.WaitGroup
	next := make(chan int)
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				f(i)
			}
		}()
	}
	for i := 0; i < n; i++ {
		next <- i
	}
	close(next)
	wg.Wait()
}
