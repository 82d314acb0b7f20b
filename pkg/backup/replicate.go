package backup

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"

	authorizationv1 "k8s.io/api/authorization/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
	"k8s.io/utils/ptr"
	snapshotv1 "kubevirt.io/api/snapshot/v1beta1"

	"github.com/hypersdk/hypersdk/apis/hypersdk/v1alpha1"
	"github.com/hypersdk/hypersdk/pkg/kubevirt"
)

const (
	// ConditionReplicated is True when every ready snapshot of the
	// schedule is on the replication's cluster.
	ConditionReplicated = "Replicated"
	// ReplicatedFromAnnotation, on the copies, names the original:
	// <namespace>/<name>.
	ReplicatedFromAnnotation = "hypersdk.io/replicated-from"
	// kubeconfigKey is the key of the replication Secret.
	kubeconfigKey = "kubeconfig"
)

// peer is the replication's cluster, reached once per pass at most.
type peer struct {
	kv       kubevirt.Clientset
	ns, host string
	err      error
	reached  bool
}

// reach reads the schedule's kubeconfig Secret, as far as the requester
// may, and makes the other cluster's client.
func (s *Scheduler) reach(ctx context.Context, b *v1alpha1.BackupSchedule, rev *reviewer, p *peer) error {
	if p.reached {
		return p.err
	}
	p.reached = true
	r := b.Spec.Replication
	p.err = func() error {
		if err := rev.review(ctx, &authorizationv1.ResourceAttributes{Namespace: b.Namespace, Verb: "get",
			Resource: "secrets", Name: r.KubeconfigSecret}); err != nil {
			return err
		}
		sec, err := s.cfg.Kube.CoreV1().Secrets(b.Namespace).Get(ctx, r.KubeconfigSecret, metav1.GetOptions{})
		if err != nil {
			return fmt.Errorf("reading the replication Secret %s: %w", r.KubeconfigSecret, err)
		}
		kubeconfig, err := clientcmd.Load(sec.Data[kubeconfigKey])
		if err != nil {
			return fmt.Errorf("the %q key of Secret %s is not a kubeconfig: %w", kubeconfigKey, r.KubeconfigSecret, err)
		}
		if err := inlineOnly(kubeconfig); err != nil {
			return fmt.Errorf("the kubeconfig of Secret %s: %w", r.KubeconfigSecret, err)
		}
		cfg, err := clientcmd.NewDefaultClientConfig(*kubeconfig, &clientcmd.ConfigOverrides{}).ClientConfig()
		if err != nil {
			return fmt.Errorf("the %q key of Secret %s is not a kubeconfig: %w", kubeconfigKey, r.KubeconfigSecret, err)
		}
		if p.kv, err = kubevirt.NewClientset(cfg); err != nil {
			return err
		}
		p.host, p.ns = cfg.Host, r.Namespace
		if p.ns == "" {
			p.ns = b.Namespace
		}
		return nil
	}()
	return p.err
}

// inlineOnly refuses a kubeconfig that names files or runs programs: those
// would be hypersdk-controller's own (its service account token is a file
// in its pod), sent to whatever server the Secret's author wrote.
func inlineOnly(c *clientcmdapi.Config) error {
	var refused []string
	for name, a := range c.AuthInfos {
		for field, set := range map[string]bool{"tokenFile": a.TokenFile != "", "client-certificate": a.ClientCertificate != "",
			"client-key": a.ClientKey != "", "exec": a.Exec != nil, "auth-provider": a.AuthProvider != nil} {
			if set {
				refused = append(refused, fmt.Sprintf("users[%s].%s", name, field))
			}
		}
	}
	for name, cl := range c.Clusters {
		if cl.CertificateAuthority != "" {
			refused = append(refused, fmt.Sprintf("clusters[%s].certificate-authority", name))
		}
	}
	if len(refused) == 0 {
		return nil
	}
	slices.Sort(refused)
	return fmt.Errorf("%s: only inline credentials are used (token, client-certificate-data, client-key-data, certificate-authority-data): "+
		"files and programs would be hypersdk-controller's own", strings.Join(refused, ", "))
}

// replicate copies the schedule's ready snapshots that are not on the other
// cluster yet; the condition says how far it got.
func (s *Scheduler) replicate(ctx context.Context, b *v1alpha1.BackupSchedule, st *v1alpha1.BackupScheduleStatus, rev *reviewer, p *peer) *metav1.Condition {
	todo := 0
	for _, snap := range st.Snapshots {
		if snap.Phase == v1alpha1.VMOperationSucceeded && !snap.Replicated {
			todo++
		}
	}
	if todo == 0 {
		return nil
	}
	cond := &metav1.Condition{Type: ConditionReplicated, Status: metav1.ConditionFalse, Reason: "Failed"}
	if err := s.reach(ctx, b, rev, p); err != nil {
		cond.Message = err.Error()
		return cond
	}
	// One snapshot that cannot be copied does not hold back the others.
	var failed, gone []string
	for i := range st.Snapshots {
		snap := &st.Snapshots[i]
		if snap.Phase != v1alpha1.VMOperationSucceeded || snap.Replicated {
			continue
		}
		err := s.copySnapshot(ctx, b.Namespace, snap.Name, p)
		switch {
		case apierrors.IsNotFound(err) && !s.localSnapshotExists(ctx, b.Namespace, snap.Name):
			gone = append(gone, snap.Name) // deleted here: nothing to copy
		case err != nil:
			failed = append(failed, fmt.Sprintf("%s: %v", snap.Name, err))
		default:
			snap.Replicated = true
		}
	}
	if len(failed) > 0 {
		cond.Message = fmt.Sprintf("copying %d snapshots to %s failed: %s", len(failed), p.host, strings.Join(failed, "; "))
		return cond
	}
	cond.Status, cond.Reason = metav1.ConditionTrue, "Copied"
	cond.Message = fmt.Sprintf("every ready snapshot is in namespace %s of %s", p.ns, p.host)
	if len(gone) > 0 {
		cond.Message += fmt.Sprintf(" but %s, deleted here", strings.Join(gone, ", "))
	}
	return cond
}

