// Package container runs one process the way a container runtime would for
// the sandbox's host node: in mount and UTS namespaces of its own, on a root
// file system of its own (a tmpfs holding what a distroless image holds, the
// binary at its image path and the pod's volumes at their mount paths), as
// the user, groups and privileges the pod's security context names, and with
// a read-only root when it asks. So a component runs with exactly the
// command, environment and files of its manifest, and fails here as it
// would in a cluster when it writes where it may not or reads what it was
// not given.
//
// Start (in the sandbox) re-executes the sandbox binary as
// "<bin> container-init <spec>" with new namespaces; Init (in that child)
// builds the root, drops privileges and executes the container's process.
// It needs root, as a container runtime does.
package container

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"

	"golang.org/x/sys/unix"
)

// InitCommand is the subcommand of the sandbox binary that runs Init.
const InitCommand = "container-init"

// Mount is one file or directory of the host made visible in the container.
type Mount struct {
	Source   string `json:"source"`
	Target   string `json:"target"`
	ReadOnly bool   `json:"readOnly,omitempty"`
}

// Spec describes the process to run.
type Spec struct {
	// Root is an empty directory of the host; the container's root file
	// system is mounted on it.
	Root     string `json:"root"`
	Hostname string `json:"hostname"`
	// Binary is the host file executed as Path inside the container.
	Binary string `json:"binary"`
	Path   string `json:"path"`
	// Args is argv; Args[0] is conventionally Path.
	Args       []string `json:"args"`
	Env        []string `json:"env"`
	WorkingDir string   `json:"workingDir,omitempty"`
	// Hosts and Resolv are host files bound at /etc/hosts and /etc/resolv.conf.
	Hosts  string  `json:"hosts"`
	Resolv string  `json:"resolv"`
	Mounts []Mount `json:"mounts"`
	UID    int     `json:"uid"`
	GID    int     `json:"gid"`
	Groups []int   `json:"groups,omitempty"`
	// ReadOnlyRoot makes the root file system read-only (volumes keep their
	// own mode).
	ReadOnlyRoot bool `json:"readOnlyRoot,omitempty"`
	// NoNewPrivileges is allowPrivilegeEscalation: false.
	NoNewPrivileges bool `json:"noNewPrivileges,omitempty"`
}

// Write stores the spec as JSON at path.
func (s *Spec) Write(path string) error {
	data, err := json.Marshal(s)
	if err != nil {
		return err
	}
	return os.WriteFile(path, data, 0o600)
}

// passwd and group are a distroless image's: root and nonroot (65532).
const (
	passwd = "root:x:0:0:root:/root:/sbin/nologin\nnonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n"
	group  = "root:x:0:\nnonroot:x:65532:\n"
)

// hostFiles are bound read-only from the host when they exist: what Go
// programs read of an image (CA certificates, time zones) and the devices
// every container has.
var hostFiles = []string{"/etc/ssl/certs", "/usr/share/zoneinfo",
	"/dev/null", "/dev/zero", "/dev/random", "/dev/urandom", "/dev/full", "/dev/tty"}

