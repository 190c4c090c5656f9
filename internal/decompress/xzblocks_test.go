package decompress

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"testing"
	"time"

	"github.com/bpfmatrix/bpfmatrix/internal/testenv"
	"github.com/ulikunitz/xz"
)

// xzInBlocks compresses data as an xz file of blocks of blockSize decompressed bytes, as
// dpkg-deb's threaded compression writes a package's data.
func xzInBlocks(t testing.TB, data []byte, blockSize int64) []byte {
	t.Helper()
	var buf bytes.Buffer
	w, err := xz.WriterConfig{BlockSize: blockSize, CheckSum: xz.CRC64}.NewWriter(&buf)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write(data); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func readAt(f Format, data []byte) ([]byte, error) {
	r, err := NewReaderAt(f, bytes.NewReader(data), int64(len(data)))
	if err != nil {
		return nil, err
	}
	defer r.Close()
	return io.ReadAll(r)
}

func TestNewReaderAtBlocks(t *testing.T) {
	data := bytes.Repeat([]byte("usr/lib/modules/6.1.0/kernel/drivers/virtio/virtio.ko\n"), 3000)
	tests := []struct {
		name      string
		blockSize int64
		blocks    int // as xzBlocks splits it; 0 when it declines to
	}{
		{"one block", 1 << 30, 0},
		{"blocks", 16 << 10, (len(data) + 16<<10 - 1) / (16 << 10)},
		{"a block per worker and more", 4 << 10, (len(data) + 4<<10 - 1) / (4 << 10)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			packed := xzInBlocks(t, data, tt.blockSize)
			blocks, err := xzBlocks(bytes.NewReader(packed), int64(len(packed)))
			if (err == nil) != (tt.blocks > 0) || len(blocks) != tt.blocks {
				t.Fatalf("xzBlocks = %d blocks, %v; want %d", len(blocks), err, tt.blocks)
			}
			got, err := readAt(XZ, packed)
			if err != nil || !bytes.Equal(got, data) {
				t.Fatalf("NewReaderAt read %d bytes, %v; want the %d compressed", len(got), err, len(data))
			}
			// A damaged block is an error, not a shorter output.
			bad := bytes.Clone(packed)
			bad[len(bad)/2] ^= 0x55
			if got, err := readAt(XZ, bad); err == nil {
				t.Errorf("a damaged file read without error (%d bytes)", len(got))
			}
			// So is a file cut short, which has no index to split it by.
			if _, err := readAt(XZ, packed[:len(packed)-20]); err == nil {
				t.Error("a truncated file read without error")
			}
		})
	}
}

// TestBlockReaderClose stops reading after the first block: Close must not wait for, or leak
// a wait on, the blocks decoded ahead.
func TestBlockReaderClose(t *testing.T) {
	packed := xzInBlocks(t, bytes.Repeat([]byte("x"), 1<<20), 64<<10)
	r, err := NewReaderAt(XZ, bytes.NewReader(packed), int64(len(packed)))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.ReadFull(r, make([]byte, 100)); err != nil {
		t.Fatal(err)
	}
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	if err := r.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
}

// FuzzNewReaderAt feeds arbitrary bytes to the block-parallel xz reader: what it decodes
// without error, the one-piece decoder must decode to the same bytes.
func FuzzNewReaderAt(f *testing.F) {
	f.Add(xzInBlocks(f, bytes.Repeat([]byte("bpf_kfunc "), 400), 1024))
	f.Add(xzInBlocks(f, []byte("bpf"), 1<<20))
	f.Fuzz(func(t *testing.T, data []byte) {
		got, err := readAt(XZ, data)
		if err != nil {
			return
		}
		r, err := NewReader(XZ, bytes.NewReader(data))
		if err != nil {
			t.Fatalf("block reader read %d bytes, the one-piece reader refuses: %v", len(got), err)
		}
		want, err := io.ReadAll(io.LimitReader(r, 1<<26))
		if err != nil || !bytes.Equal(got, want) {
			t.Fatalf("block reader read %d bytes, the one-piece reader %d, %v", len(got), len(want), err)
		}
	})
}

// TestXZBlocksOutOfOrder reads the last block on its own, then the whole file in order: the
// reader uses the block already decoded, and every block lies where Offset says.
func TestXZBlocksOutOfOrder(t *testing.T) {
	data := bytes.Repeat([]byte("usr/lib/modules/6.12.0/modules.builtin\n"), 5000)
	packed := xzInBlocks(t, data, 32<<10)
	x, err := OpenXZBlocks(bytes.NewReader(packed), int64(len(packed)), 2)
	if err != nil {
		t.Fatal(err)
	}
	defer x.Close()
	last := x.Len() - 1
	tail, err := x.Block(last)
	if err != nil || !bytes.Equal(tail, data[x.Offset(last):]) {
		t.Fatalf("Block(%d) = %d bytes, %v; want the file's last %d", last, len(tail), err, int64(len(data))-x.Offset(last))
	}
	got, err := io.ReadAll(x.Reader(2))
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("Reader read %d bytes, %v; want the %d compressed", len(got), err, len(data))
	}
	one := xzInBlocks(t, data, 1<<30)
	if _, err := OpenXZBlocks(bytes.NewReader(one), int64(len(one)), 2); err == nil {
		t.Error("a file of one block opened as blocks")
	}
}

// TestXZBlocksClose closes a file of blocks before its blocks are read: what is asked of it
// afterwards fails instead of waiting for decoding that will never happen.
func TestXZBlocksClose(t *testing.T) {
	packed := xzInBlocks(t, bytes.Repeat([]byte("x"), 1<<20), 64<<10)
	x, err := OpenXZBlocks(bytes.NewReader(packed), int64(len(packed)), 1)
	if err != nil {
		t.Fatal(err)
	}
	r := x.Reader(1)
	if _, err := io.ReadFull(r, make([]byte, 100)); err != nil {
		t.Fatal(err)
	}
	x.Close()
	err = testenv.Within(t, "reading a closed file of blocks", 10*time.Second, func() error {
		if _, err := x.Block(x.Len() - 1); !errors.Is(err, errClosed) {
			return fmt.Errorf("Block after Close: %v, want %v", err, errClosed)
		}
		if _, err := io.ReadAll(r); !errors.Is(err, errClosed) {
			return fmt.Errorf("Read after Close: %v, want %v", err, errClosed)
		}
		return nil
	})
	if err != nil {
		t.Error(err)
	}
}