// localSnapshotExists reports whether the schedule's snapshot is still in
// this cluster; on an error reading it, it says yes, so the copy is tried
// again rather than given up.
func (s *Scheduler) localSnapshotExists(ctx context.Context, ns, name string) bool {
	_, err := s.cfg.KubeVirt.SnapshotV1beta1().VirtualMachineSnapshots(ns).Get(ctx, name, metav1.GetOptions{})
	return !apierrors.IsNotFound(err)
}

// copySnapshot re-creates a snapshot's content and then the snapshot on
// the other cluster, ready to use; copies already there are kept.
func (s *Scheduler) copySnapshot(ctx context.Context, ns, name string, p *peer) error {
	local := s.cfg.KubeVirt.SnapshotV1beta1()
	snap, err := local.VirtualMachineSnapshots(ns).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return err
	}
	if snap.Status == nil || snap.Status.VirtualMachineSnapshotContentName == nil {
		return fmt.Errorf("snapshot %s has no content", name)
	}
	content, err := local.VirtualMachineSnapshotContents(ns).Get(ctx, *snap.Status.VirtualMachineSnapshotContentName, metav1.GetOptions{})
	if err != nil {
		return err
	}
	// Each copy keeps the original's annotations and names the original.
	annotated := func(a map[string]string) map[string]string {
		out := maps.Clone(a)
		if out == nil {
			out = map[string]string{}
		}
		out[ReplicatedFromAnnotation] = ns + "/" + name
		return out
	}
	remote := p.kv.SnapshotV1beta1()
	c := &snapshotv1.VirtualMachineSnapshotContent{
		ObjectMeta: metav1.ObjectMeta{Name: content.Name, Namespace: p.ns, Labels: content.Labels, Annotations: annotated(content.Annotations)},
		Spec:       *content.Spec.DeepCopy(),
	}
	if _, err := remote.VirtualMachineSnapshotContents(p.ns).Create(ctx, c, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		return err
	}
	copied := &snapshotv1.VirtualMachineSnapshot{
		ObjectMeta: metav1.ObjectMeta{Name: snap.Name, Namespace: p.ns, Labels: snap.Labels, Annotations: annotated(snap.Annotations)},
		Spec:       *snap.Spec.DeepCopy(),
	}
	created, err := remote.VirtualMachineSnapshots(p.ns).Create(ctx, copied, metav1.CreateOptions{})
	if apierrors.IsAlreadyExists(err) {
		created, err = remote.VirtualMachineSnapshots(p.ns).Get(ctx, snap.Name, metav1.GetOptions{})
		if err == nil && created.Annotations[ReplicatedFromAnnotation] != ns+"/"+name {
			// Another namespace's (or a person's) snapshot of that name.
			return fmt.Errorf("snapshot %s in namespace %s of %s is not a copy of %s/%s", name, p.ns, p.host, ns, name)
		}
		if err == nil && created.Status != nil && ptr.Deref(created.Status.ReadyToUse, false) {
			return nil
		}
	}
	if err != nil {
		return err
	}
	// The copy is ready as the original is: what a restore there checks.
	created.Status = &snapshotv1.VirtualMachineSnapshotStatus{ReadyToUse: ptr.To(true), Phase: snapshotv1.Succeeded,
		CreationTime: snap.Status.CreationTime, VirtualMachineSnapshotContentName: ptr.To(content.Name),
		SourceUID: snap.Status.SourceUID, Indications: snap.Status.Indications}
	_, err = remote.VirtualMachineSnapshots(p.ns).UpdateStatus(ctx, created, metav1.UpdateOptions{})
	return err
}

// unreplicate deletes a snapshot's copies on the other cluster, before the
// schedule prunes it here.
func (s *Scheduler) unreplicate(ctx context.Context, b *v1alpha1.BackupSchedule, rev *reviewer, p *peer, name string) error {
	if err := s.reach(ctx, b, rev, p); err != nil {
		return err
	}
	remote := p.kv.SnapshotV1beta1()
	snap, err := remote.VirtualMachineSnapshots(p.ns).Get(ctx, name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("reading the copy of snapshot %s on %s: %w", name, p.host, err)
	}
	if snap.Annotations[ReplicatedFromAnnotation] != b.Namespace+"/"+name {
		return nil // not a copy of this snapshot (another namespace's of the same name): left alone
	}
	if snap.Status != nil && snap.Status.VirtualMachineSnapshotContentName != nil {
		err := remote.VirtualMachineSnapshotContents(p.ns).Delete(ctx, *snap.Status.VirtualMachineSnapshotContentName, metav1.DeleteOptions{})
		if err != nil && !apierrors.IsNotFound(err) {
			return fmt.Errorf("deleting the copy of snapshot %s's content on %s: %w", name, p.host, err)
		}
	}
	err = remote.VirtualMachineSnapshots(p.ns).Delete(ctx, name, metav1.DeleteOptions{Preconditions: &metav1.Preconditions{UID: &snap.UID}})
	if err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("deleting the copy of snapshot %s on %s: %w", name, p.host, err)
	}
	return nil
}
