package workflow

// SplitArgs splits the args or entrypoint of a `docker://` step or a
// Docker action (with.args, with.entrypoint) into words as a shell line
// is split: blanks separate words, '…' and "…" quote, a backslash escapes.
func SplitArgs(s string) ([]string, error) {
	words, err := splitWords(s)
	if err != nil {
		return nil, err
	}
	out := make([]string, len(words))
	for i, w := range words {
		out[i] = w.text
	}
	return out, nil
}
