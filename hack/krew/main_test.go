package main

import (
	"archive/tar"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"

	"github.com/hypersdk/hypersdk/test/framework"
)

// TestReleaseManifest builds this machine's archive and checks the manifest
// krew would install from: the version and URL asked for, the archive's
// real SHA-256, and a kubectl-hyper inside that runs.
func TestReleaseManifest(t *testing.T) {
	root := framework.RepoRoot()
	out := t.TempDir()
	platform := runtime.GOOS + "/" + runtime.GOARCH
	path, err := release(options{root: root, template: filepath.Join(root, "artifacts", "krew", "hyper.yaml"),
		version: "v9.9.9", baseURL: "https://example.com/r/", out: out, platforms: platform})
	if err != nil {
		t.Fatal(err)
	}
	var m struct {
		APIVersion string `json:"apiVersion"`
		Kind       string `json:"kind"`
		Metadata   struct{ Name string }
		Spec       struct {
			Version   string
			Platforms []struct {
				Selector struct{ MatchLabels map[string]string }
				URI      string
				Sha256   string
				Bin      string
			}
		}
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(data, &m); err != nil {
		t.Fatal(err)
	}
	name := "kubectl-hyper_" + runtime.GOOS + "_" + runtime.GOARCH + ".tar.gz"
	if m.APIVersion != "krew.googlecontainertools.github.com/v1alpha2" || m.Kind != "Plugin" || m.Metadata.Name != "hyper" ||
		m.Spec.Version != "v9.9.9" || len(m.Spec.Platforms) != 1 || m.Spec.Platforms[0].URI != "https://example.com/r/"+name {
		t.Fatalf("manifest:\n%s", data)
	}
	archive, err := os.ReadFile(filepath.Join(out, name))
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(archive)
	if m.Spec.Platforms[0].Sha256 != hex.EncodeToString(sum[:]) {
		t.Errorf("manifest sha256 %s, archive's %x", m.Spec.Platforms[0].Sha256, sum)
	}
	exe := filepath.Join(t.TempDir(), m.Spec.Platforms[0].Bin)
	extract(t, filepath.Join(out, name), m.Spec.Platforms[0].Bin, exe)
	help, err := exec.Command(exe, "--help").CombinedOutput()
	if err != nil || !strings.Contains(string(help), "kubectl hyper") {
		t.Errorf("%s --help: %v\n%s", m.Spec.Platforms[0].Bin, err, help)
	}
}

func extract(t *testing.T, archive, name, to string) {
	t.Helper()
	f, err := os.Open(archive)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	gz, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	tr := tar.NewReader(gz)
	for {
		h, err := tr.Next()
		if err != nil {
			t.Fatalf("%s has no %s: %v", archive, name, err)
		}
		if h.Name != name {
			continue
		}
		w, err := os.OpenFile(to, os.O_CREATE|os.O_WRONLY, os.FileMode(h.Mode))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := io.Copy(w, tr); err != nil {
			t.Fatal(err)
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		return
	}
}
