package main

import (
	"errors"
	"flag"
	"fmt"
	"net"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/spf13/pflag"
	utilerrors "k8s.io/apimachinery/pkg/util/errors"
	cliflag "k8s.io/component-base/cli/flag"
	"k8s.io/klog/v2"

	"github.com/hypersdk/hypersdk/pkg/carbonflags"
	"github.com/hypersdk/hypersdk/pkg/history"
	"github.com/hypersdk/hypersdk/pkg/historystore"
	"github.com/hypersdk/hypersdk/pkg/operations"
	"github.com/hypersdk/hypersdk/pkg/recorder"
	"github.com/hypersdk/hypersdk/pkg/tlsserve"
)

// The controllers hypersdk-controller can run.
const (
	executorController       = "executor"
	recorderController       = "recorder"
	placementAuditController = "placement-audit"
	certificatesController   = "certificates"
	carbonScalerController   = "carbon-scaler"
	autoscalerController     = "autoscaler"
	backupController         = "backup"
	budgetController         = "budget"
	idleController           = "idle"
	rebalanceController      = "rebalance"
)

var (
	allControllers = []string{executorController, recorderController, placementAuditController, certificatesController,
		carbonScalerController, autoscalerController, backupController, budgetController, idleController, rebalanceController}
	// certificates needs a configuration, so "*" leaves it out.
	defaultControllers = []string{executorController, recorderController, placementAuditController, carbonScalerController,
		autoscalerController, backupController, budgetController, idleController, rebalanceController}
)

// options are the command-line options of hypersdk-controller.
type options struct {
	Kubeconfig     string
	Controllers    []string
	LeaderElect    bool
	LeaseNamespace string
	Identity       string
	MetricsAddress string
	Metrics        tlsserve.Options
	Executor       operations.ExecutorConfig
	RecordInterval time.Duration
	History        historystore.Options
	Carbon         carbonflags.Options
	// CarbonScalingInterval is how often CarbonScalingPolicies are applied.
	CarbonScalingInterval time.Duration
	Certificates          string
	Autoscaler            autoscalerOptions
	// BackupInterval is how often BackupSchedules are brought up to date.
	BackupInterval time.Duration
	// BudgetInterval is how often Budgets' spend is read.
	BudgetInterval time.Duration
	// IdleInterval is how often IdleVMPolicies look at their VMs.
	IdleInterval time.Duration
	// RebalanceInterval is how often RebalancePolicies plan.
	RebalanceInterval time.Duration
}

// autoscalerOptions configure the VirtualMachineAutoscaler controller.
type autoscalerOptions struct {
	// Interval between passes over the autoscalers.
	Interval time.Duration
	// Window is how much history a VM's recommender starts from.
	Window time.Duration
	// Strategy is the recommender: vm (HyperSDK's) or vpa (the baseline).
	Strategy string
}

func newOptions() *options {
	host, _ := os.Hostname()
	return &options{
		Controllers:    []string{"*"},
		LeaderElect:    true,
		LeaseNamespace: "hypersdk-system",
		Identity:       fmt.Sprintf("%s_%d", host, os.Getpid()),
		MetricsAddress: "127.0.0.1:8080",
		Executor: operations.ExecutorConfig{
			TTL:                  operations.DefaultTTL,
			MaxMigrations:        operations.DefaultMaxMigrations,
			MaxMigrationsPerNode: operations.DefaultMaxMigrationsNode,
			Workers:              16,
		},
		RecordInterval:        recorder.DefaultInterval,
		CarbonScalingInterval: time.Minute,
		Autoscaler:            autoscalerOptions{Interval: time.Minute, Window: 8 * 24 * time.Hour, Strategy: "vm"},
		BackupInterval:        10 * time.Second,
		BudgetInterval:        time.Minute,
		IdleInterval:          time.Minute,
		RebalanceInterval:     time.Minute,
	}
}

