package guest

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"strings"
	"time"
	"unicode/utf8"

	"k8s.io/utils/clock"
)

// The guest's kernel, as a Fedora 41 cloud image would report it.
const (
	kernelRelease = "6.11.4-301.fc41.x86_64"
	kernelVersion = "#1 SMP PREEMPT_DYNAMIC Sun Oct 20 15:02:33 UTC 2024"
	shellUser     = "fedora"
)

// maxLine bounds a typed line the way the kernel's line discipline does
// (4095 bytes), so a client streaming garbage cannot grow memory unbounded.
const maxLine = 4095

// Control bytes a serial terminal sends.
const (
	ctrlC     = 0x03
	ctrlD     = 0x04
	backspace = 0x08
	ctrlU     = 0x15
	escape    = 0x1b
	del       = 0x7f
)

// Serve runs a console session on rw as a freshly booted VM shows it on
// ttyS0: the issue banner and a login prompt, then a shell once any user
// name and password are typed. It returns nil when the peer closes rw,
// ctx's error when ctx ends, and otherwise the I/O error that ended it.
// rw is read and written like a raw serial line: the guest echoes what is
// typed (but not passwords), and \r or \n is Enter.
func Serve(ctx context.Context, rw io.ReadWriter, info func() Info, clk clock.PassiveClock) error {
	return serveConsole(ctx, rw, info, clk, stateLogin)
}

// ServeLoggedIn is Serve for scripted access: the session starts at the
// shell prompt, as if someone had already logged in. `exit` still leads to
// the login prompt, as on the real console.
func ServeLoggedIn(ctx context.Context, rw io.ReadWriter, info func() Info, clk clock.PassiveClock) error {
	return serveConsole(ctx, rw, info, clk, stateShell)
}

type consoleState int

const (
	stateLogin consoleState = iota
	statePassword
	stateShell
)

// console is one session's line discipline plus shell. Output is gathered
// in out and written once no typed input is pending, so pasting a command
// costs one write instead of one per echoed byte.
type console struct {
	in    *bufio.Reader
	w     io.Writer
	out   bytes.Buffer
	info  func() Info
	clock clock.PassiveClock

	state  consoleState
	line   []byte
	prevCR bool // the last byte was \r, so a following \n is the same Enter
	esc    int  // progress through an escape sequence being swallowed
}

func serveConsole(ctx context.Context, rw io.ReadWriter, info func() Info, clk clock.PassiveClock, start consoleState) error {
	defer interruptOnDone(ctx, rw)()
	c := &console{in: bufio.NewReader(rw), w: rw, info: info, clock: clk, state: start}
	if in := c.currentInfo(); in.Panic != "" {
		// A guest that cannot mount its root disk: the boot log ends in a
		// panic and the line stays dead, whatever is typed.
		fmt.Fprintf(rw, "\r\nKernel panic - not syncing: %s\r\n---[ end Kernel panic - not syncing: %s ]---\r\n", in.Panic, in.Panic)
		_, err := io.Copy(io.Discard, rw)
		return sessionResult(ctx, err)
	}
	if start == stateShell {
		c.out.WriteString("\r\n")
		c.prompt()
	} else {
		c.banner()
	}
	return sessionResult(ctx, c.run(ctx))
}

