package decompress

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"runtime"
	"sync"

	"github.com/ulikunitz/xz"
)

// NewReaderAt is NewReader for a stream that r holds whole, size bytes long. An xz file of
// several blocks (dpkg-deb compresses a package's data with threads, in blocks of 24 MiB) has
// its blocks decoded side by side, one per CPU: the Go xz decoder is about twice as slow as
// liblzma, and the blocks are independent. Anything else is read as NewReader reads it.
func NewReaderAt(f Format, r io.ReaderAt, size int64) (io.ReadCloser, error) {
	if f == XZ {
		if x, err := OpenXZBlocks(r, size, runtime.GOMAXPROCS(0)); err == nil {
			return blockReadCloser{x.Reader(runtime.GOMAXPROCS(0)), x}, nil
		}
	}
	// The decoders read in small pieces; without a buffer each is a system call.
	return NewReader(f, bufio.NewReaderSize(io.NewSectionReader(r, 0, size), 1<<20))
}

// xzBlock is one block of an xz file, rewrapped as an xz stream of its own.
type xzBlock struct {
	stream []byte // stream header, the block, a one-record index and the stream footer
	size   int64  // decompressed size, as the file's index says
}

const (
	xzHeaderLen = 12
	xzFooterLen = 12
	// maxXZBlock bounds what one block may claim to decompress to: it is held in memory.
	maxXZBlock = 256 << 20
)

// errOneBlock is xzBlocks' answer for a file of one block: nothing to decode side by side.
var errOneBlock = errors.New("one block")

// xzBlocks splits a single-stream xz file of several blocks into its blocks, from the index at
// its end. It fails on what it does not expect (one block, several streams, stream padding, a
// block over maxXZBlock): the caller then decodes the file in one piece, where the decoder
// judges it.
func xzBlocks(r io.ReaderAt, size int64) ([]xzBlock, error) {
	if size < xzHeaderLen+xzFooterLen {
		return nil, errors.New("too short")
	}
	header, footer := make([]byte, xzHeaderLen), make([]byte, xzFooterLen)
	if _, err := r.ReadAt(header, 0); err != nil {
		return nil, err
	}
	if _, err := r.ReadAt(footer, size-xzFooterLen); err != nil {
		return nil, err
	}
	le := binary.LittleEndian
	if Detect(header) != XZ || crc32.ChecksumIEEE(header[6:8]) != le.Uint32(header[8:]) {
		return nil, errors.New("bad stream header")
	}
	if string(footer[10:]) != "YZ" || !bytes.Equal(footer[8:10], header[6:8]) || crc32.ChecksumIEEE(footer[4:10]) != le.Uint32(footer) {
		return nil, errors.New("no stream footer of this stream's flags at the end")
	}
	indexLen := (int64(le.Uint32(footer[4:8])) + 1) * 4
	indexOff := size - xzFooterLen - indexLen
	if indexOff < xzHeaderLen {
		return nil, errors.New("index outside the file")
	}
	index := make([]byte, indexLen)
	if _, err := r.ReadAt(index, indexOff); err != nil {
		return nil, err
	}
	records, err := xzIndexRecords(index)
	if err != nil {
		return nil, err
	}
	if len(records) < 2 {
		return nil, errOneBlock // read in one piece, without copying the block first
	}
	var blocks []xzBlock
	off := int64(xzHeaderLen)
	for _, rec := range records {
		padded := (rec[0] + 3) &^ 3
		if rec[1] > maxXZBlock || padded > indexOff-off {
			return nil, errors.New("block too large or outside the file")
		}
		body := make([]byte, padded)
		if _, err := r.ReadAt(body, off); err != nil {
			return nil, err
		}
		blocks = append(blocks, xzBlock{stream: xzStream(header, body, rec), size: rec[1]})
		off += padded
	}
	if off != indexOff {
		return nil, errors.New("blocks do not end at the index")
	}
	return blocks, nil
}

