package cli

import (
	"github.com/spf13/cobra"
)

func newUSBCommand(e *env) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "usb",
		Short: "Lend a VM the USB devices of this machine",
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
	cmd.AddCommand(attach)
	return cmd
}
