package history

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apiserver/pkg/endpoints/handlers/negotiation"
	"k8s.io/apiserver/pkg/endpoints/handlers/responsewriters"
	genericapirequest "k8s.io/apiserver/pkg/endpoints/request"
	"k8s.io/apiserver/pkg/registry/rest"
	"k8s.io/utils/clock"

	"github.com/hypersdk/hypersdk/apis/hypersdk"
	"github.com/hypersdk/hypersdk/apis/hypersdk/v1alpha1"
	"github.com/hypersdk/hypersdk/pkg/history"
)

// ClusterName is the name of the only ClusterHistory.
const ClusterName = "cluster"

// units of every series, for people reading an answer.
var units = map[string]string{
	history.FieldCPUUsage:        "cores",
	history.FieldCPUAllocated:    "cores",
	history.FieldMemoryUsage:     "bytes",
	history.FieldMemoryAllocated: "bytes",
	history.FieldCarbonIntensity: "gCO2eq/kWh",
	history.FieldCostPerHour:     "currency/h",
	history.FieldCarbonEmissions: "gCO2eq/h",
	history.FieldCostMonthToDate: "currency",
	history.FieldVMs:             "count",
	history.FieldVMsRunning:      "count",
	history.FieldVMsStopped:      "count",
	history.FieldVMsOther:        "count",
}

// Config is what both history resources need.
type Config struct {
	Store history.Store
	// Codecs encodes answers in the negotiated format.
	Codecs runtime.NegotiatedSerializer
	Clock  clock.PassiveClock
}

// VMGetter finds a VM, so history of a VM that does not exist is a 404.
type VMGetter interface {
	Get(ctx context.Context, name string, options *metav1.GetOptions) (runtime.Object, error)
}

// VMREST serves virtualmachines/history.
type VMREST struct {
	cfg Config
	vms VMGetter
}

// ClusterREST serves clusterhistories/cluster.
type ClusterREST struct {
	cfg Config
}

var (
	_ rest.Connecter            = &VMREST{}
	_ rest.Connecter            = &ClusterREST{}
	_ rest.Scoper               = &ClusterREST{}
	_ rest.SingularNameProvider = &ClusterREST{}
)

// NewVMREST returns the storage of virtualmachines/history.
func NewVMREST(cfg Config, vms VMGetter) *VMREST { return &VMREST{cfg: withDefaults(cfg), vms: vms} }

// NewClusterREST returns the storage of clusterhistories.
func NewClusterREST(cfg Config) *ClusterREST { return &ClusterREST{cfg: withDefaults(cfg)} }

func withDefaults(cfg Config) Config {
	if cfg.Clock == nil {
		cfg.Clock = clock.RealClock{}
	}
	return cfg
}

func (r *VMREST) New() runtime.Object { return &hypersdk.VirtualMachineHistory{} }
func (r *VMREST) Destroy()            {}

// ConnectMethods is GET only: history is read.
func (r *VMREST) ConnectMethods() []string { return []string{http.MethodGet} }

func (r *VMREST) NewConnectOptions() (runtime.Object, bool, string) {
	return &hypersdk.VirtualMachineHistoryOptions{}, false, ""
}

// Connect answers the VM's history. Every error is returned before the
// handler runs, so clients get a Kubernetes Status.
func (r *VMREST) Connect(ctx context.Context, name string, options runtime.Object, _ rest.Responder) (http.Handler, error) {
	namespace := genericapirequest.NamespaceValue(ctx)
	vm, err := r.vms.Get(ctx, name, &metav1.GetOptions{})
	if err != nil {
		return nil, err
	}
	meta, err := apimeta.Accessor(vm)
	if err != nil {
		return nil, err
	}
	gr := hypersdk.Resource("virtualmachines")
	req, err := r.cfg.parse(options, history.ValidVMField, gr, name)
	if err != nil {
		return nil, err
	}
	req.query.Namespace, req.query.Name = namespace, name
	if req.query.Fields == nil {
		req.query.Fields = history.Recorded(r.cfg.Store, history.VMFields)
	}
	series, err := r.cfg.Store.QueryVM(ctx, req.query)
	if err != nil {
		return nil, history.AsStatus(fmt.Errorf("querying history of VM %s/%s: %w", namespace, name, err))
	}
	if series, err = sinceCreation(ctx, r.cfg.Store, req.query, meta.GetCreationTimestamp().Time, series); err != nil {
		return nil, history.AsStatus(fmt.Errorf("querying history of VM %s/%s: %w", namespace, name, err))
	}
	obj := &hypersdk.VirtualMachineHistory{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: namespace},
		Window:     window(req.query),
		Series:     toAPI(req.query.Fields, series),
	}
	filename := fmt.Sprintf("vm-%s-history-%s.csv", name, r.cfg.Clock.Now().UTC().Format(time.DateOnly))
	return r.cfg.handler(req, obj, obj.Series, filename), nil
}

