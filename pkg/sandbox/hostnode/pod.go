package hostnode

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/klog/v2"
	"k8s.io/utils/ptr"

	"github.com/hypersdk/hypersdk/pkg/sandbox/container"
	"github.com/hypersdk/hypersdk/pkg/sandbox/process"
)

// Started records what one container was started with, for tests that
// compare it with the manifest.
type Started struct {
	Pod, Container string
	Image          string
	Argv           []string
	Env            []string
	Mounts         []container.Mount
	UID, GID       int
	ReadOnlyRoot   bool
}

// podWorker runs one pod until it is deleted.
type podWorker struct {
	n         *Node
	uid       types.UID
	namespace string
	name      string
	dir       string
	ip        netip.Addr
	started   metav1.Time
	tokens    map[string]token
	runs      map[string]*run
	pushed    *corev1.PodStatus
	waiting   string // why containers cannot start yet
	vols      map[string]volume
	volsAt    time.Time
	hostsFile string
	resolv    string
}

// run is one container of a pod.
type run struct {
	spec      corev1.Container
	proc      *process.Process
	startedAt metav1.Time
	restarts  int32
	lastExit  *corev1.ContainerStateTerminated
	notBefore time.Time // restart back-off
	configErr string
	ready     bool
	readiness probeState
	liveness  probeState
}

type probeState struct {
	next      time.Time
	successes int32
	failures  int32
}

func newPodWorker(n *Node, pod *corev1.Pod) *podWorker {
	return &podWorker{n: n, uid: pod.UID, namespace: pod.Namespace, name: pod.Name, dir: n.podDir(pod),
		started: metav1.Now(), tokens: map[string]token{}, runs: map[string]*run{}}
}

func (w *podWorker) run(ctx context.Context) {
	logger := klog.FromContext(ctx).WithValues("pod", klog.KRef(w.namespace, w.name))
	ctx = klog.NewContext(ctx, logger)
	ip, err := w.n.ips.take()
	if err != nil {
		logger.Error(err, "No address for the pod")
		return
	}
	w.ip = ip
	defer w.n.ips.release(ip)
	defer os.RemoveAll(w.dir)
	logger.Info("Running pod", "ip", ip)
	for {
		pod := w.n.pod(w.namespace, w.name, w.uid)
		switch {
		case ctx.Err() != nil:
			w.stopAll(5 * time.Second)
			return
		case pod == nil:
			w.stopAll(0)
			return
		case pod.DeletionTimestamp != nil:
			w.terminate(ctx, pod)
			return
		}
		pod = pod.DeepCopy()
		pod.Status.PodIP = w.ip.String()
		w.sync(ctx, pod)
		select {
		case <-ctx.Done():
		case <-time.After(500 * time.Millisecond):
		}
	}
}

// volumeRefresh is how often the volumes of a running pod are made again
// (new Secret or ConfigMap content, a renewed token), as kubelet's sync.
const volumeRefresh = 5 * time.Second

// sync takes one step: volumes, name files, containers, probes, status.
func (w *podWorker) sync(ctx context.Context, pod *corev1.Pod) {
	var err error
	if w.vols == nil || w.waiting != "" || time.Since(w.volsAt) > volumeRefresh {
		if w.vols, err = w.volumes(ctx, pod); err == nil {
			w.volsAt = time.Now()
		}
	}
	vols := w.vols
	if err != nil {
		w.waiting = err.Error()
	} else {
		w.waiting = ""
		if err := w.writeNameFiles(pod); err != nil {
			w.waiting = err.Error()
		}
	}
	for i := range pod.Spec.Containers {
		c := &pod.Spec.Containers[i]
		r, ok := w.runs[c.Name]
		if !ok {
			r = &run{spec: *c}
			w.runs[c.Name] = r
		}
		r.reap()
		if r.proc == nil && w.waiting == "" && time.Now().After(r.notBefore) {
			if err := w.start(ctx, pod, r, vols); err != nil {
				r.configErr = err.Error()
				r.notBefore = time.Now().Add(5 * time.Second)
				klog.FromContext(ctx).Error(err, "Starting container", "container", c.Name)
			}
		}
		w.probe(ctx, pod, r)
	}
	w.pushStatus(ctx, pod)
}

