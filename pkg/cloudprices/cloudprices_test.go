package cloudprices

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestBuiltInNearest(t *testing.T) {
	lists, err := BuiltIn()
	if err != nil {
		t.Fatal(err)
	}
	byCloud := map[string]List{}
	for _, l := range lists {
		if l.Source == "" || l.Date.IsZero() || l.Currency != "USD" || len(l.Instances) < 10 {
			t.Errorf("%s: source %q, date %s, currency %q, %d instance types", l.Cloud, l.Source, l.Date, l.Currency, len(l.Instances))
		}
		byCloud[l.Cloud] = l
	}
	if len(byCloud) < 3 {
		t.Fatalf("%d clouds, want at least three", len(byCloud))
	}
	for _, tc := range []struct {
		size Size
		want map[string]string // cloud -> instance type; "" when none fits
	}{
		{Size{VCPUs: 2, MemoryGiB: 4}, map[string]string{"aws": "c6i.large", "gcp": "e2-standard-2", "azure": "Standard_F2s_v2"}},
		// 10 GiB rules out the compute-optimised 4-vCPU sizes.
		{Size{VCPUs: 3, MemoryGiB: 10}, map[string]string{"aws": "m6i.xlarge", "gcp": "e2-standard-4", "azure": "Standard_D4s_v5"}},
		{Size{VCPUs: 2, MemoryGiB: 16}, map[string]string{"aws": "r6i.large", "gcp": "n2-highmem-2", "azure": "Standard_E2s_v5"}},
		{Size{VCPUs: 8, MemoryGiB: 64, GPUs: map[string]int{"nvidia.com/A100": 1}},
			map[string]string{"aws": "", "gcp": "a2-highgpu-1g", "azure": "Standard_NC24ads_A100_v4"}},
		{Size{VCPUs: 8, MemoryGiB: 64, GPUs: map[string]int{"nvidia.com/GA100_A100_SXM4_40GB": 1}},
			map[string]string{"aws": "", "gcp": "a2-highgpu-1g", "azure": "Standard_NC24ads_A100_v4"}},
		{Size{VCPUs: 4, MemoryGiB: 16, GPUs: map[string]int{"A100": 1, "T4": 1}}, map[string]string{"aws": "", "gcp": "", "azure": ""}},
		{Size{VCPUs: 200, MemoryGiB: 8}, map[string]string{"aws": "", "gcp": "", "azure": ""}},
	} {
		for cloud, want := range tc.want {
			got, ok := byCloud[cloud].Nearest(tc.size)
			if got.Type != want || ok != (want != "") {
				t.Errorf("%s for %+v: %q (%v), want %q", cloud, tc.size, got.Type, ok, want)
			}
		}
	}
}

func TestParseRefusesIncompleteLists(t *testing.T) {
	head := "# cloud: x\n# region: r\n# currency: USD\n# date: 2026-12-01\n# source: test\n"
	cols := "instanceType,vcpus,memoryGiB,gpus,gpuModel,pricePerHour\n"
	for name, tc := range map[string]struct{ text, want string }{
		"no source":         {strings.Replace(head, "# source: test\n", "", 1) + cols + "a,2,4,0,,0.1\n", `no "source"`},
		"bad date":          {strings.Replace(head, "2026-12-01", "December", 1) + cols + "a,2,4,0,,0.1\n", "date"},
		"other columns":     {head + "type,cpu,mem,price\na,2,4,0.1\n", "CSV header"},
		"GPU without model": {head + cols + "a,2,4,1,,0.1\n", "GPU model"},
		"free instance":     {head + cols + "a,2,4,0,,0\n", "price above zero"},
		"NaN price":         {head + cols + "a,2,4,0,,NaN\n", "price above zero"},
		"endless memory":    {head + cols + "a,2,+Inf,0,,0.1\n", "memory"},
		"no instances":      {head + cols, "no instance types"},
	} {
		if _, err := Parse(strings.NewReader(tc.text), name); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want an error about %s", name, err, tc.want)
		}
	}
	dir := t.TempDir()
	if _, err := LoadDir(dir); err == nil {
		t.Error("an empty directory gave price lists")
	}
	if err := os.WriteFile(filepath.Join(dir, "own.csv"), []byte(head+cols+"big,64,512,0,,2.5\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	lists, err := LoadDir(dir)
	if err != nil || len(lists) != 1 || lists[0].Instances[0].Type != "big" {
		t.Fatalf("the user's own list: %+v, %v", lists, err)
	}
	// Lists in two currencies cannot be ranked by price together.
	euros := strings.Replace(head, "USD", "EUR", 1)
	if err := os.WriteFile(filepath.Join(dir, "eu.csv"), []byte(euros+cols+"small,2,4,0,,0.1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadDir(dir); err == nil || !strings.Contains(err.Error(), "one currency") {
		t.Errorf("lists in EUR and USD: %v, want an error naming the currencies", err)
	}
}