// xzIndexRecords returns the (unpadded size, decompressed size) of each block an index lists.
func xzIndexRecords(index []byte) ([][2]int64, error) {
	n := len(index)
	if n < 8 || index[0] != 0 || crc32.ChecksumIEEE(index[:n-4]) != binary.LittleEndian.Uint32(index[n-4:]) {
		return nil, errors.New("bad index")
	}
	br := bytes.NewReader(index[1 : n-4])
	count, err := binary.ReadUvarint(br)
	if err != nil || count > uint64(n) {
		return nil, errors.New("bad index record count")
	}
	records := make([][2]int64, count)
	for i := range records {
		for j := range 2 {
			v, err := binary.ReadUvarint(br)
			if err != nil || v > 1<<62 {
				return nil, errors.New("bad index record")
			}
			records[i][j] = int64(v)
		}
	}
	return records, nil
}

// xzStream wraps one block in a stream header, an index of one record and a stream footer.
func xzStream(header, body []byte, rec [2]int64) []byte {
	var index bytes.Buffer
	index.WriteByte(0)
	for _, v := range []int64{1, rec[0], rec[1]} {
		index.Write(binary.AppendUvarint(nil, uint64(v)))
	}
	for index.Len()%4 != 0 {
		index.WriteByte(0)
	}
	index.Write(binary.LittleEndian.AppendUint32(nil, crc32.ChecksumIEEE(index.Bytes())))
	footer := binary.LittleEndian.AppendUint32(nil, uint32(index.Len()/4-1))
	footer = append(footer, header[6:8]...)
	out := append(append(append([]byte{}, header...), body...), index.Bytes()...)
	out = binary.LittleEndian.AppendUint32(out, crc32.ChecksumIEEE(footer))
	return append(append(out, footer...), 'Y', 'Z')
}

// XZBlocks is an xz file of several blocks, decoded block by block: in order, side by side, and
// any block on its own (the index says where each begins in the decompressed bytes), sharing
// what is decoded. The reader decodes at most workers blocks at a time (Block one more), and a
// block's bytes are handed out as they are decoded, so that a reader that stops early stops the
// decoding too.
type XZBlocks struct {
	blocks  []*blockFuture
	offsets []int64 // where each block begins in the decompressed bytes
	slots   chan struct{}
	stop    chan struct{}
	closed  bool
}

// OpenXZBlocks splits the xz file r holds, size bytes long, into its blocks by its index, and
// fails when it has fewer than two or is not laid out as dpkg-deb and xz write it (one stream, no
// padding). Close stops its decoding.
func OpenXZBlocks(r io.ReaderAt, size int64, workers int) (*XZBlocks, error) {
	blocks, err := xzBlocks(r, size)
	if err != nil {
		return nil, err
	}
	x := &XZBlocks{slots: make(chan struct{}, max(workers, 1)), stop: make(chan struct{})}
	var off int64
	for _, b := range blocks {
		x.blocks = append(x.blocks, newBlockFuture(b))
		x.offsets = append(x.offsets, off)
		off += b.size
	}
	return x, nil
}

// Len returns the number of blocks.
func (x *XZBlocks) Len() int { return len(x.blocks) }

// Offset returns where block i begins in the decompressed bytes.
func (x *XZBlocks) Offset(i int) int64 { return x.offsets[i] }

// Block decodes block i, unless a reader already has, and returns its bytes. It is meant for a
// block read out of order before the reader reaches it: the reader then uses these bytes. Its
// decoding starts at once, beside the workers': the reader's blocks ahead must not hold it back
// (a caller waits for the out-of-order block to decide whether to read on).
func (x *XZBlocks) Block(i int) ([]byte, error) {
	f := x.blocks[i]
	f.mu.Lock()
	f.pinned = true
	f.mu.Unlock()
	f.once.Do(func() { go f.decode(x.stop) })
	return f.all()
}

// Reader returns a reader of the decompressed bytes, which decodes up to ahead blocks past the
// one it reads from.
func (x *XZBlocks) Reader(ahead int) io.Reader {
	return &blockReader{x: x, ahead: max(ahead, 1)}
}

// Close stops every decoding under way and any not yet started; it does not wait for them.
func (x *XZBlocks) Close() error {
	if !x.closed {
		x.closed = true
		close(x.stop)
	}
	return nil
}