// writeNameFiles writes the pod's /etc/hosts and /etc/resolv.conf in place
// (they are bound into running containers).
func (w *podWorker) writeNameFiles(pod *corev1.Pod) error {
	services, err := w.n.services.List(everything)
	if err != nil {
		return err
	}
	pods, err := w.n.pods.List(everything)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(w.dir, 0o755); err != nil {
		return err
	}
	w.hostsFile, w.resolv = filepath.Join(w.dir, "hosts"), filepath.Join(w.dir, "resolv.conf")
	for path, content := range map[string]string{w.hostsFile: hostsFile(pod, services, pods), w.resolv: resolvConf(pod.Namespace)} {
		if old, err := os.ReadFile(path); err == nil && string(old) == content {
			continue
		}
		f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o644)
		if err != nil {
			return err
		}
		_, err = f.WriteString(content)
		if closeErr := f.Close(); err == nil {
			err = closeErr
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// start starts a container's process in its own root, as its image and
// security context say.
func (w *podWorker) start(ctx context.Context, pod *corev1.Pod, r *run, vols map[string]volume) error {
	c := &r.spec
	repo := imageRepository(c.Image)
	img, ok := w.n.cfg.Images[repo]
	if !ok {
		return fmt.Errorf("image %s is not one this node can run", c.Image)
	}
	env, vars, err := w.environment(ctx, pod, c, img)
	if err != nil {
		return err
	}
	args, err := argv(c, img, vars)
	if err != nil {
		return err
	}
	uid, gid, groups, err := identity(pod, c, img)
	if err != nil {
		return err
	}
	var mounts []container.Mount
	for _, m := range c.VolumeMounts {
		v, ok := vols[m.Name]
		if !ok {
			return fmt.Errorf("volume mount %s: no volume %s", m.MountPath, m.Name)
		}
		src := v.dir
		if m.SubPath != "" {
			src = filepath.Join(src, m.SubPath)
		}
		mounts = append(mounts, container.Mount{Source: src, Target: m.MountPath, ReadOnly: m.ReadOnly || v.readOnly})
	}
	sc := c.SecurityContext
	root := filepath.Join(w.dir, "roots", c.Name)
	if err := os.MkdirAll(root, 0o755); err != nil {
		return err
	}
	spec := &container.Spec{
		Root: root, Hostname: hostname(pod), Binary: img.Binary, Path: img.Path,
		Args: args, Env: env, WorkingDir: c.WorkingDir, Hosts: w.hostsFile, Resolv: w.resolv, Mounts: mounts,
		UID: uid, GID: gid, Groups: groups,
		ReadOnlyRoot:    sc != nil && ptr.Deref(sc.ReadOnlyRootFilesystem, false),
		NoNewPrivileges: sc != nil && sc.AllowPrivilegeEscalation != nil && !*sc.AllowPrivilegeEscalation,
	}
	// The binary the image runs is the first argument resolved to its path.
	if filepath.IsAbs(args[0]) {
		spec.Path = args[0]
	}
	specFile := filepath.Join(w.dir, c.Name+".container.json")
	if err := spec.Write(specFile); err != nil {
		return err
	}
	name := fmt.Sprintf("%s_%s_%s", pod.Namespace, pod.Name, c.Name)
	proc, err := process.StartWith(name, w.n.cfg.LogDir, w.n.cfg.SandboxBin, []string{container.InitCommand, specFile},
		process.Options{Cloneflags: syscall.CLONE_NEWNS | syscall.CLONE_NEWUTS})
	if err != nil {
		return err
	}
	r.proc, r.startedAt, r.configErr, r.ready = proc, metav1.Now(), "", false
	r.readiness, r.liveness = probeState{}, probeState{}
	w.n.record(Started{Pod: pod.Namespace + "/" + pod.Name, Container: c.Name, Image: c.Image, Argv: args, Env: env,
		Mounts: mounts, UID: uid, GID: gid, ReadOnlyRoot: spec.ReadOnlyRoot})
	klog.FromContext(ctx).V(2).Info("Started container", "container", c.Name, "argv", args)
	return nil
}

// imageRepository is an image reference without tag or digest.
func imageRepository(image string) string {
	if i := strings.Index(image, "@"); i >= 0 {
		image = image[:i]
	}
	if i := strings.LastIndex(image, ":"); i > strings.LastIndex(image, "/") {
		image = image[:i]
	}
	return image
}

// identity is the user and groups a container runs as; a container that
// must not run as root but would is refused, as kubelet refuses it.
func identity(pod *corev1.Pod, c *corev1.Container, img Image) (uid, gid int, groups []int, err error) {
	psc := pod.Spec.SecurityContext
	if psc == nil {
		psc = &corev1.PodSecurityContext{}
	}
	csc := c.SecurityContext
	if csc == nil {
		csc = &corev1.SecurityContext{}
	}
	u := ptr.Deref(csc.RunAsUser, ptr.Deref(psc.RunAsUser, img.User))
	g := ptr.Deref(csc.RunAsGroup, ptr.Deref(psc.RunAsGroup, u))
	nonRoot := ptr.Deref(csc.RunAsNonRoot, ptr.Deref(psc.RunAsNonRoot, false))
	if nonRoot && u == 0 {
		return 0, 0, nil, errors.New("container has runAsNonRoot and would run as root")
	}
	if psc.FSGroup != nil {
		groups = append(groups, int(*psc.FSGroup))
	}
	for _, sg := range psc.SupplementalGroups {
		groups = append(groups, int(sg))
	}
	return int(u), int(g), groups, nil
}

// reap notices a container that exited and schedules its restart with a
// back-off (restartPolicy Always, the policy of every workload here).
func (r *run) reap() {
	if r.proc == nil {
		return
	}
	select {
	case <-r.proc.Exited():
	default:
		return
	}
	code := int32(0)
	var exit *exec.ExitError
	if errors.As(r.proc.Err(), &exit) {
		code = int32(exit.ExitCode())
	} else if r.proc.Err() != nil {
		code = 128
	}
	r.lastExit = &corev1.ContainerStateTerminated{ExitCode: code, Reason: exitReason(code), StartedAt: r.startedAt, FinishedAt: metav1.Now()}
	r.proc, r.ready = nil, false
	r.restarts++
	r.notBefore = time.Now().Add(min(time.Second<<min(r.restarts, 5), 20*time.Second))
}

func exitReason(code int32) string {
	if code == 0 {
		return "Completed"
	}
	return "Error"
}

// probe runs the container's readiness and liveness probes when due.
func (w *podWorker) probe(ctx context.Context, pod *corev1.Pod, r *run) {
	if r.proc == nil {
		return
	}
	now := time.Now()
	if p := r.spec.ReadinessProbe; p == nil {
		r.ready = true
	} else if ok, due := w.check(ctx, pod, r, p, &r.readiness, now); due {
		if ok && r.readiness.successes >= max(p.SuccessThreshold, 1) {
			r.ready = true
		} else if !ok && r.readiness.failures >= max(p.FailureThreshold, 3) {
			r.ready = false
		}
	}
	if p := r.spec.LivenessProbe; p != nil {
		if ok, due := w.check(ctx, pod, r, p, &r.liveness, now); due && !ok && r.liveness.failures >= max(p.FailureThreshold, 3) {
			klog.FromContext(ctx).Info("Liveness probe failed; restarting", "container", r.spec.Name)
			r.proc.Stop(time.Duration(ptr.Deref(pod.Spec.TerminationGracePeriodSeconds, 30)) * time.Second)
		}
	}
}

// check runs probe p if it is due, and says whether it was and passed.
func (w *podWorker) check(ctx context.Context, pod *corev1.Pod, r *run, p *corev1.Probe, st *probeState, now time.Time) (ok, due bool) {
	if st.next.IsZero() {
		st.next = r.startedAt.Add(time.Duration(p.InitialDelaySeconds) * time.Second)
	}
	if now.Before(st.next) {
		return false, false
	}
	st.next = now.Add(time.Duration(max(p.PeriodSeconds, 1)) * time.Second)
	timeout := time.Duration(max(p.TimeoutSeconds, 1)) * time.Second
	err := w.runProbe(ctx, pod, &r.spec, p, timeout)
	if err == nil {
		st.successes, st.failures = st.successes+1, 0
		return true, true
	}
	st.successes, st.failures = 0, st.failures+1
	klog.FromContext(ctx).V(3).Info("Probe failed", "container", r.spec.Name, "err", err)
	return false, true
}

func (w *podWorker) runProbe(ctx context.Context, pod *corev1.Pod, c *corev1.Container, p *corev1.Probe, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	host := w.ip.String()
	switch {
	case p.HTTPGet != nil:
		g := p.HTTPGet
		port, err := probePort(c, g.Port)
		if err != nil {
			return err
		}
		if g.Host != "" {
			host = g.Host
		}
		scheme := strings.ToLower(string(g.Scheme))
		if scheme == "" {
			scheme = "http"
		}
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, scheme+"://"+net.JoinHostPort(host, strconv.Itoa(port))+g.Path, nil)
		if err != nil {
			return err
		}
		// kubelet does not verify the serving certificate of a probe.
		client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}} //nolint:gosec
		defer client.CloseIdleConnections()
		resp, err := client.Do(req)
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode < 200 || resp.StatusCode >= 400 {
			return fmt.Errorf("HTTP %d", resp.StatusCode)
		}
		return nil
	case p.TCPSocket != nil:
		port, err := probePort(c, p.TCPSocket.Port)
		if err != nil {
			return err
		}
		conn, err := (&net.Dialer{}).DialContext(ctx, "tcp", net.JoinHostPort(host, strconv.Itoa(port)))
		if err != nil {
			return err
		}
		return conn.Close()
	}
	return errors.New("only httpGet and tcpSocket probes are supported by the sandbox's host node")
}

