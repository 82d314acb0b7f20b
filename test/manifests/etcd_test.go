package manifests

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/yaml"

	"github.com/hypersdk/hypersdk/test/framework"
)

// TestEtcdQuotaFitsItsVolume: etcd's backend quota leaves room on its
// volume for the WAL and snapshots beside it, so a full store trips
// etcd's alarm (writes refused, reads go on) instead of filling the disk.
func TestEtcdQuotaFitsItsVolume(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join(framework.RepoRoot(), "artifacts", "deploy", "base", "etcd.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	for _, doc := range strings.Split(string(raw), "\n---\n") {
		var sts appsv1.StatefulSet
		if err := yaml.Unmarshal([]byte(doc), &sts); err != nil {
			t.Fatal(err)
		}
		if sts.Kind != "StatefulSet" {
			continue
		}
		quota := int64(2 << 30) // etcd's default
		for _, arg := range sts.Spec.Template.Spec.Containers[0].Command {
			if v, ok := strings.CutPrefix(arg, "--quota-backend-bytes="); ok {
				if quota, err = strconv.ParseInt(v, 10, 64); err != nil {
					t.Fatal(err)
				}
			}
		}
		volume := sts.Spec.VolumeClaimTemplates[0].Spec.Resources.Requests[corev1.ResourceStorage]
		if quota*2 > volume.Value() {
			t.Errorf("etcd quota %d bytes on a volume of %s: want at most half of it", quota, volume.String())
		}
		return
	}
	t.Fatal("no StatefulSet in artifacts/deploy/base/etcd.yaml")
}
