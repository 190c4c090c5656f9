package wire

import (
	"bytes"
	"errors"
	"testing"
)

// FuzzRead: the guest result stream reader answers any bytes with a stream and either no error
// (a trailer that counts and checksums what came) or one wrapping ErrTruncated, never a panic;
// what it keeps of a plain stream is no more than the stream itself.
func FuzzRead(f *testing.F) {
	t := &testing.T{}
	f.Add(stream(t, 3, false, ""))
	f.Add(stream(t, 2, true, ""))
	f.Add(stream(t, 1, false, "probe failed"))
	whole := stream(t, 4, false, "")
	f.Add(whole[:len(whole)/2])
	f.Add([]byte("{\"trailer\":{\"count\":0,\"sha256\":\"\"}}\n"))
	f.Add([]byte{0x1f, 0x8b})
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := Read(bytes.NewReader(data), Events{Hello: func(Hello) {}, Header: func() {}, Result: func(int) {}})
		if s == nil {
			t.Fatal("nil stream")
		}
		if err != nil && !errors.Is(err, ErrTruncated) {
			t.Errorf("error does not wrap ErrTruncated: %v", err)
		}
		if err == nil && (s.Trailer == nil || s.Trailer.Count != len(s.Results)) {
			t.Errorf("accepted a stream whose trailer does not count its results")
		}
		if len(data) < 64<<10 && s.Bytes != int64(len(data)) && (len(data) < 2 || data[0] != 0x1f) {
			t.Errorf("counted %d bytes of %d", s.Bytes, len(data))
		}
		if len(data) > 0 && data[0] != 0x1f {
			kept := len(s.Header) + len(s.Error)
			for _, r := range s.Results {
				kept += len(r)
			}
			if kept > len(data) {
				t.Errorf("kept %d bytes of a %d-byte stream", kept, len(data))
			}
		}
	})
}