func probePort(c *corev1.Container, port intstr.IntOrString) (int, error) {
	if port.Type == intstr.Int {
		return int(port.IntVal), nil
	}
	for _, cp := range c.Ports {
		if cp.Name == port.StrVal {
			return int(cp.ContainerPort), nil
		}
	}
	return 0, fmt.Errorf("no container port named %s", port.StrVal)
}

// pushStatus writes the pod's status when it changed.
func (w *podWorker) pushStatus(ctx context.Context, pod *corev1.Pod) {
	st := w.status(pod)
	if w.pushed != nil && equality.Semantic.DeepEqual(*w.pushed, st) {
		return
	}
	latest, err := w.n.cfg.Kube.CoreV1().Pods(w.namespace).Get(ctx, w.name, metav1.GetOptions{})
	if err != nil || latest.UID != w.uid {
		return
	}
	st.QOSClass = latest.Status.QOSClass
	latest.Status = st
	if _, err := w.n.cfg.Kube.CoreV1().Pods(w.namespace).UpdateStatus(ctx, latest, metav1.UpdateOptions{}); err != nil {
		klog.FromContext(ctx).V(2).Info("Writing pod status", "err", err)
		return
	}
	w.pushed = &st
}

func (w *podWorker) status(pod *corev1.Pod) corev1.PodStatus {
	st := corev1.PodStatus{
		Phase:     corev1.PodPending,
		HostIP:    "127.0.0.1",
		HostIPs:   []corev1.HostIP{{IP: "127.0.0.1"}},
		PodIP:     w.ip.String(),
		PodIPs:    []corev1.PodIP{{IP: w.ip.String()}},
		StartTime: &w.started,
		QOSClass:  pod.Status.QOSClass,
	}
	allReady, allStarted := true, true
	for _, c := range pod.Spec.Containers {
		r := w.runs[c.Name]
		cs := corev1.ContainerStatus{Name: c.Name, Image: c.Image, ImageID: "sandbox://" + imageRepository(c.Image)}
		switch {
		case r != nil && r.proc != nil:
			cs.State.Running = &corev1.ContainerStateRunning{StartedAt: r.startedAt}
			cs.ContainerID = "sandbox://" + strconv.Itoa(r.proc.Pid())
			cs.Ready, cs.Started = r.ready, ptr.To(true)
		case r != nil && r.configErr != "":
			cs.State.Waiting = &corev1.ContainerStateWaiting{Reason: "CreateContainerConfigError", Message: r.configErr}
		case r != nil && r.lastExit != nil:
			cs.State.Waiting = &corev1.ContainerStateWaiting{Reason: "CrashLoopBackOff",
				Message: fmt.Sprintf("back-off restarting %s, exit code %d", c.Name, r.lastExit.ExitCode)}
		default:
			cs.State.Waiting = &corev1.ContainerStateWaiting{Reason: "ContainerCreating", Message: w.waiting}
		}
		if r != nil {
			cs.RestartCount = r.restarts
			if r.lastExit != nil {
				cs.LastTerminationState.Terminated = r.lastExit
			}
		}
		allReady = allReady && cs.Ready
		allStarted = allStarted && cs.State.Running != nil
		st.ContainerStatuses = append(st.ContainerStatuses, cs)
	}
	if allStarted {
		st.Phase = corev1.PodRunning
	}
	cond := func(t corev1.PodConditionType, ok bool) corev1.PodCondition {
		s := corev1.ConditionFalse
		if ok {
			s = corev1.ConditionTrue
		}
		return corev1.PodCondition{Type: t, Status: s}
	}
	st.Conditions = []corev1.PodCondition{cond(corev1.PodScheduled, true), cond(corev1.PodInitialized, true),
		cond(corev1.PodReadyToStartContainers, w.waiting == ""), cond(corev1.ContainersReady, allReady), cond(corev1.PodReady, allReady)}
	// Keep transition times stable: the same as last pushed for the same status.
	for i := range st.Conditions {
		st.Conditions[i].LastTransitionTime = transitionTime(w.pushed, st.Conditions[i])
	}
	return st
}

