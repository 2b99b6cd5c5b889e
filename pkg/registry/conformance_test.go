package registry

import (
	"bufio"
	"context"
	"encoding/xml"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"
)

// conformancePkg is the OCI distribution-spec conformance suite, a tool
// of this module (go.mod pins its version).
const conformancePkg = "github.com/opencontainers/distribution-spec/conformance"

// buildConformance builds the suite into the module's ignored .cache
// directory. It fails under CI when it cannot, and skips elsewhere.
func buildConformance(t *testing.T) string {
	t.Helper()
	fail := t.Skipf
	if os.Getenv("CI") == "true" {
		fail = t.Fatalf
	}
	goBin, err := exec.LookPath("go")
	if err != nil {
		fail("the conformance suite is built with the go command: %v", err)
	}
	out, err := exec.Command(goBin, "env", "GOMOD").Output()
	gomod := strings.TrimSpace(string(out))
	if err != nil || gomod == "" || gomod == os.DevNull {
		fail("no module root to build the conformance suite in: %v", err)
	}
	bin := filepath.Join(filepath.Dir(gomod), ".cache", "conformance", "conformance")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, goBin, "build", "-o", bin, conformancePkg)
	cmd.Dir = filepath.Dir(gomod)
	if out, err := cmd.CombinedOutput(); err != nil {
		fail("building the conformance suite (go build %s; the Go module proxy must be reachable the first time): %v\n%s", conformancePkg, err, out)
	}
	return bin
}

type junitCase struct {
	Name   string `xml:"name,attr"`
	Status string `xml:"status,attr"`
	Out    string `xml:"system-out"`
}

// readJUnit returns the suite's test cases, from every nesting level.
func readJUnit(t *testing.T, path string) []junitCase {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var cases []junitCase
	d := xml.NewDecoder(strings.NewReader(string(b)))
	for {
		tok, err := d.Token()
		if err != nil {
			break
		}
		if se, ok := tok.(xml.StartElement); ok && se.Name.Local == "testcase" {
			var c junitCase
			if err := d.DecodeElement(&c, &se); err != nil {
				t.Fatal(err)
			}
			cases = append(cases, c)
		}
	}
	return cases
}

// knownFailures reads testdata/conformance-known-failures.txt: the names
// of the suite's tests distribution's own registry fails too, one a line,
// with # comments giving the reason.
func knownFailures(t *testing.T) map[string]bool {
	t.Helper()
	f, err := os.Open(filepath.Join("testdata", "conformance-known-failures.txt"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	known := map[string]bool{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line != "" && !strings.HasPrefix(line, "#") {
			known[line] = true
		}
	}
	return known
}

// The OCI distribution-spec conformance suite against runner's registry,
// with pull, push, content discovery and content management: every test
// fails only where distribution's own registry fails too.
func TestOCIConformance(t *testing.T) {
	if testing.Short() {
		t.Skip("the conformance suite takes a few seconds; not with -short")
	}
	bin := buildConformance(t)
	s, err := Serve(context.Background(), "127.0.0.1:0", t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	work := t.TempDir()
	results := filepath.Join(work, "results")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin)
	cmd.Dir = work
	cmd.Env = []string{
		"HOME=" + work, "PATH=/usr/bin:/bin",
		"OCI_RESULTS_DIR=" + results,
		"OCI_REGISTRY=" + s.Addr(), "OCI_TLS=disabled",
		"OCI_REPO1=conformance/repo1", "OCI_REPO2=conformance/repo2",
		"OCI_TEST_PULL=1", "OCI_TEST_PUSH=1", "OCI_TEST_CONTENT_DISCOVERY=1", "OCI_TEST_CONTENT_MANAGEMENT=1",
	}
	out, err := cmd.CombinedOutput()
	if _, serr := os.Stat(filepath.Join(results, "junit.xml")); serr != nil {
		t.Fatalf("conformance suite wrote no report: %v, %v\n%s", err, serr, out)
	}
	known := knownFailures(t)
	var passed, failed int
	var unexpected []string
	fixed := map[string]bool{}
	for name := range known {
		fixed[name] = true
	}
	for _, c := range readJUnit(t, filepath.Join(results, "junit.xml")) {
		switch c.Status {
		case "passed":
			passed++
		case "failure":
			failed++
			delete(fixed, c.Name)
			if !known[c.Name] {
				msg, _, _ := strings.Cut(strings.TrimSpace(c.Out), "\n")
				unexpected = append(unexpected, c.Name+": "+msg)
			}
		}
	}
	t.Logf("conformance: %d passed, %d failed (%d known failures listed)", passed, failed, len(known))
	if passed == 0 {
		t.Fatalf("no conformance test passed\n%s", out)
	}
	sort.Strings(unexpected)
	for _, u := range unexpected {
		t.Errorf("fails, and distribution's own registry passes it: %s", u)
	}
	for name := range fixed {
		t.Logf("listed as a known failure but passes now (update the list): %s", name)
	}
}
