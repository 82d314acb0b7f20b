// Package fuzzer fills hypersdk.io objects with random, already-defaulted
// values for round-trip tests: decoding applies defaults, so a fuzzed object
// must hold them already to compare equal after the trip.
package fuzzer

import (
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	runtimeserializer "k8s.io/apimachinery/pkg/runtime/serializer"
	"sigs.k8s.io/randfill"

	"github.com/hypersdk/hypersdk/apis/hypersdk"
)

// Funcs returns the fuzzer functions of the hypersdk.io group.
var Funcs = func(runtimeserializer.CodecFactory) []interface{} {
	return []interface{}{
		func(s *hypersdk.VirtualMachineSpec, c randfill.Continue) {
			c.FillNoCustom(s)
			if s.Running == nil {
				running := c.Bool()
				s.Running = &running
			}
		},
		func(g *hypersdk.GPURequest, c randfill.Continue) {
			c.FillNoCustom(g)
			if g.Count == 0 {
				g.Count = 1
			}
		},
		func(s *hypersdk.ResizeSpec, c randfill.Continue) {
			c.FillNoCustom(s)
			if s.RestartPolicy == "" {
				s.RestartPolicy = hypersdk.ResizeRestartIfNeeded
			}
		},
		func(s *hypersdk.VirtualMachineAutoscalerSpec, c randfill.Continue) {
			c.FillNoCustom(s)
			if s.UpdateMode == "" {
				s.UpdateMode = hypersdk.AutoscalerUpdateOff
			}
			if len(s.ControlledResources) == 0 {
				s.ControlledResources = []string{hypersdk.AutoscalerResourceCPU, hypersdk.AutoscalerResourceMemory}
			}
			if s.MaxChangesPerDay == nil {
				n := int32(2)
				s.MaxChangesPerDay = &n
			}
			if s.Cooldown == nil {
				s.Cooldown = &metav1.Duration{Duration: time.Hour}
			}
		},
		func(s *hypersdk.IdleVMPolicySpec, c randfill.Continue) {
			c.FillNoCustom(s)
			if s.CPUThresholdPercent == 0 {
				s.CPUThresholdPercent = 5
			}
			if s.Window == nil {
				s.Window = &metav1.Duration{Duration: 24 * time.Hour}
			}
			if s.Action == "" {
				s.Action = hypersdk.IdleActionReport
			}
			if s.GracePeriod == nil {
				s.GracePeriod = &metav1.Duration{Duration: time.Hour}
			}
		},
		func(s *hypersdk.RebalancePolicySpec, c randfill.Continue) {
			c.FillNoCustom(s)
			if s.Mode == "" {
				s.Mode = hypersdk.RebalanceDryRun
			}
			if s.MaxInFlight == 0 {
				s.MaxInFlight = 5
			}
			if s.MaxInFlightPerNode == 0 {
				s.MaxInFlightPerNode = 2
			}
			if s.Cooldown == nil {
				s.Cooldown = &metav1.Duration{Duration: time.Hour}
			}
		},
		func(s *hypersdk.PressureTrigger, c randfill.Continue) {
			c.FillNoCustom(s)
			if s.LowThresholdPercent == 0 {
				s.LowThresholdPercent = 20
			}
			if s.HighThresholdPercent == 0 {
				s.HighThresholdPercent = 80
			}
			if s.For == nil {
				s.For = &metav1.Duration{Duration: 5 * time.Minute}
			}
		},
		func(s *hypersdk.CarbonTrigger, c randfill.Continue) {
			c.FillNoCustom(s)
			if s.ThresholdPercent == 0 {
				s.ThresholdPercent = 20
			}
			if s.For == nil {
				s.For = &metav1.Duration{Duration: time.Hour}
			}
			if s.ForecastHorizon == nil {
				s.ForecastHorizon = &metav1.Duration{Duration: 4 * time.Hour}
			}
		},
		func(s *hypersdk.CostTrigger, c randfill.Continue) {
			c.FillNoCustom(s)
			if s.ThresholdPercent == 0 {
				s.ThresholdPercent = 10
			}
		},
		func(s *hypersdk.MaintenanceTrigger, c randfill.Continue) {
			c.FillNoCustom(s)
			if s.DrainBefore == nil {
				s.DrainBefore = &metav1.Duration{Duration: time.Hour}
			}
		},
		func(s *hypersdk.BudgetSpec, c randfill.Continue) {
			c.FillNoCustom(s)
			if len(s.Thresholds) == 0 {
				s.Thresholds = []int32{50, 80, 100}
			}
		},
		func(s *hypersdk.DashboardSpec, c randfill.Continue) {
			c.FillNoCustom(s)
			if s.Columns == 0 {
				s.Columns = 12
			}
			if s.TimeRange == (hypersdk.DashboardTimeRange{}) {
				s.TimeRange.Last = "24h"
			}
		},
		func(s *hypersdk.BackupScheduleSpec, c randfill.Continue) {
			c.FillNoCustom(s)
			if s.MaxConcurrent == nil {
				n := int32(5)
				s.MaxConcurrent = &n
			}
			if v := s.Verification; v != nil {
				if v.Every == 0 {
					v.Every = 1
				}
				if v.Timeout.Duration == 0 {
					v.Timeout.Duration = 10 * time.Minute
				}
				if v.Command == "" && v.ExpectedOutput == "" {
					v.ExpectedOutput = "login:"
				}
			}
		},
		func(s *hypersdk.VMOperationSpec, c randfill.Continue) {
			c.FillNoCustom(s)
			// Defaulting fills the options of option-less types when no
			// block is set; give them one.
			none := s.Clone == nil && s.Migrate == nil && s.Resize == nil && s.Snapshot == nil &&
				s.Start == nil && s.Stop == nil && s.Restart == nil && s.Restore == nil
			if !none {
				return
			}
			switch s.Type {
			case hypersdk.VMOperationMigrate:
				s.Migrate = &hypersdk.MigrateSpec{}
			case hypersdk.VMOperationSnapshot:
				s.Snapshot = &hypersdk.SnapshotSpec{}
			case hypersdk.VMOperationStart:
				s.Start = &hypersdk.StartSpec{}
			case hypersdk.VMOperationStop:
				s.Stop = &hypersdk.StopSpec{}
			case hypersdk.VMOperationRestart:
				s.Restart = &hypersdk.RestartSpec{}
			}
		},
	}
}
