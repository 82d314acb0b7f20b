package backup

import (
	"context"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"

	"github.com/hypersdk/hypersdk/apis/hypersdk/v1alpha1"
)

// TestReplicationKubeconfigIsInlineOnly: a replication kubeconfig that
// names a file (hypersdk-controller's own service account token) or a
// program is refused before any client is made; one with inline
// credentials reaches its server.
func TestReplicationKubeconfigIsInlineOnly(t *testing.T) {
	const head = `apiVersion: v1
kind: Config
current-context: c
contexts: [{name: c, context: {cluster: c, user: u}}]
`
	for _, tc := range []struct {
		name, kubeconfig, refused string
	}{
		{"the controller's token file", head + `clusters: [{name: c, cluster: {server: "https://collector.example", insecure-skip-tls-verify: true}}]
users: [{name: u, user: {tokenFile: /var/run/secrets/kubernetes.io/serviceaccount/token}}]
`, "users[u].tokenFile"},
		{"a program", head + `clusters: [{name: c, cluster: {server: "https://collector.example"}}]
users: [{name: u, user: {exec: {apiVersion: client.authentication.k8s.io/v1, command: /bin/sh, args: [-c, "cat /etc/hypersdk/*"]}}}]
`, "users[u].exec"},
		{"a CA file", head + `clusters: [{name: c, cluster: {server: "https://collector.example", certificate-authority: /etc/hypersdk/ca.crt}}]
users: [{name: u, user: {client-certificate: /etc/hypersdk/tls.crt, client-key: /etc/hypersdk/tls.key}}]
`, "clusters[c].certificate-authority, users[u].client-certificate, users[u].client-key"},
		{"inline credentials", head + `clusters: [{name: c, cluster: {server: "https://dr.example"}}]
users: [{name: u, user: {token: abc}}]
`, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			secret := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "dr", Namespace: "ns"},
				Data: map[string][]byte{kubeconfigKey: []byte(tc.kubeconfig)}}
			s := &Scheduler{cfg: Config{Kube: fake.NewClientset(secret)}}
			b := &v1alpha1.BackupSchedule{ObjectMeta: metav1.ObjectMeta{Name: "nightly", Namespace: "ns"},
				Spec: v1alpha1.BackupScheduleSpec{Replication: &v1alpha1.BackupReplication{KubeconfigSecret: "dr"}}}
			p := &peer{}
			err := s.reach(context.Background(), b, &reviewer{all: map[string]bool{"get /secrets/": true}}, p)
			switch {
			case tc.refused == "" && err != nil:
				t.Errorf("inline kubeconfig refused: %v", err)
			case tc.refused == "" && p.host != "https://dr.example":
				t.Errorf("peer host %q, want the kubeconfig's server", p.host)
			case tc.refused != "" && (err == nil || !strings.Contains(err.Error(), tc.refused)):
				t.Errorf("reach: %v, want a refusal naming %s", err, tc.refused)
			}
		})
	}
}
