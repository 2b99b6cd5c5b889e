package validate

import (
	"bytes"
	"fmt"
	"math/rand"
	"runtime"
	"strings"
	"testing"
)

// oneProblem validates data and expects exactly one problem containing want.
func oneProblem(t *testing.T, v *Validator, name string, data []byte, want string) Problem {
	t.Helper()
	res := v.Validate(name, data)
	if len(res.Problems) != 1 || !strings.Contains(res.Problems[0].Message, want) {
		t.Fatalf("%s: want one problem with %q, got %v", name, want, res.Problems)
	}
	return res.Problems[0]
}

func newValidator(t testing.TB, opts Options) *Validator {
	t.Helper()
	v, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// allocated runs f and returns the bytes it allocated.
func allocated(f func()) uint64 {
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	f()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

func TestBadInputBinary(t *testing.T) {
	v := newValidator(t, Options{})
	data := make([]byte, 4096)
	rand.New(rand.NewSource(1)).Read(data)
	oneProblem(t, v, "random.bin", data, "binary file")

	p := oneProblem(t, v, "nul.yaml", []byte("apiVersion: v1\nkind: Con\x00figMap\n"), "binary file")
	if p.Line != 2 || p.Column != 10 {
		t.Errorf("NUL at %d:%d, want 2:10", p.Line, p.Column)
	}
	p = oneProblem(t, v, "latin1.yaml", []byte("a: 1\nb: caf\xe9\n"), "binary file")
	if p.Line != 2 || p.Column != 7 {
		t.Errorf("bad UTF-8 at %d:%d, want 2:7", p.Line, p.Column)
	}
}

func TestBadInputEmpty(t *testing.T) {
	v := newValidator(t, Options{})
	for _, in := range []string{"", "\n\n", "# c\n", "---\n", "---\n...\n---\n"} {
		oneProblem(t, v, "empty.yaml", []byte(in), "empty file")
	}
}

// manifests returns n small valid manifests as one multi-document stream.
func manifests(n int) []byte {
	var b bytes.Buffer
	for i := 0; i < n; i++ {
		switch i % 3 {
		case 0:
			fmt.Fprintf(&b, `---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: app-%d
  labels: {app: app-%d}
spec:
  replicas: %d
  revisionHistoryLimit: 3
  selector:
    matchLabels: {app: app-%d}
  template:
    metadata:
      labels: {app: app-%d}
    spec:
      containers:
        - name: app
          image: ghcr.io/user/app:%d
          ports:
            - containerPort: 8080
          resources:
            requests: {memory: 32Mi, cpu: 250m}
            limits: {memory: 128Mi, cpu: 500m}
`, i, i, i%5+1, i, i, i)
		case 1:
			fmt.Fprintf(&b, `---
apiVersion: v1
kind: Service
metadata:
  name: app-%d
spec:
  selector: {app: app-%d}
  ports:
    - port: 8080
      targetPort: 8080
`, i, i)
		case 2:
			fmt.Fprintf(&b, `---
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata:
  name: app-%d
spec:
  ingressClassName: nginx
  rules:
    - host: user%d.cluster.example.org
      http:
        paths:
          - path: /
            pathType: Prefix
            backend:
              service:
                name: app-%d
                port: {number: 8080}
`, i, i, i)
		}
	}
	return b.Bytes()
}

func TestBadInputTenMegabytes(t *testing.T) {
	v := newValidator(t, Options{})
	// Ten ConfigMaps of 1 MB each, plus the bird-flock manifests.
	var b bytes.Buffer
	b.Write(manifests(30))
	for i := 0; b.Len() < 10<<20; i++ {
		fmt.Fprintf(&b, "---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: big-%d\ndata:\n", i)
		for k := 0; k < 1000; k++ {
			fmt.Fprintf(&b, "  key-%d: %s\n", k, strings.Repeat("v", 1024))
		}
	}
	data := b.Bytes()
	res := v.Validate("big.yaml", data)
	if !res.Valid() {
		t.Fatalf("big valid file: %v", res.Problems[:min(3, len(res.Problems))])
	}
	t.Logf("%d bytes, %d documents", len(data), len(res.Resources))

	// One 10 MB scalar: an ordinary type error, not a crash.
	huge := []byte("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\ndata: " + strings.Repeat("x", 10<<20) + "\n")
	oneProblem(t, v, "scalar.yaml", huge, "expected object, got string")

	// Over the size limit: refused before parsing.
	small := newValidator(t, Options{MaxFileSize: 1 << 20})
	oneProblem(t, small, "big.yaml", data, "file larger than 1048576 bytes")
	res = small.ValidateReader("big.yaml", bytes.NewReader(data))
	if len(res.Problems) != 1 || !strings.Contains(res.Problems[0].Message, "larger") {
		t.Fatalf("reader over limit: %v", res.Problems)
	}
}

func TestBadInputDeepNesting(t *testing.T) {
	v := newValidator(t, Options{})
	const depth = 100000
	for name, data := range map[string]string{
		"flow-seq.yaml":  strings.Repeat("[", depth) + strings.Repeat("]", depth),
		"flow-map.yaml":  strings.Repeat("{a: ", depth) + "1" + strings.Repeat("}", depth),
		"block-seq.yaml": strings.Repeat("- ", depth) + "x\n",
		"in-spec.yaml":   "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\ndata:\n  a: " + strings.Repeat("[", depth) + strings.Repeat("]", depth),
	} {
		var p Problem
		mem := allocated(func() { p = oneProblem(t, v, name, []byte(data), "exceeded max depth") })
		if mem > 512<<20 {
			t.Errorf("%s: allocated %d MB", name, mem>>20)
		}
		if !strings.HasPrefix(p.Message, "YAML syntax error") {
			t.Errorf("%s: %s", name, p)
		}
	}
	// Just under the parser's limit: parsed, then an ordinary error.
	data := "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\ndata:\n  a: " + strings.Repeat("[", 9000) + strings.Repeat("]", 9000)
	oneProblem(t, v, "deep.yaml", []byte(data), "expected string, got array")
}

func TestBadInputAliasBomb(t *testing.T) {
	v := newValidator(t, Options{})
	// Billion laughs, ten levels of ten: 10^10 values if expanded.
	var b strings.Builder
	b.WriteString("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: lol\ndata:\n  l0: &l0 lol\n")
	for i := 1; i <= 10; i++ {
		fmt.Fprintf(&b, "  l%d: &l%d [%s]\n", i, i, strings.TrimSuffix(strings.Repeat(fmt.Sprintf("*l%d,", i-1), 10), ","))
	}
	var p Problem
	mem := allocated(func() { p = oneProblem(t, v, "bomb.yaml", []byte(b.String()), "alias bomb") })
	if mem > 256<<20 {
		t.Errorf("alias bomb allocated %d MB", mem>>20)
	}
	if p.Line == 0 {
		t.Errorf("no position: %s", p)
	}
	// Recursive anchors are refused by the parser.
	oneProblem(t, v, "cycle.yaml", []byte("a: &a [*a]\n"), "")
}

func TestManyAliasesWithinBudget(t *testing.T) {
	v := newValidator(t, Options{})
	var b strings.Builder
	b.WriteString("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: ok\n  labels: &l {a: b}\n  annotations:\n")
	for i := 0; i < 2000; i++ {
		fmt.Fprintf(&b, "    k%d: v\n", i)
	}
	res := v.Validate("aliases.yaml", []byte(b.String()))
	if !res.Valid() {
		t.Fatal(res.Problems)
	}
}

// FuzzValidate: no input makes the validator panic or hang.
func FuzzValidate(f *testing.F) {
	f.Add(manifests(3))
	f.Add([]byte("a: &a [*a, *a]\n"))
	f.Add([]byte("apiVersion: v1\nkind: Pod\nspec: {containers: [{name: x, ports: [{containerPort: '1'}]}]}\n"))
	f.Add([]byte("<<: {a: 1}\n---\n[1, {b: *x}]\n"))
	f.Add([]byte("# c\n---\napiVersion: v1\nkind: Namespace\n...\n--- |\n  x\n---\nkind: List\n"))
	f.Add([]byte("\r0\n--- 0"))
	v := newValidator(f, Options{})
	f.Fuzz(func(t *testing.T, data []byte) {
		res := v.Validate("fuzz.yaml", data)
		for _, p := range res.Problems {
			if p.Message == "" {
				t.Fatalf("empty message: %+v", p)
			}
		}
		checkSameAsSequential(t, v, "fuzz.yaml", data)
	})
}

func TestControlCharacterPosition(t *testing.T) {
	v := newValidator(t, Options{})
	p := oneProblem(t, v, "cc.yaml", []byte("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: \"ab\x7f\"\n"), "control characters")
	if p.Line != 4 || p.Column != 12 {
		t.Errorf("at %d:%d, want 4:12", p.Line, p.Column)
	}
}