// sinceCreation is series, the answer to q, from when the VM was created:
// history is kept by name, so a VM made again under a deleted one's name is
// not shown the other's. The points up to its creation go, and the first
// one after it, whose step began before it, is answered again over the part
// of its step since then (its step would else average in the deleted VM's
// samples: most of a day at a step of a day), or goes when that part is
// under a second (the creation time is to the second).
func sinceCreation(ctx context.Context, store history.Store, q history.Query, created time.Time, series []history.Series) ([]history.Series, error) {
	for i := range series {
		series[i].Points = slices.DeleteFunc(series[i].Points, func(p history.Point) bool { return !p.Time.After(created) })
	}
	first := q.Start // the first evaluation time after created
	if !created.Before(q.Start) {
		first = q.Start.Add((created.Sub(q.Start)/q.Step + 1) * q.Step)
	}
	if first.After(q.End) || !first.Add(-q.Step).Before(created) {
		return series, nil
	}
	var since map[string]history.Point
	if part := first.Sub(created); part >= time.Second {
		pq := q
		pq.Start, pq.End, pq.Step = first, first, part
		partial, err := store.QueryVM(ctx, pq)
		if err != nil && !errors.Is(err, history.ErrNotRecorded) {
			return nil, fmt.Errorf("the first step since the VM was created: %w", err)
		}
		// Nothing recorded in that part (a recorder sampling every few
		// minutes): the VM has no samples of its own there.
		since = map[string]history.Point{}
		for _, s := range partial {
			for _, p := range s.Points {
				if p.Time.Equal(first) {
					since[s.Field] = p
				}
			}
		}
	}
	for i := range series {
		ps := series[i].Points
		if len(ps) == 0 || !ps[0].Time.Equal(first) {
			continue
		}
		if p, ok := since[series[i].Field]; ok {
			ps[0] = p
		} else {
			series[i].Points = ps[1:]
		}
	}
	return series, nil
}

func (r *ClusterREST) New() runtime.Object      { return &hypersdk.ClusterHistory{} }
func (r *ClusterREST) Destroy()                 {}
func (r *ClusterREST) NamespaceScoped() bool    { return false }
func (r *ClusterREST) GetSingularName() string  { return "clusterhistory" }
func (r *ClusterREST) ConnectMethods() []string { return []string{http.MethodGet} }
func (r *ClusterREST) NewConnectOptions() (runtime.Object, bool, string) {
	return &hypersdk.VirtualMachineHistoryOptions{}, false, ""
}

// Connect answers the cluster's history; the only name is "cluster".
func (r *ClusterREST) Connect(ctx context.Context, name string, options runtime.Object, _ rest.Responder) (http.Handler, error) {
	gr := hypersdk.Resource("clusterhistories")
	if name != ClusterName {
		return nil, apierrors.NewNotFound(gr, name)
	}
	req, err := r.cfg.parse(options, history.ValidClusterField, gr, name)
	if err != nil {
		return nil, err
	}
	if req.query.Fields == nil {
		req.query.Fields = history.ClusterFields
	}
	series, err := r.clusterSeries(ctx, req.query)
	if err != nil {
		return nil, history.AsStatus(fmt.Errorf("querying cluster history: %w", err))
	}
	obj := &hypersdk.ClusterHistory{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Window:     window(req.query),
		Series:     toAPI(req.query.Fields, series),
	}
	filename := fmt.Sprintf("cluster-history-%s.csv", r.cfg.Clock.Now().UTC().Format(time.DateOnly))
	return r.cfg.handler(req, obj, obj.Series, filename), nil
}