// flags returns the options as named flag sets.
func (o *options) flags() cliflag.NamedFlagSets {
	var fss cliflag.NamedFlagSets
	fs := fss.FlagSet("controller")
	fs.StringVar(&o.Kubeconfig, "kubeconfig", o.Kubeconfig, "Path of a kubeconfig; in-cluster configuration when empty.")
	fs.StringSliceVar(&o.Controllers, "controllers", o.Controllers, fmt.Sprintf(
		"Controllers to run: '*' for %s; a name adds one, '-name' removes one. All: %s.",
		strings.Join(defaultControllers, ", "), strings.Join(allControllers, ", ")))
	fs.BoolVar(&o.LeaderElect, "leader-elect", o.LeaderElect, "Run only while holding the leader lease, so replicas can stand by.")
	fs.StringVar(&o.LeaseNamespace, "leader-elect-namespace", o.LeaseNamespace, "Namespace of the leader lease.")
	fs.StringVar(&o.Identity, "leader-elect-identity", o.Identity, "This replica's name in the lease.")
	fs.StringVar(&o.MetricsAddress, "metrics-bind-address", o.MetricsAddress, "Address /metrics is served on; empty disables it.")
	o.Metrics.AddFlags(fss.FlagSet("metrics serving"))
	ex := fss.FlagSet("operations")
	ex.DurationVar(&o.Executor.TTL, "operation-ttl", o.Executor.TTL, "How long finished VMOperations are kept.")
	ex.IntVar(&o.Executor.MaxMigrations, "max-migrations", o.Executor.MaxMigrations, "Migrations in flight in the cluster at most.")
	ex.IntVar(&o.Executor.MaxMigrationsPerNode, "max-migrations-per-node", o.Executor.MaxMigrationsPerNode, "Migrations leaving one node at most.")
	ex.IntVar(&o.Executor.Workers, "workers", o.Executor.Workers, "Operations worked on at once.")
	hist := fss.FlagSet("history")
	hist.DurationVar(&o.RecordInterval, "record-interval", o.RecordInterval, "How often the history recorder samples every VM.")
	o.History.AddFlags(hist)
	carbonFlags := fss.FlagSet("carbon")
	o.Carbon.AddFlags(carbonFlags)
	carbonFlags.DurationVar(&o.CarbonScalingInterval, "carbon-scaling-interval", o.CarbonScalingInterval,
		"How often the carbon scaler reads intensities and applies CarbonScalingPolicies to HPAs.")
	as := fss.FlagSet("autoscaler")
	as.DurationVar(&o.Autoscaler.Interval, "autoscaler-interval", o.Autoscaler.Interval,
		"How often VirtualMachineAutoscalers recommend and act; their VMs' history is read at --record-interval steps.")
	as.DurationVar(&o.Autoscaler.Window, "autoscaler-history-window", o.Autoscaler.Window,
		"How much of a VM's history its recommender is built from when the controller starts (the VPA's 8 days by default).")
	as.StringVar(&o.Autoscaler.Strategy, "autoscaler-strategy", o.Autoscaler.Strategy,
		"Recommender: vm (HyperSDK's, for VMs) or vpa (the Vertical Pod Autoscaler's, as a baseline).")
	fss.FlagSet("backup").DurationVar(&o.BackupInterval, "backup-interval", o.BackupInterval,
		"How often BackupSchedules are checked: a run starts within this long of its slot.")
	fss.FlagSet("budget").DurationVar(&o.BudgetInterval, "budget-interval", o.BudgetInterval,
		"How often Budgets' month to date is read: a spent, enforced budget refuses new VMs within this long.")
	fss.FlagSet("idle").DurationVar(&o.IdleInterval, "idle-interval", o.IdleInterval,
		"How often IdleVMPolicies look at their VMs' history.")
	fss.FlagSet("rebalance").DurationVar(&o.RebalanceInterval, "rebalance-interval", o.RebalanceInterval,
		"How often RebalancePolicies plan and start migrations.")
	fss.FlagSet("certificates").StringVar(&o.Certificates, "certificates-config", o.Certificates,
		"File naming the CA and certificate Secrets the certificates controller keeps and the APIServices whose caBundle it sets.")
	goflags := flag.NewFlagSet("klog", flag.ExitOnError)
	klog.InitFlags(goflags)
	fss.FlagSet("logging").AddGoFlagSet(goflags)
	return fss
}

// enabled returns the controllers --controllers selects: '*' the
// defaults wherever it stands, then each named one in order, 'name' on
// and '-name' off, the last one naming a controller deciding (a patch
// appends "recorder" to "*,-recorder"). So "-rebalance,*" runs no
// rebalancer, as kube-controller-manager reads it.
func (o *options) enabled() []string {
	var on []string
	if slices.Contains(o.Controllers, "*") {
		on = slices.Clone(defaultControllers)
	}
	for _, c := range o.Controllers {
		switch {
		case c == "*":
		case strings.HasPrefix(c, "-"):
			on = slices.DeleteFunc(on, func(s string) bool { return s == c[1:] })
		default:
			on = append(on, c)
		}
	}
	slices.Sort(on)
	return slices.Compact(on)
}

