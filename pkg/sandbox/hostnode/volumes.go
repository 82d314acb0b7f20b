package hostnode

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
)

// volume is a pod volume on this machine.
type volume struct {
	dir string
	// readOnly: kubelet mounts Secrets, ConfigMaps and projected and
	// downward API volumes read-only, whatever the mount asks.
	readOnly bool
}

// file is one file of a volume made from API data.
type file struct {
	data []byte
	mode os.FileMode
}

type token struct {
	value   string
	renewAt time.Time
}

// volumes makes (or refreshes) every volume of pod. A volume that cannot be
// made yet, such as a Secret that does not exist, is an error: the pod waits,
// as kubelet makes it wait.
func (w *podWorker) volumes(ctx context.Context, pod *corev1.Pod) (map[string]volume, error) {
	out := map[string]volume{}
	var fsGroup *int64
	if sc := pod.Spec.SecurityContext; sc != nil {
		fsGroup = sc.FSGroup
	}
	for _, v := range pod.Spec.Volumes {
		dir := filepath.Join(w.dir, "volumes", v.Name)
		var err error
		var files map[string]file
		switch {
		case v.EmptyDir != nil:
			err = mkdir(dir, 0o777)
			out[v.Name] = volume{dir: dir}
		case v.HostPath != nil:
			out[v.Name] = volume{dir: v.HostPath.Path}
			if t := ptr.Deref(v.HostPath.Type, corev1.HostPathUnset); t == corev1.HostPathDirectoryOrCreate {
				err = os.MkdirAll(v.HostPath.Path, 0o755)
			}
		case v.PersistentVolumeClaim != nil:
			var path string
			if path, err = w.claimPath(ctx, pod.Namespace, v.PersistentVolumeClaim.ClaimName); err == nil {
				err = groupWritable(path, fsGroup)
			}
			out[v.Name] = volume{dir: path, readOnly: v.PersistentVolumeClaim.ReadOnly}
		case v.Secret != nil:
			files, err = w.secretFiles(ctx, pod.Namespace, v.Secret.SecretName, v.Secret.Items, v.Secret.DefaultMode, ptr.Deref(v.Secret.Optional, false))
		case v.ConfigMap != nil:
			files, err = w.configMapFiles(ctx, pod.Namespace, v.ConfigMap.Name, v.ConfigMap.Items, v.ConfigMap.DefaultMode, ptr.Deref(v.ConfigMap.Optional, false))
		case v.DownwardAPI != nil:
			files, err = downwardFiles(pod, v.DownwardAPI.Items, v.DownwardAPI.DefaultMode)
		case v.Projected != nil:
			files, err = w.projectedFiles(ctx, pod, v.Projected)
		default:
			err = fmt.Errorf("this kind of volume is not supported by the sandbox's host node")
		}
		if err != nil {
			return nil, fmt.Errorf("volume %s: %w", v.Name, err)
		}
		if files != nil {
			if err := writeAtomically(dir, files, fsGroup); err != nil {
				return nil, fmt.Errorf("volume %s: %w", v.Name, err)
			}
			out[v.Name] = volume{dir: dir, readOnly: true}
		}
	}
	return out, nil
}

// claimPath is the directory of a bound claim's volume.
func (w *podWorker) claimPath(ctx context.Context, ns, name string) (string, error) {
	claim, err := w.n.cfg.Kube.CoreV1().PersistentVolumeClaims(ns).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return "", err
	}
	if claim.Status.Phase != corev1.ClaimBound {
		return "", fmt.Errorf("claim %s is %s, not bound", name, claim.Status.Phase)
	}
	pv, err := w.n.cfg.Kube.CoreV1().PersistentVolumes().Get(ctx, claim.Spec.VolumeName, metav1.GetOptions{})
	if err != nil {
		return "", err
	}
	if pv.Spec.HostPath == nil {
		return "", fmt.Errorf("volume %s is not a host path", pv.Name)
	}
	return pv.Spec.HostPath.Path, os.MkdirAll(pv.Spec.HostPath.Path, 0o755)
}