// clusterSeries asks the store for the recorded fields of q and computes
// the derived ones: costMonthToDate from a minute-by-minute costPerHour since
// the first of each point's month (points of a month that began before the
// store's retention are left out).
func (r *ClusterREST) clusterSeries(ctx context.Context, q history.Query) ([]history.Series, error) {
	recorded := slices.DeleteFunc(slices.Clone(q.Fields), func(f string) bool { return slices.Contains(history.DerivedClusterFields, f) })
	var out []history.Series
	if len(recorded) > 0 {
		stored := q
		stored.Fields = recorded
		series, err := r.cfg.Store.QueryCluster(ctx, stored)
		if err != nil {
			return nil, err
		}
		out = series
	}
	if !slices.Contains(q.Fields, history.FieldCostMonthToDate) {
		return out, nil
	}
	times, err := history.EvaluationTimes(q)
	if err != nil {
		return nil, err
	}
	// A point whose month began before the store's retention would sum
	// part of its month: it is left out (a gap), not shown as the month's.
	horizon := r.cfg.Clock.Now().Add(-r.cfg.Store.Retention()).Add(history.IntegrationStep)
	times = slices.DeleteFunc(times, func(t time.Time) bool { return history.MonthStart(t).Before(horizon) })
	mtd := history.Series{Field: history.FieldCostMonthToDate, Points: []history.Point{}}
	if len(times) > 0 {
		// Nothing is recorded after now: reading up to it is enough.
		to := q.End
		if now := r.cfg.Clock.Now(); to.After(now) {
			to = now
		}
		rates, err := history.ReadRates(ctx, r.cfg.Store.QueryCluster, history.Query{Fields: []string{history.FieldCostPerHour}},
			history.MonthStart(times[0]), to)
		if err != nil {
			return nil, err
		}
		mtd.Points = history.MonthToDate(rates[0].Points, times)
	}
	return append(out, mtd), nil
}

// parse reads the options and checks them against the store's limits.
func (cfg Config) parse(options runtime.Object, valid func(string) bool, gr schema.GroupResource, name string) (request, error) {
	opts, ok := options.(*hypersdk.VirtualMachineHistoryOptions)
	if !ok {
		return request{}, fmt.Errorf("invalid options object: %T", options)
	}
	now := cfg.Clock.Now()
	req, err := parseOptions(opts, valid, now, gr, name)
	if err != nil {
		return req, err
	}
	if err := history.Validate(req.query, cfg.Store.Retention(), now, history.MaxPoints); err != nil {
		var qe *history.QueryError
		if errors.As(err, &qe) {
			return req, BadRequest(gr, name, qe.Field, qe.Msg)
		}
		return req, apierrors.NewBadRequest(err.Error())
	}
	return req, nil
}

// handler writes the answer as CSV when asked by format=csv or an Accept
// header, and otherwise in the format the client negotiated (JSON, YAML).
func (cfg Config) handler(req request, obj runtime.Object, series []hypersdk.HistorySeries, filename string) http.Handler {
	return CSVOrNegotiated(cfg.Codecs, req.csv, filename, obj, func(w io.Writer) error { return writeCSV(w, series) })
}

// CSVOrNegotiated answers obj as CSV, written by writeCSV, when asCSV is
// set or the client's Accept header asks for text/csv, and otherwise in the
// format the client negotiated (JSON, YAML).
func CSVOrNegotiated(codecs runtime.NegotiatedSerializer, asCSV bool, filename string, obj runtime.Object, writeCSV func(io.Writer) error) http.Handler {
	return http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		if asCSV || WantsCSV(r) {
			rw.Header().Set("Content-Type", "text/csv; charset=utf-8")
			rw.Header().Set("Content-Disposition", fmt.Sprintf("attachment; filename=%q", filename))
			if err := writeCSV(rw); err != nil {
				// Headers are gone; all that is left is to cut the body short.
				panic(http.ErrAbortHandler)
			}
			return
		}
		responsewriters.WriteObjectNegotiated(codecs, negotiation.DefaultEndpointRestrictions,
			v1alpha1.SchemeGroupVersion, rw, r, http.StatusOK, obj, false)
	})
}

func window(q history.Query) hypersdk.HistoryWindow {
	return hypersdk.HistoryWindow{
		Start: metav1.NewTime(q.Start.UTC()),
		End:   metav1.NewTime(q.End.UTC()),
		Step:  metav1.Duration{Duration: q.Step},
	}
}

// toAPI orders series as asked and adds units and trends; a field the store
// returned nothing for is an empty series, not a missing one.
func toAPI(fields []string, series []history.Series) []hypersdk.HistorySeries {
	byField := make(map[string]history.Series, len(series))
	for _, s := range series {
		byField[s.Field] = s
	}
	out := make([]hypersdk.HistorySeries, 0, len(fields))
	for _, f := range fields {
		s := byField[f]
		points := make([]hypersdk.HistoryPoint, len(s.Points))
		for i, p := range s.Points {
			points[i] = hypersdk.HistoryPoint{Time: metav1.NewTime(p.Time.UTC()), Value: p.Value}
		}
		t := history.Trends(s.Points)
		out = append(out, hypersdk.HistorySeries{
			Field: f, Unit: units[f], Points: points,
			Trend: hypersdk.HistoryTrend{Avg: t.Avg, Min: t.Min, Max: t.Max, P95: t.P95, Count: int32(t.Count)},
		})
	}
	return out
}
