// Command krew builds the release archives of kubectl-hyper and writes the
// krew plugin manifest for them: artifacts/krew/hyper.yaml with the
// version, each platform's archive URL and its SHA-256 sum filled in.
//
//	go run ./hack/krew -version v0.2.0 -base-url https://.../v0.2.0 -out _output/krew
package main

import (
	"archive/tar"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"sigs.k8s.io/yaml"
)

// plugin is the part of krew's Plugin manifest this tool fills in; the
// rest passes through untouched.
type plugin map[string]any

func main() {
	o := options{root: "."}
	flag.StringVar(&o.template, "template", "artifacts/krew/hyper.yaml", "The manifest to fill in.")
	flag.StringVar(&o.version, "version", "v0.1.0", "The release's version (a v-prefixed semantic version).")
	flag.StringVar(&o.baseURL, "base-url", "", "Where the release's archives are published; GitHub's release URL of -version when empty.")
	flag.StringVar(&o.out, "out", "_output/krew", "Directory for the archives and the manifest.")
	flag.StringVar(&o.platforms, "platforms", "", "Comma-separated os/arch to build (all the manifest lists when empty); the others are left out.")
	flag.Parse()
	if o.baseURL == "" {
		o.baseURL = "https://github.com/hypersdk/hypersdk/releases/download/" + o.version
	}
	path, err := release(o)
	if err != nil {
		fmt.Fprintln(os.Stderr, "krew:", err)
		os.Exit(1)
	}
	fmt.Println(path)
}

type options struct {
	// root is the module the binary is built from.
	root, template, version, baseURL, out, platforms string
}

// release builds each platform's archive and writes the manifest; it
// returns the manifest's path.
func release(o options) (string, error) {
	data, err := os.ReadFile(o.template)
	if err != nil {
		return "", err
	}
	var p plugin
	if err := yaml.Unmarshal(data, &p); err != nil {
		return "", fmt.Errorf("%s: %w", o.template, err)
	}
	spec, ok := p["spec"].(map[string]any)
	if !ok {
		return "", fmt.Errorf("%s has no spec", o.template)
	}
	spec["version"] = o.version
	platforms, _ := spec["platforms"].([]any)
	want := map[string]bool{}
	for _, pl := range strings.Split(o.platforms, ",") {
		if pl != "" {
			want[pl] = true
		}
	}
	if err := os.MkdirAll(o.out, 0o755); err != nil {
		return "", err
	}
	var kept []any
	for _, entry := range platforms {
		e := entry.(map[string]any)
		labels := e["selector"].(map[string]any)["matchLabels"].(map[string]any)
		goos, goarch := fmt.Sprint(labels["os"]), fmt.Sprint(labels["arch"])
		if len(want) > 0 && !want[goos+"/"+goarch] {
			continue
		}
		name := fmt.Sprintf("kubectl-hyper_%s_%s.tar.gz", goos, goarch)
		sum, err := archive(o.root, filepath.Join(o.out, name), fmt.Sprint(e["bin"]), goos, goarch)
		if err != nil {
			return "", fmt.Errorf("%s/%s: %w", goos, goarch, err)
		}
		e["uri"] = strings.TrimSuffix(o.baseURL, "/") + "/" + name
		e["sha256"] = sum
		kept = append(kept, e)
	}
	if len(kept) == 0 {
		return "", fmt.Errorf("no platform of %s matches -platforms %q", o.template, o.platforms)
	}
	spec["platforms"] = kept
	out, err := yaml.Marshal(p)
	if err != nil {
		return "", err
	}
	path := filepath.Join(o.out, filepath.Base(o.template))
	return path, os.WriteFile(path, out, 0o644)
}

// archive cross-compiles kubectl-hyper for goos/goarch as bin, packs it in
// a gzipped tarball at path and returns the tarball's SHA-256.
func archive(root, path, bin, goos, goarch string) (string, error) {
	tmp, err := os.MkdirTemp("", "krew-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(tmp)
	build := exec.Command("go", "build", "-trimpath", "-ldflags=-s -w", "-o", filepath.Join(tmp, bin), "./cmd/kubectl-hyper")
	build.Dir = root
	build.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS="+goos, "GOARCH="+goarch)
	if out, err := build.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build: %w\n%s", err, out)
	}
	f, err := os.Create(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	gz := gzip.NewWriter(io.MultiWriter(f, h))
	tw := tar.NewWriter(gz)
	exe, err := os.Open(filepath.Join(tmp, bin))
	if err != nil {
		return "", err
	}
	defer exe.Close()
	st, err := exe.Stat()
	if err != nil {
		return "", err
	}
	if err := tw.WriteHeader(&tar.Header{Name: bin, Mode: 0o755, Size: st.Size(), ModTime: st.ModTime()}); err != nil {
		return "", err
	}
	if _, err := io.Copy(tw, exe); err != nil {
		return "", err
	}
	if err := tw.Close(); err != nil {
		return "", err
	}
	if err := gz.Close(); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), f.Close()
}
