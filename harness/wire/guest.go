package wire

// What the host and the guest agent agree on besides the stream itself: how the host
// configures the agent, where it puts files in the initramfs, and the names of the channels.
// The host side imports only this package of the guest's, so it links neither the probe engine
// nor cilium/ebpf.

// Environment variables (kernel command-line words of the form KEY=VALUE, which reach init as
// environment variables) that configure the agent.
const (
	// EnvChannel selects the result channel: ChannelVirtio or ChannelSerial.
	EnvChannel = "BPFMATRIX_CHANNEL"
	// EnvCompress set to "1" gzips the result stream.
	EnvCompress = "BPFMATRIX_COMPRESS"
	// EnvProgTypes limits the probe to a comma-separated list of program types.
	EnvProgTypes = "BPFMATRIX_PROG_TYPES"
	// EnvHelpers limits the probe to a comma-separated list of helper ids.
	EnvHelpers = "BPFMATRIX_HELPERS"
	// EnvKfuncs limits the kfunc pass to a comma-separated list of kfunc names; NoKfuncs asks
	// about none (a helper-only probe, for comparisons).
	EnvKfuncs = "BPFMATRIX_KFUNCS"
	// EnvFault makes the agent misbehave on purpose, so that tests can check that the host
	// reports such a guest as a failed kernel: "hang" stops after the header and sleeps forever,
	// "panic" crashes init (a kernel panic) after the header, "truncate" powers off after
	// TruncateAfter results without a trailer. Nothing but tests sets it.
	EnvFault = "BPFMATRIX_AGENT_FAULT"
	// EnvFloor set to a number of rounds asks the agent for the bare-load floor instead of a
	// probe (probe.Floor): its header's passes carry the floor's loads and seconds, and it sends
	// no results. make bench sets it.
	EnvFloor = "BPFMATRIX_FLOOR"
	// EnvExhaustive set to "1" makes the probe load every pair, even on a kernel release its
	// plan was learnt from (probe.Options.Exhaustive).
	EnvExhaustive = "BPFMATRIX_EXHAUSTIVE"
)

// TruncateAfter is the number of results after which the "truncate" fault cuts the stream.
const TruncateAfter = 10

// Result channels.
const (
	// ChannelVirtio is a virtio-serial port named PortName: fast, built into 6.x cloud kernels,
	// modules on 5.10.
	ChannelVirtio = "virtio"
	// ChannelSerial is the guest's second UART (ttyS1): slow (about 100 KB/s under TCG) but
	// present in every kernel; its stream is always compressed.
	ChannelSerial = "serial"
)

// PortName is the name of the virtio-serial port that carries results.
const PortName = "org.bpfmatrix.results"

// Paths in the initramfs.
const (
	// ModuleDir holds kernel modules to load before the channel opens (the virtio drivers of
	// kernels that build them as modules), loaded in name order.
	ModuleDir = "/lib/modules/bpfmatrix"
	// KfuncModuleDir holds the modules the image ships that register kfuncs, with their
	// dependencies, loaded in name order after the channel opens: one the kernel refuses is
	// recorded in the facts, and the probe goes on without its kfuncs.
	KfuncModuleDir = "/lib/modules/bpfmatrix-kfunc"
	// KernelConfigPath is where the host puts the kernel's build configuration: Debian kernels
	// do not expose /proc/config.gz, and the probe names the options a refused variant lacks.
	KernelConfigPath = "/kernel-config"
)

// NoKfuncs is the EnvKfuncs value of a probe that asks about no kfunc: no kernel has a function
// of that name.
const NoKfuncs = "-"

// LoadPlanPath is where the host puts a LoadPlan (JSON) in the initramfs. When the file exists the
// agent loads the plan's objects instead of probing: its result lines are then
// observation.ProgramLoad records, one per (object, program), in plan order and then in the
// object's program order.
const LoadPlanPath = "/bpfmatrix/load.json"

// ObjectDir holds the objects of a LoadPlan in the initramfs.
const ObjectDir = "/bpfmatrix/objects"

// LoadPlan is what a guest that loads users' BPF objects is asked to do.
type LoadPlan struct {
	// Objects are the objects to load, each program on its own.
	Objects []LoadObject `json:"objects"`
	// Set holds the user's --set words (PROG.target=FUNC, MAP.max_entries=N, optionally
	// prefixed by OBJECT: to apply to one object only), checked by the host before the boot.
	Set []string `json:"set,omitempty"`
	// Attach asks the guest to also attach each program that loaded and whose section names
	// a target, and to detach it again.
	Attach bool `json:"attach,omitempty"`
}

// LoadObject is one object of a LoadPlan.
type LoadObject struct {
	// Path is the object's file in the guest, under ObjectDir.
	Path string `json:"path"`
	// Name is the object's file name as the user gave it, for the answers.
	Name string `json:"name"`
	// SHA256 is the hex SHA-256 of the file.
	SHA256 string `json:"sha256"`
}
