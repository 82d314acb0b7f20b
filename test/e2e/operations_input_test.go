package e2e

import (
	"context"
	"encoding/json"
	"math/rand"
	"net/http"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// TestOperationBadInput: each bad request is a 4xx Status naming the
// problem, and leaves no VMOperation or KubeVirt object behind. Then a
// seeded fuzz of request bodies never gets a 5xx.
func TestOperationBadInput(t *testing.T) {
	env.DumpLogsOnFailure(t)
	ctx := context.Background()
	ns := env.Namespace(t, "ops-bad")
	createKubeVirtVM(t, ns, kubevirtVM("target", 1, "1Gi", nil))
	createKubeVirtVM(t, ns, kubevirtVM("exists", 1, "1Gi", nil))
	runningVMI(t, ns, "target", "")

	// Each bad request is refused the same way through the subresource and
	// as a VMOperation, each in its own terms: a 422 names the options'
	// kind and field (targetNode) for the one, the VMOperation's
	// (spec.migrate.targetNode) for the other.
	for _, tc := range []struct {
		name, vm, sub string
		body          interface{}
		code          int
		mention       string
		field         string // a 422's cause, relative to the options
	}{
		{"unknown VM", "nope", "start", map[string]interface{}{}, http.StatusNotFound, "nope", ""},
		{"unknown target node", "target", "migrate", map[string]interface{}{"targetNode": "node-999"}, http.StatusUnprocessableEntity, "targetNode", "targetNode"},
		{"negative resize", "target", "resize", map[string]interface{}{"cpus": -2}, http.StatusUnprocessableEntity, "cpus", "cpus"},
		{"oversized resize", "target", "resize", map[string]interface{}{"cpus": 100000}, http.StatusUnprocessableEntity, "maximum", "cpus"},
		{"tiny memory", "target", "resize", map[string]interface{}{"memory": "100Mi"}, http.StatusUnprocessableEntity, "memory", "memory"},
		{"negative grace period", "target", "stop", map[string]interface{}{"gracePeriodSeconds": -1}, http.StatusUnprocessableEntity, "gracePeriodSeconds", "gracePeriodSeconds"},
		{"clone target exists", "target", "clone", map[string]interface{}{"targetName": "exists"}, http.StatusConflict, "exists", ""},
		{"clone without target", "target", "clone", map[string]interface{}{}, http.StatusUnprocessableEntity, "targetName", "targetName"},
		{"clone into no namespace", "target", "clone", map[string]interface{}{"targetName": "c", "targetNamespace": "no-such-ns"}, http.StatusUnprocessableEntity, "no-such-ns", "targetNamespace"},
		{"malformed JSON", "target", "resize", []byte(`{"cpus": 2`), http.StatusBadRequest, "", ""},
		{"options of the wrong kind", "target", "migrate",
			[]byte(`{"apiVersion":"hypersdk.io/v1alpha1","kind":"VirtualMachineResizeOptions","cpus":2}`), http.StatusBadRequest, "VirtualMachineResizeOptions", ""},
		{"start a running VM", "target", "start", map[string]interface{}{}, http.StatusConflict, "already running", ""},
		{"restore without a snapshot", "target", "restore", map[string]interface{}{}, http.StatusUnprocessableEntity, "snapshotName", "snapshotName"},
		{"restore an unknown snapshot", "target", "restore", map[string]interface{}{"snapshotName": "nosuch"}, http.StatusNotFound, "nosuch", ""},
		{"restore as a bad name", "target", "restore", map[string]interface{}{"snapshotName": "s", "targetName": "Bad_Name"}, http.StatusUnprocessableEntity, "targetName", "targetName"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, _, err := post(t, env.HyperSDK, ns, tc.vm, tc.sub, tc.body, false)
			if code != tc.code {
				t.Fatalf("status %d (%v), want %d", code, err, tc.code)
			}
			if err == nil || (tc.mention != "" && !containsFold(err.Error(), tc.mention)) {
				t.Errorf("error %v does not name %q", err, tc.mention)
			}
			if tc.field != "" {
				assertInvalidKind(t, err, "VirtualMachine"+operationType(tc.sub)+"Options", tc.field)
			}
			body, ok := tc.body.(map[string]interface{})
			if !ok {
				return // not JSON: the VMOperation's own decoding is another test's
			}
			raw, _ := json.Marshal(body)
			code, err = createOperation(t, env.HyperSDK, ns, tc.vm, tc.sub, string(raw))
			if code != tc.code {
				t.Fatalf("as a VMOperation: status %d (%v), want %d", code, err, tc.code)
			}
			if tc.field != "" {
				assertInvalidKind(t, err, "VMOperation", "spec."+operationBlock(tc.sub)+"."+tc.field)
			}
		})
	}

	// Fuzz: random and mutated bodies on every operation subresource.
	rng := rand.New(rand.NewSource(42))
	valid := [][]byte{[]byte(`{"cpus":2}`), []byte(`{"targetName":"x","labelFilters":["*"]}`), []byte(`{"targetNode":"node-001"}`),
		[]byte(`{"name":"s","failureDeadline":"5m"}`), []byte(`{"gracePeriodSeconds":3}`), []byte(`{"memory":"2Gi","restartPolicy":"Never"}`),
		[]byte(`{"snapshotName":"s","targetName":"t"}`)}
	subs := []string{"clone", "migrate", "resize", "snapshot", "start", "stop", "restart", "restore"}
	for i := 0; i < 240; i++ {
		body := mutate(rng, valid[rng.Intn(len(valid))])
		code, _, _ := post(t, env.HyperSDK, ns, "target", subs[i%len(subs)], body, true)
		if code >= 500 || code == 0 {
			t.Fatalf("body %q to %s: status %d", body, subs[i%len(subs)], code)
		}
	}

	ops, err := env.HyperSDK.HypersdkV1alpha1().VMOperations(ns).List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(ops.Items) != 0 {
		t.Errorf("%d operations left behind by bad or dry-run requests", len(ops.Items))
	}
	migs, _ := env.KubeVirt.KubevirtV1().VirtualMachineInstanceMigrations(ns).List(ctx, metav1.ListOptions{})
	snaps, _ := env.KubeVirt.SnapshotV1beta1().VirtualMachineSnapshots(ns).List(ctx, metav1.ListOptions{})
	vms, _ := env.KubeVirt.KubevirtV1().VirtualMachines(ns).List(ctx, metav1.ListOptions{})
	if len(migs.Items)+len(snaps.Items) != 0 || len(vms.Items) != 2 {
		t.Errorf("KubeVirt objects left behind: %d migrations, %d snapshots, %d VMs (want 2)", len(migs.Items), len(snaps.Items), len(vms.Items))
	}
}

