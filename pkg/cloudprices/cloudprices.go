// Package cloudprices prices a VM's size at public clouds' on-demand list
// prices, for comparison with what it costs on the cluster. The price lists
// are dated CSV files that name their source: the ones built in (data/) or
// a directory of the user's own (hypersdk-apiserver --cloud-prices-dir),
// which replace them.
package cloudprices

import (
	"bufio"
	"embed"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"os"
	"path"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/hypersdk/hypersdk/pkg/gpu"
)

//go:embed data/*.csv
var builtIn embed.FS

// Instance is one instance type of a price list.
type Instance struct {
	Type      string
	VCPUs     int
	MemoryGiB float64
	GPUs      int
	// GPUModel is the GPU's model as device plugins name it (A100, T4, ...).
	GPUModel string
	PerHour  float64
}

// List is one cloud region's price list.
type List struct {
	Cloud, Region, Currency string
	// Date is when the prices were read from Source.
	Date      time.Time
	Source    string
	Instances []Instance
}

// header keys every list sets in its leading "# key: value" lines.
var header = []string{"cloud", "region", "currency", "date", "source"}

// Parse reads a price list: "# key: value" lines for cloud, region,
// currency, date (YYYY-MM-DD) and source, then CSV with the columns
// instanceType,vcpus,memoryGiB,gpus,gpuModel,pricePerHour.
func Parse(r io.Reader, name string) (List, error) {
	br := bufio.NewReader(r)
	meta := map[string]string{}
	for {
		b, err := br.Peek(1)
		if err != nil || b[0] != '#' {
			break
		}
		line, err := br.ReadString('\n')
		if err != nil && !errors.Is(err, io.EOF) {
			return List{}, fmt.Errorf("price list %s: %w", name, err)
		}
		k, v, ok := strings.Cut(strings.TrimSpace(strings.TrimPrefix(line, "#")), ":")
		if ok {
			meta[strings.TrimSpace(k)] = strings.TrimSpace(v)
		}
	}
	for _, k := range header {
		if meta[k] == "" {
			return List{}, fmt.Errorf("price list %s: no %q in its header (# %s: ...)", name, k, k)
		}
	}
	date, err := time.Parse(time.DateOnly, meta["date"])
	if err != nil {
		return List{}, fmt.Errorf("price list %s: date: %w", name, err)
	}
	l := List{Cloud: meta["cloud"], Region: meta["region"], Currency: meta["currency"], Date: date, Source: meta["source"]}
	rows, err := csv.NewReader(br).ReadAll()
	if err != nil {
		return List{}, fmt.Errorf("price list %s: %w", name, err)
	}
	want := []string{"instanceType", "vcpus", "memoryGiB", "gpus", "gpuModel", "pricePerHour"}
	if len(rows) == 0 || strings.Join(rows[0], ",") != strings.Join(want, ",") {
		return List{}, fmt.Errorf("price list %s: the CSV header must be %s", name, strings.Join(want, ","))
	}
	for i, row := range rows[1:] {
		in, err := instance(row)
		if err != nil {
			return List{}, fmt.Errorf("price list %s, row %d: %w", name, i+2, err)
		}
		l.Instances = append(l.Instances, in)
	}
	if len(l.Instances) == 0 {
		return List{}, fmt.Errorf("price list %s: no instance types", name)
	}
	return l, nil
}

func instance(row []string) (Instance, error) {
	vcpus, err1 := strconv.Atoi(row[1])
	mem, err2 := strconv.ParseFloat(row[2], 64)
	gpus, err3 := strconv.Atoi(row[3])
	price, err4 := strconv.ParseFloat(row[5], 64)
	if err := errors.Join(err1, err2, err3, err4); err != nil {
		return Instance{}, err
	}
	finite := func(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) }
	if row[0] == "" || vcpus <= 0 || !finite(mem) || mem <= 0 || gpus < 0 || !finite(price) || price <= 0 || (gpus > 0) != (row[4] != "") {
		return Instance{}, fmt.Errorf("instance %q: want a name, vcpus, memory and a price above zero, and a GPU model exactly when gpus > 0", row[0])
	}
	return Instance{Type: row[0], VCPUs: vcpus, MemoryGiB: mem, GPUs: gpus, GPUModel: row[4], PerHour: price}, nil
}

// BuiltIn returns the price lists shipped in the binary.
func BuiltIn() ([]List, error) { return load(builtIn, "data") }

// LoadDir returns the price lists (*.csv) of dir, which replace the built-in
// ones; a directory without any is an error, not an empty comparison.
func LoadDir(dir string) ([]List, error) {
	lists, err := load(os.DirFS(dir), ".")
	if err != nil {
		return nil, fmt.Errorf("cloud price lists in %s: %w", dir, err)
	}
	return lists, nil
}

func load(fsys fs.FS, dir string) ([]List, error) {
	paths, err := fs.Glob(fsys, path.Join(dir, "*.csv"))
	if err != nil {
		return nil, err
	}
	if len(paths) == 0 {
		return nil, errors.New("no price lists (*.csv)")
	}
	sort.Strings(paths)
	var lists []List
	for _, p := range paths {
		f, err := fsys.Open(p)
		if err != nil {
			return nil, err
		}
		l, err := Parse(f, path.Base(p))
		f.Close()
		if err != nil {
			return nil, err
		}
		// The comparison ranks instances of every list by price: one
		// currency, or the order says nothing.
		if len(lists) > 0 && l.Currency != lists[0].Currency {
			return nil, fmt.Errorf("price list %s is in %s and %s in %s: every list must be in one currency",
				path.Base(p), l.Currency, path.Base(paths[0]), lists[0].Currency)
		}
		lists = append(lists, l)
	}
	return lists, nil
}

// Size is what a VM needs of an instance.
type Size struct {
	VCPUs     float64
	MemoryGiB float64
	// GPUs counts GPUs per model (A100) or device resource name
	// (nvidia.com/GA100_A100_SXM4_40GB), read with gpu.ModelOf.
	GPUs map[string]int
}

// Nearest is the cheapest instance type of l with at least the size's
// vCPUs, memory and GPUs (one model; a VM asking for two models fits no
// instance); false when none fits.
func (l List) Nearest(s Size) (Instance, bool) {
	model, count := "", 0
	for name, n := range s.GPUs {
		if n <= 0 {
			continue
		}
		if model != "" {
			return Instance{}, false
		}
		model, count = gpu.ModelOf(name), n
	}
	var best Instance
	found := false
	for _, in := range l.Instances {
		if float64(in.VCPUs) < s.VCPUs || in.MemoryGiB < s.MemoryGiB || in.GPUs < count ||
			(count > 0 && !strings.EqualFold(in.GPUModel, model)) || (count == 0 && in.GPUs > 0) {
			continue
		}
		if !found || in.PerHour < best.PerHour {
			best, found = in, true
		}
	}
	return best, found
}