// validate returns every problem with the options at once.
func (o *options) validate() error {
	var errs []error
	if _, _, err := net.SplitHostPort(o.MetricsAddress); err != nil && o.MetricsAddress != "" {
		errs = append(errs, fmt.Errorf("--metrics-bind-address=%s: %w (an IPv6 address goes in brackets: [fd00::1]:8080)", o.MetricsAddress, err))
	}
	for _, c := range o.Controllers {
		if name := strings.TrimPrefix(c, "-"); c != "*" && !slices.Contains(allControllers, name) {
			errs = append(errs, fmt.Errorf("--controllers: unknown controller %q (known: %s)", name, strings.Join(allControllers, ", ")))
		}
	}
	on := o.enabled()
	if slices.Contains(on, certificatesController) && o.Certificates == "" {
		errs = append(errs, errors.New("the certificates controller needs --certificates-config"))
	}
	if slices.Contains(on, carbonScalerController) && o.CarbonScalingInterval <= 0 {
		errs = append(errs, fmt.Errorf("--carbon-scaling-interval must be positive, got %v", o.CarbonScalingInterval))
	}
	if slices.Contains(on, backupController) && o.BackupInterval <= 0 {
		errs = append(errs, fmt.Errorf("--backup-interval must be positive, got %v", o.BackupInterval))
	}
	if slices.Contains(on, rebalanceController) && o.RebalanceInterval <= 0 {
		errs = append(errs, fmt.Errorf("--rebalance-interval must be positive, got %v", o.RebalanceInterval))
	}
	if slices.Contains(on, idleController) && o.IdleInterval <= 0 {
		errs = append(errs, fmt.Errorf("--idle-interval must be positive, got %v", o.IdleInterval))
	}
	if slices.Contains(on, budgetController) && o.BudgetInterval <= 0 {
		errs = append(errs, fmt.Errorf("--budget-interval must be positive, got %v", o.BudgetInterval))
	}
	if slices.Contains(on, autoscalerController) {
		if o.Autoscaler.Interval <= 0 || o.Autoscaler.Window <= 0 {
			errs = append(errs, fmt.Errorf("--autoscaler-interval and --autoscaler-history-window must be positive, got %v and %v",
				o.Autoscaler.Interval, o.Autoscaler.Window))
		}
		if o.Autoscaler.Strategy != "vm" && o.Autoscaler.Strategy != "vpa" {
			errs = append(errs, fmt.Errorf("--autoscaler-strategy: unknown strategy %q (known: vm, vpa)", o.Autoscaler.Strategy))
		}
	}
	// The autoscaler and the idle finder read history at the recorder's step.
	if slices.Contains(on, recorderController) || slices.Contains(on, autoscalerController) || slices.Contains(on, idleController) {
		if o.RecordInterval <= 0 {
			errs = append(errs, fmt.Errorf("--record-interval must be positive, got %v", o.RecordInterval))
		}
		// Samples further apart read as outages: spend would count a
		// minute for each.
		if limit := history.MaxSampleGap - history.IntegrationStep; o.RecordInterval > limit {
			errs = append(errs, fmt.Errorf("--record-interval must be at most %v, got %v", limit, o.RecordInterval))
		}
	}
	if o.Executor.Workers < 1 || o.Executor.MaxMigrations < 1 || o.Executor.MaxMigrationsPerNode < 1 {
		errs = append(errs, errors.New("--workers, --max-migrations and --max-migrations-per-node must be at least 1"))
	}
	if o.Executor.TTL <= 0 {
		errs = append(errs, fmt.Errorf("--operation-ttl must be positive, got %v", o.Executor.TTL))
	}
	if o.LeaderElect && (o.LeaseNamespace == "" || o.Identity == "") {
		errs = append(errs, errors.New("--leader-elect needs --leader-elect-namespace and --leader-elect-identity"))
	}
	errs = append(errs, o.Metrics.Validate()...)
	errs = append(errs, o.History.Validate()...)
	return utilerrors.NewAggregate(errs)
}

func addAll(fs *pflag.FlagSet, fss cliflag.NamedFlagSets) {
	for _, name := range fss.Order {
		fs.AddFlagSet(fss.FlagSets[name])
	}
}