// mutate flips, inserts and deletes bytes of a valid body, or returns junk.
func mutate(rng *rand.Rand, in []byte) []byte {
	if rng.Intn(5) == 0 {
		junk := make([]byte, rng.Intn(64))
		rng.Read(junk)
		return junk
	}
	out := append([]byte(nil), in...)
	for n := rng.Intn(4) + 1; n > 0 && len(out) > 0; n-- {
		i := rng.Intn(len(out))
		switch rng.Intn(3) {
		case 0:
			out[i] = byte(rng.Intn(256))
		case 1:
			out = append(out[:i], out[i+1:]...)
		default:
			out = append(out[:i], append([]byte{`{}[]",:09e-`[rng.Intn(11)]}, out[i:]...)...)
		}
	}
	return out
}

func containsFold(s, sub string) bool {
	return len(sub) == 0 || (len(s) >= len(sub) && (indexFold(s, sub) >= 0))
}

func indexFold(s, sub string) int {
	for i := 0; i+len(sub) <= len(s); i++ {
		match := true
		for j := 0; j < len(sub); j++ {
			a, b := s[i+j], sub[j]
			if 'A' <= a && a <= 'Z' {
				a += 'a' - 'A'
			}
			if 'A' <= b && b <= 'Z' {
				b += 'a' - 'A'
			}
			if a != b {
				match = false
				break
			}
		}
		if match {
			return i
		}
	}
	return -1
}
