package validate

import (
	"errors"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

// The bundles are loaded without metaschema validation (see bundleURL);
// this is where they get it.
func TestBundlesMetaValid(t *testing.T) {
	for _, v := range KubernetesVersions() {
		for _, strict := range []bool{false, true} {
			t.Run(bundleName(v, strict), func(t *testing.T) {
				t.Parallel()
				checkBundle(t, v, strict)
			})
		}
	}
}

func checkBundle(t *testing.T, v string, strict bool) {
	set, err := loadSchemaSet(v, strict)
	if err != nil {
		t.Fatal(err)
	}
	doc, err := bundleDoc(v, strict)
	if err != nil {
		t.Fatal(err)
	}
	meta, err := jsonschema.NewCompiler().Compile("https://json-schema.org/draft/2020-12/schema")
	if err != nil {
		t.Fatal(err)
	}
	if err := meta.Validate(doc); err != nil {
		t.Fatal(err)
	}
	broken := map[string]any{"$defs": map[string]any{"x": map[string]any{"type": "integr"}}}
	if meta.Validate(broken) == nil {
		t.Fatal("metaschema check accepts a broken schema")
	}
	for _, k := range []string{"v1/Pod", "v1/Service", "apps/v1/Deployment", "batch/v1/CronJob",
		"networking.k8s.io/v1/Ingress", "autoscaling/v2/HorizontalPodAutoscaler",
		"policy/v1/PodDisruptionBudget", "rbac.authorization.k8s.io/v1/ClusterRoleBinding"} {
		if !slices.Contains(set.knownKinds(), k) {
			t.Errorf("kind %s missing", k)
		}
	}
}

// generate.go, the embedded bundles and DefaultKubernetesVersion agree.
func TestBundledVersionsMatchGenerate(t *testing.T) {
	src, err := os.ReadFile("generate.go")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`-k8s-version (\S+)`).FindSubmatch(src)
	if m == nil {
		t.Fatal("no -k8s-version in generate.go")
	}
	want := strings.Split(string(m[1]), ",")
	got := KubernetesVersions()
	if !slices.Equal(got, want) {
		t.Fatalf("bundled %v, generate.go %v", got, want)
	}
	if DefaultKubernetesVersion != got[len(got)-1] {
		t.Fatalf("DefaultKubernetesVersion %s, newest bundled %s", DefaultKubernetesVersion, got[len(got)-1])
	}
}

func TestResolveVersion(t *testing.T) {
	for in, want := range map[string]string{
		"": DefaultKubernetesVersion, "latest": DefaultKubernetesVersion,
		"1.37.2": "v1.37.2", "v1.37.2": "v1.37.2", "1.36": "v1.36.3", "v1.34": "v1.34.4",
	} {
		got, err := resolveVersion(in)
		if err != nil || got != want {
			t.Errorf("resolveVersion(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, in := range []string{"1.20", "1.37.9", "banana"} {
		if _, err := resolveVersion(in); !errors.Is(err, ErrUnknownVersion) {
			t.Errorf("resolveVersion(%q): %v, want ErrUnknownVersion", in, err)
		}
	}
}