// Init runs in the child made by Start: it never returns on success, since
// the container's process replaces it.
func Init(specPath string) error {
	// Credentials, no_new_privs and the parent-death signal are set per
	// thread, and execve runs with the calling thread's: all of it must
	// happen on one thread.
	runtime.LockOSThread()
	data, err := os.ReadFile(specPath)
	if err != nil {
		return err
	}
	var s Spec
	if err := json.Unmarshal(data, &s); err != nil {
		return fmt.Errorf("reading container spec: %w", err)
	}
	// Nothing mounted from here on may leak back to the host.
	if err := unix.Mount("", "/", "", unix.MS_REC|unix.MS_PRIVATE, ""); err != nil {
		return fmt.Errorf("making mounts private: %w", err)
	}
	if err := unix.Sethostname([]byte(s.Hostname)); err != nil {
		return fmt.Errorf("setting the hostname: %w", err)
	}
	if err := unix.Mount("tmpfs", s.Root, "tmpfs", unix.MS_NOSUID|unix.MS_NODEV, "mode=0755,size=16m"); err != nil {
		return fmt.Errorf("mounting the root: %w", err)
	}
	root := func(p string) string { return filepath.Join(s.Root, p) }
	for _, dir := range []string{"/etc", "/tmp", "/proc", "/sys", "/dev", "/home/nonroot", "/root"} {
		if err := os.MkdirAll(root(dir), 0o755); err != nil {
			return err
		}
	}
	if err := os.Chmod(root("/tmp"), 0o1777); err != nil {
		return err
	}
	if err := os.Chown(root("/home/nonroot"), 65532, 65532); err != nil {
		return err
	}
	for name, content := range map[string]string{"/etc/passwd": passwd, "/etc/group": group,
		"/etc/nsswitch.conf": "hosts: files dns\n"} {
		if err := os.WriteFile(root(name), []byte(content), 0o644); err != nil {
			return err
		}
	}
	binds := []Mount{{Source: "/proc", Target: "/proc"}, {Source: "/sys", Target: "/sys", ReadOnly: true},
		{Source: s.Hosts, Target: "/etc/hosts", ReadOnly: true}, {Source: s.Resolv, Target: "/etc/resolv.conf", ReadOnly: true},
		{Source: s.Binary, Target: s.Path, ReadOnly: true}}
	for _, f := range hostFiles {
		if _, err := os.Stat(f); err == nil {
			binds = append(binds, Mount{Source: f, Target: f, ReadOnly: true})
		}
	}
	for _, m := range append(binds, s.Mounts...) {
		if err := bind(s.Root, m); err != nil {
			return err
		}
	}
	if err := pivot(s.Root); err != nil {
		return err
	}
	if s.ReadOnlyRoot {
		if err := unix.Mount("", "/", "", unix.MS_REMOUNT|unix.MS_BIND|unix.MS_RDONLY, ""); err != nil {
			return fmt.Errorf("making the root read-only: %w", err)
		}
	}
	wd := s.WorkingDir
	if wd == "" {
		wd = "/"
	}
	if err := os.Chdir(wd); err != nil {
		return fmt.Errorf("working directory %s: %w", wd, err)
	}
	if err := unix.Setgroups(append([]int{s.GID}, s.Groups...)); err != nil {
		return fmt.Errorf("setting groups: %w", err)
	}
	if err := unix.Setresgid(s.GID, s.GID, s.GID); err != nil {
		return fmt.Errorf("setting group %d: %w", s.GID, err)
	}
	if err := unix.Setresuid(s.UID, s.UID, s.UID); err != nil {
		return fmt.Errorf("setting user %d: %w", s.UID, err)
	}
	if s.NoNewPrivileges {
		if err := unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); err != nil {
			return fmt.Errorf("no_new_privs: %w", err)
		}
	}
	// A change of user clears the parent-death signal: set it again, so the
	// container dies with the sandbox.
	if err := unix.Prctl(unix.PR_SET_PDEATHSIG, uintptr(unix.SIGKILL), 0, 0, 0); err != nil {
		return fmt.Errorf("parent-death signal: %w", err)
	}
	return unix.Exec(s.Path, s.Args, s.Env)
}

// bind mounts m.Source at m.Target under root, making the mount point first.
func bind(root string, m Mount) error {
	target := filepath.Join(root, m.Target)
	info, err := os.Stat(m.Source)
	if err != nil {
		return fmt.Errorf("mount source %s: %w", m.Source, err)
	}
	if info.IsDir() {
		err = os.MkdirAll(target, 0o755)
	} else if err = os.MkdirAll(filepath.Dir(target), 0o755); err == nil {
		var f *os.File
		if f, err = os.OpenFile(target, os.O_CREATE|os.O_RDONLY, 0o644); err == nil {
			err = f.Close()
		}
	}
	if err != nil {
		return fmt.Errorf("mount point %s: %w", m.Target, err)
	}
	if err := unix.Mount(m.Source, target, "", unix.MS_BIND|unix.MS_REC, ""); err != nil {
		return fmt.Errorf("binding %s at %s: %w", m.Source, m.Target, err)
	}
	if m.ReadOnly {
		if err := unix.Mount("", target, "", unix.MS_REMOUNT|unix.MS_BIND|unix.MS_RDONLY|unix.MS_REC, ""); err != nil {
			return fmt.Errorf("making %s read-only: %w", m.Target, err)
		}
	}
	return nil
}

// pivot makes root the root file system and drops the host's.
func pivot(root string) error {
	old := filepath.Join(root, ".host")
	if err := os.Mkdir(old, 0o700); err != nil {
		return err
	}
	if err := unix.PivotRoot(root, old); err != nil {
		return fmt.Errorf("pivot_root: %w", err)
	}
	if err := os.Chdir("/"); err != nil {
		return err
	}
	if err := unix.Unmount("/.host", unix.MNT_DETACH); err != nil {
		return fmt.Errorf("detaching the host's root: %w", err)
	}
	return os.Remove("/.host")
}

// Command returns the argv that runs Init for a spec file with the sandbox
// binary bin.
func Command(bin, specPath string) []string {
	return []string{bin, InitCommand, specPath}
}

// IsInit reports whether args (os.Args) ask for Init, and the spec path.
func IsInit(args []string) (string, bool) {
	if len(args) == 3 && args[1] == InitCommand && !strings.HasPrefix(args[2], "-") {
		return args[2], true
	}
	return "", false
}
