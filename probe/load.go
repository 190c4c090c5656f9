package probe

import (
	"errors"
	"runtime"
	"sync/atomic"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// progLoadAttr is the BPF_PROG_LOAD member of the kernel's union bpf_attr, up to attach_prog_fd
// (5.5). Later members (core relocations, fd_array, log_true_size, tokens) are left out: the
// kernel treats a shorter attr as zero-filled, and every kernel from 5.10 on accepts this size.
type progLoadAttr struct {
	progType           uint32
	insnCnt            uint32
	insns              uint64
	license            uint64
	logLevel           uint32
	logSize            uint32
	logBuf             uint64
	kernVersion        uint32
	progFlags          uint32
	progName           [16]byte
	progIfindex        uint32
	expectedAttachType uint32
	progBTFFD          uint32
	funcInfoRecSize    uint32
	funcInfo           uint64
	funcInfoCnt        uint32
	lineInfoRecSize    uint32
	lineInfo           uint64
	lineInfoCnt        uint32
	attachBTFID        uint32
	attachProgFD       uint32
	_                  uint32 // core_relo_cnt; keeps the size a multiple of 8
}

// progLoadAttrFDs is progLoadAttr followed by fd_array (5.14), the array of fds that
// instructions name by index: a call to a module's kfunc names the module's BTF that way. Only
// loads that pass fds use this longer attr, so that every other load stays what older kernels
// accept.
type progLoadAttrFDs struct {
	progLoadAttr
	fdArray uint64
}

// progLoad runs BPF_PROG_LOAD with attr, and with fdArray as its fd_array unless it is nil.
func progLoad(attr *progLoadAttr, fdArray []int32) (uintptr, unix.Errno) {
	if fdArray == nil {
		fd, _, errno := unix.Syscall(unix.SYS_BPF, unix.BPF_PROG_LOAD, uintptr(unsafe.Pointer(attr)), unsafe.Sizeof(*attr))
		return fd, errno
	}
	full := progLoadAttrFDs{progLoadAttr: *attr, fdArray: uint64(uintptr(unsafe.Pointer(&fdArray[0])))}
	fd, _, errno := unix.Syscall(unix.SYS_BPF, unix.BPF_PROG_LOAD, uintptr(unsafe.Pointer(&full)), unsafe.Sizeof(full))
	runtime.KeepAlive(fdArray)
	return fd, errno
}

// funcInfoRecSize is the size of struct bpf_func_info { __u32 insn_off; __u32 type_id; }.
const funcInfoRecSize = 8

// Licenses of probe programs. Any non-GPL string works for the second; "MIT" is what a typical
// permissively licensed BPF library would declare.
var (
	licenseGPL    = []byte("GPL\x00")
	licenseNonGPL = []byte("MIT\x00")
)

// program is everything BPF_PROG_LOAD needs except the instructions and the license.
type program struct {
	progType     uint32
	attachType   uint32
	attachBTFID  uint32
	attachProgFD uint32
	flags        uint32
	ifindex      uint32 // a network device to bind the program to (see kfunc_device.go), or 0
	btfFD        uint32
	funcInfo     []byte // bpf_func_info records (funcInfoRecSize bytes each), or nil
	// fdArray, unless nil, is passed as the load's fd_array (see progLoadAttrFDs).
	fdArray []int32
	// cost, unless nil, counts the load and its time for the variant the program probes, so
	// that a run can say what each attach point cost (observation.VariantInfo.Loads).
	cost *loadCost
}

// loadCost is what the loads of one variant cost, added to by every worker.
type loadCost struct {
	loads atomic.Int64
	nanos atomic.Int64
}

// add counts one load that took d, retries included.
func (c *loadCost) add(d time.Duration) {
	c.loads.Add(1)
	c.nanos.Add(int64(d))
}

// loadResult is what one BPF_PROG_LOAD said.
type loadResult struct {
	errno unix.Errno // 0 when the program loaded
	log   string
}

// loadStats counts syscalls of one worker; see Stats.
type loadStats struct {
	loads       int // completed BPF_PROG_LOAD calls that produced an answer
	retries     int // EAGAIN / EINTR repeats
	logRetries  int // ENOSPC repeats with a bigger buffer
	maxLogBytes int // longest log seen
}

// maxSignalRetries bounds EAGAIN/EINTR repeats of one load. Go's runtime preempts goroutines
// with signals, and a signal arriving during verification makes the kernel give up with EAGAIN;
// a handful of repeats per thousand loads is normal, an endless stream is not.
const maxSignalRetries = 1000

// maxLogSize is the largest log buffer tried after ENOSPC: the kernel caps log_size at 16 MiB
// (UINT_MAX >> 8 on older kernels).
const maxLogSize = 16 << 20

// Verifier log levels a loader asks for (the uapi's BPF_LOG_LEVEL1 and BPF_LOG_STATS).
const (
	// logInstructions is the full log: every instruction the verifier walked and the register
	// states at branches, then its messages. The argument pass and the variants' set-up read
	// which instruction was refused from it.
	logInstructions uint32 = 1
	// logMessages keeps the verifier's messages (every refusal's words) and its closing
	// statistics, without the instructions and states: formatting those took a third of every
	// answer load's time in the kernel, and an answer is decided by the messages alone. The
	// exhaustive probe keeps the full log, so the tests that hold a planned probe's answers to
	// an exhaustive one's (on this machine's kernel and in guests) check this too.
	logMessages uint32 = 4
)

// loader runs BPF_PROG_LOAD with one reusable log buffer; it is owned by one goroutine.
type loader struct {
	logBuf   []byte
	logLevel uint32
	stats    loadStats
}

// newLoader returns a loader that asks for the full log (logInstructions).
func newLoader(logSize int) *loader {
	return &loader{logBuf: make([]byte, logSize), logLevel: logInstructions}
}

// load loads insns (already marshalled) as prog, reads the log, and closes the program at
// once when the kernel accepted it.
func (l *loader) load(prog *program, insns []byte, gpl bool) loadResult {
	_, res := l.loadFD(prog, insns, gpl, false)
	return res
}

// fullLog loads insns again asking for the full log, whatever level l asks for: an
// unclassified answer keeps the log a person needs to read it, instructions included.
func (l *loader) fullLog(prog *program, insns []byte, gpl bool) string {
	return l.loadAtLevel(logInstructions, prog, insns, gpl).log
}

// loadAtLevel is load asking for the log at level, whatever level l asks for.
func (l *loader) loadAtLevel(level uint32, prog *program, insns []byte, gpl bool) loadResult {
	was := l.logLevel
	l.logLevel = level
	defer func() { l.logLevel = was }()
	return l.load(prog, insns, gpl)
}

// loadFD is load that, when keep is set, returns the program's fd open instead of closing it
// (-1 when the load failed). Only the ext variant's target program is kept, for the duration of
// a probe run.
func (l *loader) loadFD(prog *program, insns []byte, gpl, keep bool) (int, loadResult) {
	license := licenseNonGPL
	if gpl {
		license = licenseGPL
	}
	signalRetries := 0
	if prog.cost != nil {
		start := time.Now()
		defer func() { prog.cost.add(time.Since(start)) }()
	}
	for {
		l.logBuf[0] = 0 // a load refused before the verifier ran leaves the buffer untouched
		attr := progLoadAttr{
			progType:           prog.progType,
			insnCnt:            uint32(len(insns) / 8),
			insns:              uint64(uintptr(unsafe.Pointer(&insns[0]))),
			license:            uint64(uintptr(unsafe.Pointer(&license[0]))),
			logLevel:           l.logLevel,
			logSize:            uint32(len(l.logBuf)),
			logBuf:             uint64(uintptr(unsafe.Pointer(&l.logBuf[0]))),
			progFlags:          prog.flags,
			progIfindex:        prog.ifindex,
			expectedAttachType: prog.attachType,
			attachBTFID:        prog.attachBTFID,
			attachProgFD:       prog.attachProgFD,
		}
		if prog.funcInfo != nil {
			attr.progBTFFD = prog.btfFD
			attr.funcInfoRecSize = funcInfoRecSize
			attr.funcInfo = uint64(uintptr(unsafe.Pointer(&prog.funcInfo[0])))
			attr.funcInfoCnt = uint32(len(prog.funcInfo) / funcInfoRecSize)
		}
		fd, errno := progLoad(&attr, prog.fdArray)
		runtime.KeepAlive(insns)
		runtime.KeepAlive(license)
		runtime.KeepAlive(prog)
		if errno == 0 && !keep {
			unix.Close(int(fd))
		}
		switch {
		case errors.Is(errno, unix.EAGAIN) || errors.Is(errno, unix.EINTR):
			l.stats.retries++
			signalRetries++
			if signalRetries < maxSignalRetries {
				continue
			}
		case errors.Is(errno, unix.ENOSPC) && len(l.logBuf) < maxLogSize:
			// The log did not fit; the classification needs all of it.
			l.stats.logRetries++
			l.logBuf = make([]byte, min(len(l.logBuf)*16, maxLogSize))
			continue
		}
		l.stats.loads++
		n := 0
		for n < len(l.logBuf) && l.logBuf[n] != 0 {
			n++
		}
		l.stats.maxLogBytes = max(l.stats.maxLogBytes, n)
		res := loadResult{errno: errno, log: string(l.logBuf[:n])}
		if errno != 0 {
			return -1, res
		}
		return int(fd), res
	}
}