// start begins decoding block i (once), when a worker slot frees.
func (x *XZBlocks) start(i int) {
	x.blocks[i].once.Do(func() {
		go func() {
			select {
			case x.slots <- struct{}{}:
				defer func() { <-x.slots }()
				x.blocks[i].decode(x.stop)
			case <-x.stop:
				x.blocks[i].finish(errClosed)
			}
		}()
	})
}

var errClosed = errors.New("xz: reader closed")

// blockFuture is one block's decoding: its bytes so far, and whether and how it ended.
type blockFuture struct {
	b      xzBlock
	once   sync.Once
	mu     sync.Mutex
	grew   *sync.Cond // signalled when data grows or the decoding ends
	data   []byte
	done   bool
	err    error
	pinned bool // Block asked for it: the reader must not release it
}

func newBlockFuture(b xzBlock) *blockFuture {
	f := &blockFuture{b: b}
	f.grew = sync.NewCond(&f.mu)
	return f
}

// decodeStep is how many bytes a block's decoding adds between checks for a Close.
const decodeStep = 256 << 10

func (f *blockFuture) decode(stop <-chan struct{}) {
	zr, err := xz.NewReader(bytes.NewReader(f.b.stream))
	if err != nil {
		f.finish(err)
		return
	}
	lr := io.LimitReader(zr, f.b.size+1)
	f.mu.Lock()
	f.data = make([]byte, 0, min(f.b.size, 32<<20)) // the size is a claim
	f.mu.Unlock()
	buf := make([]byte, decodeStep)
	for {
		select {
		case <-stop:
			f.finish(errClosed)
			return
		default:
		}
		n, err := io.ReadFull(lr, buf)
		f.mu.Lock()
		f.data = append(f.data, buf[:n]...)
		got := int64(len(f.data))
		f.mu.Unlock()
		f.grew.Broadcast()
		if err == io.EOF || err == io.ErrUnexpectedEOF {
			if got != f.b.size {
				err = fmt.Errorf("xz: block decompressed to %d bytes, the index says %d", got, f.b.size)
			} else {
				err = nil
			}
			f.finish(err)
			return
		}
		if err != nil {
			f.finish(err)
			return
		}
	}
}

func (f *blockFuture) finish(err error) {
	f.mu.Lock()
	f.done, f.err = true, err
	f.mu.Unlock()
	f.grew.Broadcast()
}

// all waits for the block's end and returns its bytes.
func (f *blockFuture) all() ([]byte, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for !f.done {
		f.grew.Wait()
	}
	return f.data, f.err
}

// readAt copies the block's bytes from pos into p, waiting for them to be decoded; it returns
// io.EOF at the end of the block.
func (f *blockFuture) readAt(p []byte, pos int) (int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for len(f.data) <= pos && !f.done {
		f.grew.Wait()
	}
	if pos < len(f.data) {
		return copy(p, f.data[pos:]), nil
	}
	if f.err != nil {
		return 0, f.err
	}
	return 0, io.EOF
}

// release drops the bytes of a block the reader has passed, unless Block holds them.
func (f *blockFuture) release() {
	f.mu.Lock()
	if !f.pinned {
		f.data = nil
	}
	f.mu.Unlock()
}

// blockReader reads the blocks in order.
type blockReader struct {
	x     *XZBlocks
	ahead int
	next  int // the block being read
	pos   int // in it
}

func (r *blockReader) Read(p []byte) (int, error) {
	blocks := r.x.blocks
	for r.next < len(blocks) {
		for i := r.next; i < min(r.next+r.ahead, len(blocks)); i++ {
			r.x.start(i)
		}
		n, err := blocks[r.next].readAt(p, r.pos)
		if n > 0 || len(p) == 0 {
			r.pos += n
			return n, nil
		}
		if err != io.EOF {
			return 0, err
		}
		blocks[r.next].release()
		r.next, r.pos = r.next+1, 0
	}
	return 0, io.EOF
}

// blockReadCloser is the reader NewReaderAt returns for a file of blocks.
type blockReadCloser struct {
	io.Reader
	*XZBlocks
}
