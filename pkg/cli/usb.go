package cli

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/hypersdk/hypersdk/apis/hypersdk/v1alpha1"
)

// plugOperation hot-plugs a device of the VM's node (virtualmachines/attachusb).
var plugOperation = operationCommand{"attachusb", "Hot-plug a USB device of the VM's node into the running VM",
	func(cmd *cobra.Command) func() (interface{}, error) {
		d := &v1alpha1.USBDeviceRequest{}
		cmd.Flags().StringVar(&d.Name, "device", "", "Name of the attachment, unique in the VM (required).")
		cmd.Flags().StringVar(&d.Vendor, "vendor", "", "USB vendor ID, four hexadecimal digits (required).")
		cmd.Flags().StringVar(&d.Product, "product", "", "USB product ID, four hexadecimal digits (required).")
		cmd.Flags().StringVar(&d.Class, "class", "", "USB device class, two hexadecimal digits.")
		cmd.Flags().StringVar(&d.Serial, "serial", "", "Serial number (needs --class).")
		return func() (interface{}, error) {
			if d.Name == "" || d.Vendor == "" || d.Product == "" {
				return nil, fmt.Errorf("--device, --vendor and --product are required")
			}
			return &v1alpha1.AttachUSBSpec{Device: *d}, nil
		}
	}}

// unplugOperation unplugs a hot-plugged device (virtualmachines/detachusb).
var unplugOperation = operationCommand{"detachusb", "Unplug a USB device hot-plugged into the VM",
	func(cmd *cobra.Command) func() (interface{}, error) {
		spec := &v1alpha1.DetachUSBSpec{}
		cmd.Flags().StringVar(&spec.Name, "device", "", "Name of the attachment (required).")
		return func() (interface{}, error) {
			if spec.Name == "" {
				return nil, fmt.Errorf("--device is required")
			}
			return spec, nil
		}
	}}

func newUSBCommand(e *env) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "usb",
		Short: "Lend a VM USB devices: of this machine (attach), or of its node (plug, unplug)",
	}
	var address string
	attach := &cobra.Command{
		Use:   "attach NAME",
		Short: "Serve a VM's USB redirection on a local port for usbredirect",
		Long: `Listen on a local address and bridge each usbredir client that connects to
the VM's virtualmachines/usbredir (with your credentials; the VM needs
spec.usbRedirection). Each connection lends the guest one device, for as
long as it lasts; a guest has four slots. Prints the address; runs until
interrupted. Lend a device with, for example:

  usbredirect --device 0781:5567 --to 127.0.0.1:PORT`,
		Example:           `  kubectl hyper usb attach my-vm --address 127.0.0.1:4000`,
		Args:              exactlyOneVM,
		ValidArgsFunction: completeVMs(e),
		RunE: func(cmd *cobra.Command, args []string) error {
			return listenAndBridge(cmd, e, args[0], "usbredir", "USB redirection", address)
		},
	}
	attach.Flags().StringVar(&address, "address", "127.0.0.1:0", "Local address to listen on (port 0 picks a free one).")
	plug := newOperationCommand(e, plugOperation)
	plug.Use, plug.Example = "plug NAME", `  kubectl hyper usb plug my-vm --device stick --vendor 0781 --product 5581 --wait`
	unplug := newOperationCommand(e, unplugOperation)
	unplug.Use, unplug.Example = "unplug NAME", `  kubectl hyper usb unplug my-vm --device stick --wait`
	cmd.AddCommand(attach, plug, unplug)
	return cmd
}
