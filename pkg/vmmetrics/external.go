package vmmetrics

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/selection"
	"k8s.io/metrics/pkg/apis/external_metrics"
	"sigs.k8s.io/custom-metrics-apiserver/pkg/provider"

	"github.com/hypersdk/hypersdk/pkg/carbon"
)

// GetExternalMetric answers carbon_intensity and vm_cost_per_hour.
func (p *Provider) GetExternalMetric(ctx context.Context, namespace string, metricSelector labels.Selector, info provider.ExternalMetricInfo) (*external_metrics.ExternalMetricValueList, error) {
	want, err := equalities(metricSelector)
	if err != nil {
		return nil, err
	}
	switch info.Metric {
	case CarbonIntensity:
		return p.carbonIntensity(ctx, want)
	case CostPerHour:
		return p.costPerHour(ctx, namespace, want)
	}
	return nil, provider.NewMetricNotFoundError(external_metrics.SchemeGroupVersion.WithResource(info.Metric).GroupResource(), info.Metric)
}

// equalities reads a metric selector made of key=value terms, the only
// kind these metrics understand.
func equalities(sel labels.Selector) (map[string]string, error) {
	out := map[string]string{}
	reqs, _ := sel.Requirements()
	for _, r := range reqs {
		values := r.Values().UnsortedList()
		if (r.Operator() != selection.Equals && r.Operator() != selection.DoubleEquals && r.Operator() != selection.In) || len(values) != 1 {
			return nil, apierrors.NewBadRequest(fmt.Sprintf("metric label %q: only key=value selects these metrics", r.Key()))
		}
		if _, twice := out[r.Key()]; twice {
			return nil, apierrors.NewBadRequest(fmt.Sprintf("metric label %q: given twice; one value selects these metrics", r.Key()))
		}
		out[r.Key()] = values[0]
	}
	return out, nil
}

func (p *Provider) carbonIntensity(ctx context.Context, want map[string]string) (*external_metrics.ExternalMetricValueList, error) {
	zone := want["zone"]
	if zone == "" {
		return nil, apierrors.NewBadRequest("carbon_intensity needs the label zone, e.g. labelSelector=zone=DE")
	}
	for k := range want {
		if k != "zone" && k != "horizon" {
			return nil, apierrors.NewBadRequest(fmt.Sprintf("carbon_intensity has no label %q: use zone and horizon", k))
		}
	}
	cp := p.source.Carbon()
	if cp == nil {
		return nil, apierrors.NewServiceUnavailable("no carbon intensity provider is configured (--carbon-provider)")
	}
	labelSet := map[string]string{"zone": zone}
	var grams float64
	// The time of the reading: now for a current answer, the hour it was
	// for when the provider serves its last one while the upstream fails.
	at := p.clock.Now()
	if h, ok := want["horizon"]; ok {
		horizon, known := horizons[h]
		if !known {
			return nil, apierrors.NewBadRequest(fmt.Sprintf("horizon %q: use one of 1h, 6h, 24h", h))
		}
		forecast, err := carbon.ReadForecast(ctx, cp, zone, horizon)
		if err != nil {
			return nil, carbonError(zone, err)
		}
		if len(forecast) == 0 {
			return nil, apierrors.NewServiceUnavailable(fmt.Sprintf("no carbon intensity forecast for zone %s", zone))
		}
		for _, f := range forecast {
			grams += f.GramsPerKWh
		}
		grams /= float64(len(forecast))
		labelSet["horizon"] = h
	} else {
		current, err := carbon.Read(ctx, cp, zone)
		if err != nil {
			return nil, carbonError(zone, err)
		}
		if current.Freshness == carbon.Stale {
			at = current.At
		}
		grams = current.GramsPerKWh
	}
	return &external_metrics.ExternalMetricValueList{Items: []external_metrics.ExternalMetricValue{{
		MetricName: CarbonIntensity, MetricLabels: labelSet, Timestamp: metav1.NewTime(at), Value: quantity(grams),
	}}}, nil
}

// carbonError is NotFound for a zone the provider does not know, else
// unavailable: a provider that fails is not a clean grid.
func carbonError(zone string, err error) error {
	if errors.Is(err, carbon.ErrUnknownZone) {
		return apierrors.NewNotFound(external_metrics.SchemeGroupVersion.WithResource(CarbonIntensity).GroupResource(), zone)
	}
	return apierrors.NewServiceUnavailable(fmt.Sprintf("carbon intensity of zone %s: %v", zone, err))
}

// costPerHour sums the price of the running VMs in namespace (the
// request's: a namespace label may only repeat it), or of one pool's.
func (p *Provider) costPerHour(ctx context.Context, namespace string, want map[string]string) (*external_metrics.ExternalMetricValueList, error) {
	for k, v := range want {
		switch {
		case k == "namespace" && v != namespace:
			return nil, apierrors.NewBadRequest(fmt.Sprintf("vm_cost_per_hour is the request's namespace %q, not %q", namespace, v))
		case k != "namespace" && k != "pool":
			return nil, apierrors.NewBadRequest(fmt.Sprintf("vm_cost_per_hour has no label %q: use namespace and pool", k))
		}
	}
	samples, err := p.samples(ctx)
	if err != nil {
		return nil, err
	}
	pool := want["pool"]
	var total float64
	var at metav1.Time
	var pooled bool
	var unpriced []string
	for key, s := range samples {
		if key.Namespace != namespace {
			continue
		}
		if pool != "" {
			vm, ok := p.source.VirtualMachine(key.Namespace, key.Name)
			if !ok || !ownedByPool(vm, pool) {
				continue
			}
			pooled = true
		}
		if s.Node == "" {
			continue
		}
		if !s.Priced {
			unpriced = append(unpriced, key.Name+" (node "+s.Node+")")
		}
		total += s.CostPerHour
		at = metav1.NewTime(s.at)
	}
	// A pool of no VMs is a name nothing has; one whose VMs are stopped
	// costs nothing. A running VM without a price is not free: the sum
	// would be too low, so there is none.
	if pool != "" && !pooled {
		return nil, apierrors.NewNotFound(Pools, pool+" (no VMs)")
	}
	if len(unpriced) > 0 {
		slices.Sort(unpriced)
		return nil, apierrors.NewServiceUnavailable(fmt.Sprintf("vm_cost_per_hour: no price for VM %s: the price model does not cover its node", strings.Join(unpriced, ", ")))
	}
	if at.IsZero() {
		at = metav1.NewTime(p.clock.Now())
	}
	labelSet := map[string]string{"namespace": namespace}
	if pool != "" {
		labelSet["pool"] = pool
	}
	return &external_metrics.ExternalMetricValueList{Items: []external_metrics.ExternalMetricValue{{
		MetricName: CostPerHour, MetricLabels: labelSet, Timestamp: at, Value: quantity(total),
	}}}, nil
}

// ListAllExternalMetrics lists the external metrics: the set is fixed.
func (p *Provider) ListAllExternalMetrics() []provider.ExternalMetricInfo {
	return []provider.ExternalMetricInfo{{Metric: CarbonIntensity}, {Metric: CostPerHour}}
}