func (c *console) run(ctx context.Context) error {
	for {
		if c.in.Buffered() == 0 && c.out.Len() > 0 {
			if _, err := c.w.Write(c.out.Bytes()); err != nil {
				return fmt.Errorf("serial console: write: %w", err)
			}
			c.out.Reset()
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		b, err := c.in.ReadByte()
		if err != nil {
			return fmt.Errorf("serial console: read: %w", err)
		}
		c.input(b)
	}
}

// input applies one typed byte, as a terminal in canonical mode would.
func (c *console) input(b byte) {
	prevCR := c.prevCR
	c.prevCR = b == '\r'
	if c.esc > 0 {
		c.escapeSequence(b)
		return
	}
	switch {
	case b == '\n' && prevCR:
		// Terminals that send CRLF for Enter must not get two prompts.
	case b == '\r' || b == '\n':
		c.enter()
	case b == del || b == backspace:
		c.erase(1)
	case b == ctrlU:
		c.erase(len(c.line))
	case b == ctrlC:
		c.interrupt()
	case b == ctrlD && len(c.line) == 0 && c.state == stateShell:
		c.logout()
	case b == escape:
		c.esc = 1
	case b < 0x20:
		// Other control characters do nothing at a bash prompt either.
	case len(c.line) < maxLine:
		c.line = append(c.line, b)
		if c.state != statePassword {
			c.out.WriteByte(b)
		}
	}
}

// escapeSequence swallows the ESC [ ... or ESC O x sequences that arrow and
// function keys send, so they do not end up as text in the command line.
func (c *console) escapeSequence(b byte) {
	switch {
	case c.esc == 1 && (b == '[' || b == 'O'):
		c.esc = 2
	case c.esc == 2 && (b < 0x40 || b > 0x7e):
		// A parameter or intermediate byte: the sequence goes on.
	default:
		c.esc = 0
	}
}

// erase removes up to n characters from the end of the line and from the
// screen, one whole UTF-8 character at a time.
func (c *console) erase(n int) {
	for ; n > 0 && len(c.line) > 0; n-- {
		_, size := utf8.DecodeLastRune(c.line)
		c.line = c.line[:len(c.line)-size]
		if c.state != statePassword {
			c.out.WriteString("\b \b")
		}
	}
}

func (c *console) interrupt() {
	c.line = c.line[:0]
	c.out.WriteString("^C\r\n")
	if c.state == stateShell {
		c.prompt()
		return
	}
	c.state = stateLogin
	c.loginPrompt()
}

func (c *console) enter() {
	line := string(c.line)
	c.line = c.line[:0]
	c.out.WriteString("\r\n")
	switch c.state {
	case stateLogin:
		if strings.TrimSpace(line) == "" {
			c.loginPrompt() // as agetty does: ask again
			return
		}
		c.state = statePassword
		c.out.WriteString("Password: ")
	case statePassword:
		// Any password will do: the sandbox guards access elsewhere.
		c.state = stateShell
		c.prompt()
	case stateShell:
		c.exec(line)
		if c.state == stateShell {
			c.prompt()
		}
	}
}

func (c *console) banner() {
	in := c.currentInfo()
	// The simulated disk is always a cloud image, hence the edition.
	fmt.Fprintf(&c.out, "\r\n%s (Cloud Edition)\r\nKernel %s on an x86_64 (ttyS0)\r\n\r\n", in.OS, kernelRelease)
	c.loginPrompt()
}

func (c *console) loginPrompt() {
	fmt.Fprintf(&c.out, "%s login: ", c.currentInfo().Hostname)
}

func (c *console) prompt() {
	fmt.Fprintf(&c.out, "[%s@%s ~]$ ", shellUser, c.currentInfo().Hostname)
}

func (c *console) logout() {
	c.out.WriteString("logout\r\n")
	c.state = stateLogin
	c.banner()
}

func (c *console) currentInfo() Info {
	if c.info == nil {
		return Info{}.normalized()
	}
	return c.info().normalized()
}

// print writes s to the terminal, turning each \n into the \r\n a serial
// line needs.
func (c *console) print(s string) {
	c.out.WriteString(strings.ReplaceAll(s, "\n", "\r\n"))
}

// exec runs one shell command line.
func (c *console) exec(line string) {
	args := strings.Fields(line)
	if len(args) == 0 {
		return
	}
	in := c.currentInfo()
	switch args[0] {
	case "echo":
		c.print(strings.Join(args[1:], " ") + "\n")
	case "hostname":
		c.print(in.Hostname + "\n")
	case "nproc":
		c.print(fmt.Sprintf("%d\n", in.CPUs))
	case "uptime":
		c.print(formatUptime(c.clock.Now(), in.Boot) + "\n")
	case "uname":
		c.print(uname(in, args[1:]))
	case "free":
		c.print(formatFree(in.MemoryMiB, args[1:]))
	case "cat":
		c.cat(in, args[1:])
	case "lsusb":
		c.print(lsusb(in.HostUSB, in.USB))
	case "exit", "logout":
		c.logout()
	default:
		c.print(fmt.Sprintf("-bash: %s: command not found\n", args[0]))
	}
}

// cat knows the few files people look at on a fresh VM.
func (c *console) cat(in Info, files []string) {
	for _, f := range files {
		switch f {
		case "/proc/cpuinfo":
			c.print(cpuinfo(in.CPUs))
		case "/etc/hostname":
			c.print(in.Hostname + "\n")
		default:
			c.print(fmt.Sprintf("cat: %s: No such file or directory\n", f))
		}
	}
}

// formatUptime renders the line procps' uptime prints, with a fixed, idle
// load average. The clock is shown in UTC, as cloud images are set up.
func formatUptime(now, boot time.Time) string {
	up := now.Sub(boot)
	if boot.IsZero() || up < 0 {
		up = 0
	}
	mins := int(up / time.Minute)
	days, hours, mins := mins/(24*60), mins/60%24, mins%60
	var b strings.Builder
	fmt.Fprintf(&b, " %s up ", now.UTC().Format("15:04:05"))
	if days > 0 {
		fmt.Fprintf(&b, "%d day%s, ", days, plural(days))
	}
	if hours > 0 {
		fmt.Fprintf(&b, "%2d:%02d, ", hours, mins)
	} else {
		fmt.Fprintf(&b, "%d min, ", mins)
	}
	b.WriteString(" 1 user,  load average: 0.00, 0.01, 0.05")
	return b.String()
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}

// uname answers the common flags; anything else gets the -a line.
func uname(in Info, flags []string) string {
	flag := "-s"
	if len(flags) > 0 {
		flag = flags[0]
	}
	switch flag {
	case "-s":
		return "Linux\n"
	case "-n":
		return in.Hostname + "\n"
	case "-r":
		return kernelRelease + "\n"
	case "-m":
		return "x86_64\n"
	}
	return fmt.Sprintf("Linux %s %s %s x86_64 GNU/Linux\n", in.Hostname, kernelRelease, kernelVersion)
}

// cpuinfo renders /proc/cpuinfo with one block per vCPU. Each vCPU is a
// socket of its own, as KubeVirt lays them out when CPU hotplug is enabled.
func cpuinfo(cpus int) string {
	var b strings.Builder
	for i := range cpus {
		fmt.Fprintf(&b, "processor\t: %d\n", i)
		b.WriteString("vendor_id\t: GenuineIntel\ncpu family\t: 6\nmodel\t\t: 85\n" +
			"model name\t: Intel Xeon Processor (Cascadelake)\nstepping\t: 6\n" +
			"cpu MHz\t\t: 2194.842\ncache size\t: 16384 KB\n")
		fmt.Fprintf(&b, "physical id\t: %d\nsiblings\t: 1\ncore id\t\t: 0\ncpu cores\t: 1\napicid\t\t: %d\n", i, i)
		b.WriteString("fpu\t\t: yes\nflags\t\t: fpu vme de pse tsc msr pae mce cx8 apic sep mtrr pge mca cmov " +
			"pat pse36 clflush mmx fxsr sse sse2 ss syscall nx pdpe1gb rdtscp lm constant_tsc " +
			"rep_good nopl cpuid pni pclmulqdq ssse3 fma cx16 sse4_1 sse4_2 x2apic movbe popcnt " +
			"aes xsave avx f16c rdrand hypervisor lahf_lm abm avx2 avx512f avx512dq avx512bw avx512vl\n" +
			"bogomips\t: 4389.68\naddress sizes\t: 46 bits physical, 48 bits virtual\n\n")
	}
	return b.String()
}

// formatFree renders free(1) for a guest with memMiB of RAM. The numbers are
// made up but consistent: the kernel keeps a little, a booted Fedora uses a
// couple hundred MiB, and swap is the zram device Fedora sizes like RAM.
func formatFree(memMiB int64, flags []string) string {
	total := memMiB * 97 / 100
	used := min(180+total/20, total/2)
	cache := min(total/8, total-used)
	free := total - used - cache
	swap := min(total, 8192)
	stats := []int64{total, used, free, 1, cache, free + cache*3/4, swap, 0, swap}
	if total == 0 {
		stats[3] = 0
	}
	scale := func(mib int64) int64 { return mib * 1024 } // free's default unit is KiB
	if len(flags) > 0 {
		switch flags[0] {
		case "-m", "--mebi":
			scale = func(mib int64) int64 { return mib }
		case "-g", "--gibi":
			scale = func(mib int64) int64 { return mib / 1024 }
		}
	}
	for i := range stats {
		stats[i] = scale(stats[i])
	}
	return fmt.Sprintf("%-8s%12s%12s%12s%12s%12s%12s\n", "", "total", "used", "free", "shared", "buff/cache", "available") +
		fmt.Sprintf("%-8s%12d%12d%12d%12d%12d%12d\n", "Mem:", stats[0], stats[1], stats[2], stats[3], stats[4], stats[5]) +
		fmt.Sprintf("%-8s%12d%12d%12d\n", "Swap:", stats[6], stats[7], stats[8])
}