func transitionTime(prev *corev1.PodStatus, c corev1.PodCondition) metav1.Time {
	if prev != nil {
		for _, p := range prev.Conditions {
			if p.Type == c.Type && p.Status == c.Status {
				return p.LastTransitionTime
			}
		}
	}
	return metav1.NewTime(time.Now().Truncate(time.Second))
}

// terminate ends a deleted pod as kubelet does: SIGTERM, its grace period,
// SIGKILL, and then the final delete of the pod object.
func (w *podWorker) terminate(ctx context.Context, pod *corev1.Pod) {
	grace := time.Duration(ptr.Deref(pod.DeletionGracePeriodSeconds, ptr.Deref(pod.Spec.TerminationGracePeriodSeconds, 30))) * time.Second
	w.stopAll(grace)
	err := w.n.cfg.Kube.CoreV1().Pods(w.namespace).Delete(ctx, w.name, metav1.DeleteOptions{
		GracePeriodSeconds: ptr.To[int64](0), Preconditions: &metav1.Preconditions{UID: &w.uid}})
	if err != nil && !apierrors.IsNotFound(err) && !apierrors.IsConflict(err) {
		klog.FromContext(ctx).Error(err, "Deleting terminated pod")
	}
	klog.FromContext(ctx).Info("Pod terminated")
}

func (w *podWorker) stopAll(grace time.Duration) {
	var procs []*process.Process
	for _, r := range w.runs {
		if r.proc != nil {
			procs = append(procs, r.proc)
		}
	}
	process.StopAll(procs, grace)
}
