package hostnode

import (
	"context"
	"fmt"
	"path"
	"sort"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// fieldValue resolves a downward API field of pod, as kubelet does for
// environment variables and downwardAPI volumes.
func fieldValue(pod *corev1.Pod, fieldPath string) (string, error) {
	switch fieldPath {
	case "metadata.name":
		return pod.Name, nil
	case "metadata.namespace":
		return pod.Namespace, nil
	case "metadata.uid":
		return string(pod.UID), nil
	case "metadata.labels":
		return formatMap(pod.Labels), nil
	case "metadata.annotations":
		return formatMap(pod.Annotations), nil
	case "spec.nodeName":
		return pod.Spec.NodeName, nil
	case "spec.serviceAccountName":
		return pod.Spec.ServiceAccountName, nil
	case "status.hostIP", "status.hostIPs":
		return "127.0.0.1", nil
	case "status.podIP", "status.podIPs":
		return pod.Status.PodIP, nil
	}
	for prefix, m := range map[string]map[string]string{"metadata.labels['": pod.Labels, "metadata.annotations['": pod.Annotations} {
		if key, ok := strings.CutPrefix(fieldPath, prefix); ok {
			return m[strings.TrimSuffix(key, "']")], nil
		}
	}
	return "", fmt.Errorf("field %q is not supported by the sandbox's host node", fieldPath)
}

func formatMap(m map[string]string) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	for _, k := range keys {
		fmt.Fprintf(&b, "%s=%q\n", k, m[k])
	}
	return b.String()
}

// resourceValue resolves a resourceFieldRef of a container.
func resourceValue(c *corev1.Container, ref *corev1.ResourceFieldSelector) (string, error) {
	var q resource.Quantity
	switch ref.Resource {
	case "limits.cpu":
		q = c.Resources.Limits[corev1.ResourceCPU]
	case "limits.memory":
		q = c.Resources.Limits[corev1.ResourceMemory]
	case "requests.cpu":
		q = c.Resources.Requests[corev1.ResourceCPU]
	case "requests.memory":
		q = c.Resources.Requests[corev1.ResourceMemory]
	default:
		return "", fmt.Errorf("resource %q is not supported by the sandbox's host node", ref.Resource)
	}
	divisor := resource.MustParse("1")
	if !ref.Divisor.IsZero() {
		divisor = ref.Divisor
	}
	// Rounded up, as kubelet does (a CPU limit of 100m is "1").
	v := (q.MilliValue() + divisor.MilliValue() - 1) / divisor.MilliValue()
	return strconv.FormatInt(v, 10), nil
}

// environment is a container's environment as kubelet makes it: the
// image's, then the kubernetes Service's variables (and every Service's of
// the namespace unless enableServiceLinks is false), then the container's
// own in order, each able to refer to those before it with $(NAME).
func (w *podWorker) environment(ctx context.Context, pod *corev1.Pod, c *corev1.Container, img Image) ([]string, map[string]string, error) {
	var order []string
	vars := map[string]string{}
	set := func(k, v string) {
		if _, ok := vars[k]; !ok {
			order = append(order, k)
		}
		vars[k] = v
	}
	for _, kv := range img.Env {
		k, v, _ := strings.Cut(kv, "=")
		set(k, v)
	}
	set("HOSTNAME", hostname(pod))
	if ip := w.n.proxy.clusterIP(metav1.NamespaceDefault, "kubernetes"); ip != "" {
		for k, v := range serviceVars("kubernetes", ip, []corev1.ServicePort{{Name: "https", Port: 443, Protocol: corev1.ProtocolTCP}}) {
			set(k, v)
		}
	}
	if pod.Spec.EnableServiceLinks == nil || *pod.Spec.EnableServiceLinks {
		services, err := w.n.services.Services(pod.Namespace).List(everything)
		if err != nil {
			return nil, nil, err
		}
		for _, svc := range services {
			if svc.Spec.ClusterIP != "" && svc.Spec.ClusterIP != corev1.ClusterIPNone {
				for k, v := range serviceVars(svc.Name, svc.Spec.ClusterIP, svc.Spec.Ports) {
					set(k, v)
				}
			}
		}
	}
	for _, from := range c.EnvFrom {
		data, err := w.sourceData(ctx, pod.Namespace, from.ConfigMapRef, from.SecretRef)
		if err != nil {
			return nil, nil, err
		}
		for k, v := range data {
			set(from.Prefix+k, v)
		}
	}
	for _, e := range c.Env {
		v, err := w.envValue(ctx, pod, c, e, vars)
		if err != nil {
			return nil, nil, fmt.Errorf("env %s: %w", e.Name, err)
		}
		set(e.Name, v)
	}
	env := make([]string, 0, len(order))
	for _, k := range order {
		env = append(env, k+"="+vars[k])
	}
	return env, vars, nil
}