// groupWritable gives a volume to the pod's fsGroup, as kubelet does: group
// ownership and a setgid directory the group may write.
func groupWritable(dir string, fsGroup *int64) error {
	if fsGroup == nil {
		return nil
	}
	if err := os.Chown(dir, 0, int(*fsGroup)); err != nil {
		return err
	}
	return os.Chmod(dir, 0o2775)
}

func mode(item *int32, def *int32) os.FileMode {
	switch {
	case item != nil:
		return os.FileMode(*item)
	case def != nil:
		return os.FileMode(*def)
	}
	return 0o644
}

func keyFiles(data map[string][]byte, items []corev1.KeyToPath, defMode *int32) (map[string]file, error) {
	out := map[string]file{}
	if len(items) == 0 {
		for k, v := range data {
			out[k] = file{data: v, mode: mode(nil, defMode)}
		}
		return out, nil
	}
	for _, it := range items {
		v, ok := data[it.Key]
		if !ok {
			return nil, fmt.Errorf("key %s not found", it.Key)
		}
		out[it.Path] = file{data: v, mode: mode(it.Mode, defMode)}
	}
	return out, nil
}

func (w *podWorker) secretFiles(ctx context.Context, ns, name string, items []corev1.KeyToPath, defMode *int32, optional bool) (map[string]file, error) {
	s, err := w.n.cfg.Kube.CoreV1().Secrets(ns).Get(ctx, name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) && optional {
		return map[string]file{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("secret %s: %w", name, err)
	}
	return keyFiles(s.Data, items, defMode)
}

func (w *podWorker) configMapFiles(ctx context.Context, ns, name string, items []corev1.KeyToPath, defMode *int32, optional bool) (map[string]file, error) {
	cm, err := w.n.cfg.Kube.CoreV1().ConfigMaps(ns).Get(ctx, name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) && optional {
		return map[string]file{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("configmap %s: %w", name, err)
	}
	data := map[string][]byte{}
	for k, v := range cm.Data {
		data[k] = []byte(v)
	}
	for k, v := range cm.BinaryData {
		data[k] = v
	}
	return keyFiles(data, items, defMode)
}

func downwardFiles(pod *corev1.Pod, items []corev1.DownwardAPIVolumeFile, defMode *int32) (map[string]file, error) {
	out := map[string]file{}
	for _, it := range items {
		if it.FieldRef == nil {
			return nil, fmt.Errorf("downward API file %s: only fieldRef is supported", it.Path)
		}
		v, err := fieldValue(pod, it.FieldRef.FieldPath)
		if err != nil {
			return nil, err
		}
		out[it.Path] = file{data: []byte(v), mode: mode(it.Mode, defMode)}
	}
	return out, nil
}

// projectedFiles makes a projected volume, such as the kube-api-access one
// ServiceAccount admission adds to every pod: a bound token, renewed at 80%
// of its life, the cluster's CA and the namespace.
func (w *podWorker) projectedFiles(ctx context.Context, pod *corev1.Pod, p *corev1.ProjectedVolumeSource) (map[string]file, error) {
	out := map[string]file{}
	add := func(files map[string]file) {
		for k, v := range files {
			out[k] = v
		}
	}
	for _, src := range p.Sources {
		switch {
		case src.Secret != nil:
			files, err := w.secretFiles(ctx, pod.Namespace, src.Secret.Name, src.Secret.Items, p.DefaultMode, ptr.Deref(src.Secret.Optional, false))
			if err != nil {
				return nil, err
			}
			add(files)
		case src.ConfigMap != nil:
			files, err := w.configMapFiles(ctx, pod.Namespace, src.ConfigMap.Name, src.ConfigMap.Items, p.DefaultMode, ptr.Deref(src.ConfigMap.Optional, false))
			if err != nil {
				return nil, err
			}
			add(files)
		case src.DownwardAPI != nil:
			files, err := downwardFiles(pod, src.DownwardAPI.Items, p.DefaultMode)
			if err != nil {
				return nil, err
			}
			add(files)
		case src.ServiceAccountToken != nil:
			t, err := w.token(ctx, pod, src.ServiceAccountToken)
			if err != nil {
				return nil, err
			}
			out[src.ServiceAccountToken.Path] = file{data: []byte(t), mode: mode(nil, p.DefaultMode)}
		default:
			return nil, fmt.Errorf("projected source not supported by the sandbox's host node")
		}
	}
	return out, nil
}

func (w *podWorker) token(ctx context.Context, pod *corev1.Pod, src *corev1.ServiceAccountTokenProjection) (string, error) {
	key := src.Audience + "/" + src.Path
	if t, ok := w.tokens[key]; ok && time.Now().Before(t.renewAt) {
		return t.value, nil
	}
	seconds := ptr.Deref(src.ExpirationSeconds, 3600)
	req := &authenticationv1.TokenRequest{Spec: authenticationv1.TokenRequestSpec{
		ExpirationSeconds: &seconds,
		BoundObjectRef:    &authenticationv1.BoundObjectReference{Kind: "Pod", APIVersion: "v1", Name: pod.Name, UID: pod.UID},
	}}
	if src.Audience != "" {
		req.Spec.Audiences = []string{src.Audience}
	}
	sa := pod.Spec.ServiceAccountName
	if sa == "" {
		sa = "default"
	}
	tr, err := w.n.cfg.Kube.CoreV1().ServiceAccounts(pod.Namespace).CreateToken(ctx, sa, req, metav1.CreateOptions{})
	if err != nil {
		return "", fmt.Errorf("token for ServiceAccount %s: %w", sa, err)
	}
	life := tr.Status.ExpirationTimestamp.Sub(time.Now())
	w.tokens[key] = token{value: tr.Status.Token, renewAt: time.Now().Add(life * 8 / 10)}
	return tr.Status.Token, nil
}

// writeAtomically writes files the way kubelet's atomic writer does: into a
// new directory, published by renaming the ..data link, with each name a
// link through ..data, so a reader sees all old or all new content. It
// writes only when the content changed.
func writeAtomically(dir string, files map[string]file, fsGroup *int64) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	names := make([]string, 0, len(files))
	for name := range files {
		names = append(names, name)
	}
	sort.Strings(names)
	h := sha256.New()
	for _, name := range names {
		fmt.Fprintf(h, "%s\x00%o\x00%d\x00", name, files[name].mode, len(files[name].data))
		h.Write(files[name].data)
	}
	version := "..v" + hex.EncodeToString(h.Sum(nil))[:16]
	if current, err := os.Readlink(filepath.Join(dir, "..data")); err == nil && current == version {
		return nil
	}
	tmp := filepath.Join(dir, version)
	if err := os.MkdirAll(tmp, 0o755); err != nil {
		return err
	}
	for _, name := range names {
		p := filepath.Join(tmp, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(p, files[name].data, files[name].mode); err != nil {
			return err
		}
		if err := os.Chmod(p, files[name].mode); err != nil {
			return err
		}
		if fsGroup != nil {
			if err := os.Chown(p, 0, int(*fsGroup)); err != nil {
				return err
			}
		}
	}
	link := filepath.Join(dir, "..data_tmp")
	_ = os.Remove(link)
	if err := os.Symlink(version, link); err != nil {
		return err
	}
	if err := os.Rename(link, filepath.Join(dir, "..data")); err != nil {
		return err
	}
	top := map[string]bool{}
	for _, name := range names {
		first, _, _ := strings.Cut(name, "/")
		top[first] = true
		if _, err := os.Lstat(filepath.Join(dir, first)); os.IsNotExist(err) {
			if err := os.Symlink(filepath.Join("..data", first), filepath.Join(dir, first)); err != nil {
				return err
			}
		}
	}
	// Drop older versions and names no longer there.
	entries, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	for _, e := range entries {
		name := e.Name()
		switch {
		case name == "..data" || name == version:
		case strings.HasPrefix(name, "..v"):
			_ = os.RemoveAll(filepath.Join(dir, name))
		case !strings.HasPrefix(name, "..") && !top[name]:
			_ = os.Remove(filepath.Join(dir, name))
		}
	}
	return nil
}
