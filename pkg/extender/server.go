package extender

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"k8s.io/klog/v2"
	extenderv1 "k8s.io/kube-scheduler/extender/v1"
)

// maxBody bounds a request: an ExtenderArgs with 5,000 node names and a pod
// is well under a megabyte.
const maxBody = 16 << 20

// Handler serves the verbs at /filter, /prioritize and /bind (the
// urlPrefix of the scheduler's extender configuration is the server root),
// plus /metrics from gatherer and /healthz and /readyz.
func (e *Extender) Handler(gatherer prometheus.Gatherer) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /filter", verb(e, "filter", func(ctx context.Context, args *schedulingArgs) (any, error) {
		return e.Filter(ctx, args.extenderArgs()), nil
	}))
	mux.HandleFunc("POST /prioritize", verb(e, "prioritize", func(ctx context.Context, args *schedulingArgs) (any, error) {
		return e.Prioritize(ctx, args.extenderArgs())
	}))
	mux.HandleFunc("POST /bind", verb(e, "bind", func(ctx context.Context, args *extenderv1.ExtenderBindingArgs) (any, error) {
		res := &extenderv1.ExtenderBindingResult{}
		if err := e.Bind(ctx, args); err != nil {
			// kube-scheduler binds the pod itself when an ignorable
			// extender's bind fails, without the decision or the GPUs.
			klog.FromContext(ctx).Error(err, "Bind failed: kube-scheduler binds the pod without HyperSDK's decision if the extender is ignorable",
				"pod", args.PodNamespace+"/"+args.PodName, "node", args.Node)
			res.Error = err.Error()
		}
		return res, nil
	}))
	mux.Handle("GET /metrics", promhttp.HandlerFor(gatherer, promhttp.HandlerOpts{}))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { fmt.Fprintln(w, "ok") })
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, _ *http.Request) {
		if !e.HasSynced() {
			http.Error(w, "caches not synced", http.StatusServiceUnavailable)
			return
		}
		fmt.Fprintln(w, "ok")
	})
	return mux
}

// errBadArguments marks a call whose arguments lack what the verb needs:
// the caller's mistake (a 400), not the extender's.
var errBadArguments = errors.New("bad arguments")

// verb decodes the arguments, times the call and encodes the answer. A
// decoding error is a 400; kube-scheduler treats any non-200 as the
// extender failing, which ignorable turns into "schedule without us".
func verb[A any](e *Extender, name string, fn func(context.Context, *A) (any, error)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		result := "ok"
		defer func() {
			e.metrics.latency.WithLabelValues(name).Observe(time.Since(start).Seconds())
			e.metrics.requests.WithLabelValues(name, result).Inc()
		}()
		if !e.HasSynced() {
			// Answering from half-filled caches would filter out nodes not
			// seen yet; failing lets an ignorable extender be skipped.
			result = "not_ready"
			http.Error(w, "extender caches not synced", http.StatusServiceUnavailable)
			return
		}
		var args A
		if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxBody)).Decode(&args); err != nil {
			result = "bad_request"
			http.Error(w, fmt.Sprintf("decoding %s arguments: %v", name, err), http.StatusBadRequest)
			return
		}
		out, err := fn(r.Context(), &args)
		if errors.Is(err, errBadArguments) {
			result = "bad_request"
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		if err != nil {
			result = "error"
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		if b, ok := out.(*extenderv1.ExtenderBindingResult); ok && b.Error != "" {
			// Answered, but the pod was not bound: not an "ok".
			result = "failed"
		}
		w.Header().Set("Content-Type", "application/json")
		if err := json.NewEncoder(w).Encode(out); err != nil {
			result = "write_error"
		}
	}
}
