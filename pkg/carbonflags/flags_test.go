package carbonflags

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/spf13/pflag"
)

// TestCredentialsFromFiles: the live providers' credentials can come from
// files (a mounted Secret), trimmed of the newline a Secret's value often
// ends with; a file and a flag for the same credential, an empty file or a
// missing one are refused.
func TestCredentialsFromFiles(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) string {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return path
	}
	token, password, empty := write("token", "s3cret\n"), write("password", "hunter2"), write("empty", "\n")
	parse := func(args ...string) *Options {
		o := &Options{}
		fs := pflag.NewFlagSet("test", pflag.ContinueOnError)
		o.AddFlags(fs)
		if err := fs.Parse(args); err != nil {
			t.Fatal(err)
		}
		return o
	}
	spec, err := parse("--carbon-provider=electricitymaps", "--carbon-api-token-file="+token).spec()
	if err != nil || spec.Token != "s3cret" {
		t.Errorf("token from a file: %q, %v; want s3cret", spec.Token, err)
	}
	spec, err = parse("--carbon-provider=watttime", "--carbon-api-username=u", "--carbon-api-password-file="+password).spec()
	if err != nil || spec.Password != "hunter2" || spec.Username != "u" {
		t.Errorf("password from a file: %q/%q, %v; want u/hunter2", spec.Username, spec.Password, err)
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--carbon-api-token=x", "--carbon-api-token-file=" + token}, "give one"},
		{[]string{"--carbon-api-token-file=" + empty}, "is empty"},
		{[]string{"--carbon-api-password-file=" + filepath.Join(dir, "missing")}, "no such file"},
	} {
		if _, err := parse(append([]string{"--carbon-provider=electricitymaps"}, tc.args...)...).spec(); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: %v, want an error saying %q", tc.args, err, tc.want)
		}
	}
}

// TestTraceReplayYearIsUTCs: the traces are in UTC, so a start given with
// an offset replays the year it is in UTC: half past midnight on New
// Year's Day in Madrid is still 2022 there.
func TestTraceReplayYearIsUTCs(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "ES_2023_hourly.csv"), []byte("not read\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	start := time.Date(2023, 1, 1, 0, 30, 0, 0, time.FixedZone("CET", 3600))
	if _, err := TraceReplay(dir, start, time.Now(), 1); err == nil || !strings.Contains(err.Error(), "no carbon traces for 2022") {
		t.Errorf("replay from %s: %v, want the 2022 traces asked for", start, err)
	}
}
