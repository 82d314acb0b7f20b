package history

import (
	"encoding/csv"
	"io"
	"slices"
	"strconv"
	"time"

	"github.com/hypersdk/hypersdk/apis/hypersdk"
)

// writeCSV writes one row per evaluation time that has any value: a time
// column (RFC3339) and one column per series, empty where a series has no
// point. Values use the shortest form that reads back as the same float64,
// so CSV and JSON carry the same numbers.
func writeCSV(w io.Writer, series []hypersdk.HistorySeries) error {
	cw := csv.NewWriter(w)
	header := make([]string, 0, len(series)+1)
	header = append(header, "time")
	values := make([]map[int64]float64, len(series))
	var times []int64
	seen := map[int64]bool{}
	for i, s := range series {
		header = append(header, s.Field)
		values[i] = make(map[int64]float64, len(s.Points))
		for _, p := range s.Points {
			t := p.Time.UnixNano()
			values[i][t] = p.Value
			if !seen[t] {
				seen[t] = true
				times = append(times, t)
			}
		}
	}
	slices.Sort(times)
	if err := cw.Write(header); err != nil {
		return err
	}
	row := make([]string, len(header))
	for _, t := range times {
		row[0] = time.Unix(0, t).UTC().Format(time.RFC3339)
		for i := range series {
			row[i+1] = ""
			if v, ok := values[i][t]; ok {
				row[i+1] = strconv.FormatFloat(v, 'g', -1, 64)
			}
		}
		if err := cw.Write(row); err != nil {
			return err
		}
	}
	cw.Flush()
	return cw.Error()
}
