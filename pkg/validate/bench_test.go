package validate

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"testing"
)

// BenchmarkValidate1000 validates 1,000 generated manifests, one file each
// (like a rendered k8s/ folder), with one Validator.
func BenchmarkValidate1000(b *testing.B) {
	dir := b.TempDir()
	data := manifests(1000)
	docs := splitDocs(data)
	paths := make([]string, len(docs))
	for i, d := range docs {
		paths[i] = filepath.Join(dir, "m"+strconv.Itoa(i)+".yaml")
		if err := os.WriteFile(paths[i], d, 0o644); err != nil {
			b.Fatal(err)
		}
	}
	v := newValidator(b, Options{})
	// Warm the schema cache: a CLI run pays this once (measured separately
	// by BenchmarkValidateCold).
	if res, _ := v.ValidatePaths(context.Background(), paths[:3]); !res.Valid() {
		b.Fatal(res.Problems)
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		res, err := v.ValidatePaths(context.Background(), []string{dir})
		if err != nil || !res.Valid() || len(res.Resources) != 1000 {
			b.Fatalf("%d resources, problems %v", len(res.Resources), res.Problems)
		}
	}
}

// BenchmarkValidateCold includes loading and compiling the schemas.
func BenchmarkValidateCold(b *testing.B) {
	data := manifests(3)
	for i := 0; i < b.N; i++ {
		v := newValidator(b, Options{})
		if res := v.Validate("m.yaml", data); !res.Valid() {
			b.Fatal(res.Problems)
		}
	}
}

// splitDocs cuts a "---"-separated stream into documents.
func splitDocs(data []byte) [][]byte {
	var out [][]byte
	start := 0
	for i := 0; i+4 <= len(data); i++ {
		if (i == 0 || data[i-1] == '\n') && string(data[i:i+4]) == "---\n" {
			if i > start {
				out = append(out, data[start:i])
			}
			start = i + 4
		}
	}
	return append(out, data[start:])
}