func (w *podWorker) envValue(ctx context.Context, pod *corev1.Pod, c *corev1.Container, e corev1.EnvVar, vars map[string]string) (string, error) {
	from := e.ValueFrom
	switch {
	case from == nil:
		return expand(e.Value, vars), nil
	case from.FieldRef != nil:
		return fieldValue(pod, from.FieldRef.FieldPath)
	case from.ResourceFieldRef != nil:
		return resourceValue(c, from.ResourceFieldRef)
	case from.ConfigMapKeyRef != nil:
		ref := from.ConfigMapKeyRef
		cm, err := w.n.cfg.Kube.CoreV1().ConfigMaps(pod.Namespace).Get(ctx, ref.Name, metav1.GetOptions{})
		if err != nil {
			return "", err
		}
		return cm.Data[ref.Key], nil
	case from.SecretKeyRef != nil:
		ref := from.SecretKeyRef
		s, err := w.n.cfg.Kube.CoreV1().Secrets(pod.Namespace).Get(ctx, ref.Name, metav1.GetOptions{})
		if err != nil {
			return "", err
		}
		return string(s.Data[ref.Key]), nil
	}
	return "", fmt.Errorf("unsupported value source")
}

func (w *podWorker) sourceData(ctx context.Context, ns string, cm *corev1.ConfigMapEnvSource, s *corev1.SecretEnvSource) (map[string]string, error) {
	out := map[string]string{}
	if cm != nil {
		obj, err := w.n.cfg.Kube.CoreV1().ConfigMaps(ns).Get(ctx, cm.Name, metav1.GetOptions{})
		if err != nil {
			return nil, err
		}
		for k, v := range obj.Data {
			out[k] = v
		}
	}
	if s != nil {
		obj, err := w.n.cfg.Kube.CoreV1().Secrets(ns).Get(ctx, s.Name, metav1.GetOptions{})
		if err != nil {
			return nil, err
		}
		for k, v := range obj.Data {
			out[k] = string(v)
		}
	}
	return out, nil
}

// serviceVars are the Docker-link variables kubelet sets for a Service.
func serviceVars(name, ip string, ports []corev1.ServicePort) map[string]string {
	prefix := strings.ToUpper(strings.ReplaceAll(name, "-", "_"))
	out := map[string]string{prefix + "_SERVICE_HOST": ip}
	for i, p := range ports {
		proto := strings.ToLower(string(p.Protocol))
		if proto == "" {
			proto = "tcp"
		}
		port := strconv.Itoa(int(p.Port))
		if i == 0 {
			out[prefix+"_SERVICE_PORT"] = port
			out[prefix+"_PORT"] = proto + "://" + ip + ":" + port
		}
		if p.Name != "" {
			out[prefix+"_SERVICE_PORT_"+strings.ToUpper(strings.ReplaceAll(p.Name, "-", "_"))] = port
		}
		base := prefix + "_PORT_" + port + "_" + strings.ToUpper(proto)
		out[base] = proto + "://" + ip + ":" + port
		out[base+"_PROTO"] = proto
		out[base+"_PORT"] = port
		out[base+"_ADDR"] = ip
	}
	return out
}

// expand replaces $(NAME) with the variable's value where it is defined, and
// $$ with $, as kubelet expands commands, arguments and values.
func expand(s string, vars map[string]string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != '$' || i+1 == len(s) {
			b.WriteByte(s[i])
			continue
		}
		switch s[i+1] {
		case '$':
			b.WriteByte('$')
			i++
		case '(':
			end := strings.IndexByte(s[i+2:], ')')
			if end < 0 {
				b.WriteString(s[i:])
				return b.String()
			}
			name := s[i+2 : i+2+end]
			if v, ok := vars[name]; ok {
				b.WriteString(v)
			} else {
				b.WriteString(s[i : i+3+end])
			}
			i += 2 + end
		default:
			b.WriteByte('$')
		}
	}
	return b.String()
}

// argv is a container's command line as the image runs it, and the path of
// the binary inside the image.
func argv(c *corev1.Container, img Image, vars map[string]string) ([]string, error) {
	var args []string
	for _, a := range c.Args {
		args = append(args, expand(a, vars))
	}
	if len(c.Command) == 0 {
		if len(img.Entrypoint) == 0 {
			return nil, fmt.Errorf("image has no entrypoint and the container no command")
		}
		return append(append([]string(nil), img.Entrypoint...), args...), nil
	}
	cmd := expand(c.Command[0], vars)
	if cmd != img.Path && (strings.Contains(cmd, "/") || cmd != path.Base(img.Path)) {
		return nil, fmt.Errorf("command %q is not the image's binary %s", cmd, img.Path)
	}
	out := []string{cmd}
	for _, a := range c.Command[1:] {
		out = append(out, expand(a, vars))
	}
	return append(out, args...), nil
}

func hostname(pod *corev1.Pod) string {
	if pod.Spec.Hostname != "" {
		return pod.Spec.Hostname
	}
	return pod.Name
}
