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

	"github.com/ulikunitz/xz"
)

// NewReaderAt is NewReader for a stream that r holds whole, size bytes long. An xz file of
// several blocks (dpkg-deb compresses a package's data with threads, in blocks of 24 MiB) has
// its blocks decoded side by side, one per CPU: the Go xz decoder is about twice as slow as
// liblzma, and the blocks are independent. Anything else is read as NewReader reads it.
func NewReaderAt(f Format, r io.ReaderAt, size int64) (io.ReadCloser, error) {
	if f == XZ {
		if blocks, err := xzBlocks(r, size); err == nil && len(blocks) > 1 {
			return newBlockReader(blocks, runtime.GOMAXPROCS(0)), nil
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

// xzBlocks splits a single-stream xz file into its blocks, from the index at its end. It fails
// on what it does not expect (several streams, stream padding, a block over maxXZBlock): the
// caller then decodes the file in one piece, where the decoder judges it.
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

// blockReader returns the blocks' decompressed bytes in order while up to workers blocks are
// decoded ahead; a block's slot frees when its bytes are taken.
type blockReader struct {
	results []chan blockResult
	slots   chan struct{}
	next    int
	cur     []byte
	err     error
	done    chan struct{}
	closed  bool
}

type blockResult struct {
	data []byte
	err  error
}

func newBlockReader(blocks []xzBlock, workers int) *blockReader {
	br := &blockReader{
		results: make([]chan blockResult, len(blocks)),
		slots:   make(chan struct{}, max(workers, 1)),
		done:    make(chan struct{}),
	}
	for i := range br.results {
		br.results[i] = make(chan blockResult, 1) // a worker never waits to hand its block over
	}
	go func() {
		for i, b := range blocks {
			select {
			case br.slots <- struct{}{}:
			case <-br.done:
				return
			}
			go func() { br.results[i] <- decodeBlock(b) }()
		}
	}()
	return br
}

func (br *blockReader) Read(p []byte) (int, error) {
	for len(br.cur) == 0 && br.err == nil {
		if br.next == len(br.results) {
			return 0, io.EOF
		}
		res := <-br.results[br.next]
		<-br.slots
		br.next++
		br.cur, br.err = res.data, res.err
	}
	if len(br.cur) == 0 {
		return 0, br.err
	}
	n := copy(p, br.cur)
	br.cur = br.cur[n:]
	return n, nil
}

// Close stops decoding blocks not yet started.
func (br *blockReader) Close() error {
	if !br.closed {
		br.closed = true
		close(br.done)
	}
	return nil
}

func decodeBlock(b xzBlock) blockResult {
	zr, err := xz.NewReader(bytes.NewReader(b.stream))
	if err != nil {
		return blockResult{err: err}
	}
	out := bytes.NewBuffer(make([]byte, 0, min(b.size, 32<<20)+bytes.MinRead)) // the size is a claim
	n, err := out.ReadFrom(io.LimitReader(zr, b.size+1))
	if err == nil && n != b.size {
		err = fmt.Errorf("xz: block decompressed to %d bytes, the index says %d", n, b.size)
	}
	return blockResult{data: out.Bytes(), err: err}
}
