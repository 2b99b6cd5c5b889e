package validate

import "testing"

// BenchmarkValidateMemory1000 validates 1,000 manifests held in memory, one
// stream (no file I/O): the in-process share of the pipeline benchmark.
func BenchmarkValidateMemory1000(b *testing.B) {
	docs := splitDocs(manifests(1000))
	v := newValidator(b, Options{})
	v.Validate("warm", docs[0])
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		for _, d := range docs {
			if res := v.Validate("m.yaml", d); !res.Valid() {
				b.Fatal(res.Problems)
			}
		}
	}
}

// BenchmarkValidateStream1000 validates 1,000 manifests as one multi-document
// stream; its documents are checked in parallel.
func BenchmarkValidateStream1000(b *testing.B) {
	data := manifests(1000)
	v := newValidator(b, Options{})
	v.Validate("warm", data)
	b.SetBytes(int64(len(data)))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if res := v.Validate("all.yaml", data); !res.Valid() || len(res.Resources) != 1000 {
			b.Fatal(res.Problems)
		}
	}
}
