package guest

import (
	"bytes"
	"encoding/binary"
	"testing"
)

// signed appends a signature of sigLen bytes to code the way sign-file does: the signature,
// a struct module_signature ending in the signature's length, and the magic.
func signed(code []byte, sigLen int, lenField uint32) []byte {
	b := append(bytes.Clone(code), bytes.Repeat([]byte{0xa5}, sigLen)...)
	info := make([]byte, 12)
	info[2] = 2 // id_type PKEY_ID_PKCS7, as Debian's modules say
	binary.BigEndian.PutUint32(info[8:], lenField)
	b = append(b, info...)
	return append(b, moduleSigMagic...)
}

// TestWithoutSignature strips what sign-file appends, and leaves alone what is not a signed
// module or does not add up.
func TestWithoutSignature(t *testing.T) {
	code := []byte("\x7fELF module code")
	tests := []struct {
		name string
		in   []byte
		want []byte
	}{
		{"signed", signed(code, 500, 500), code},
		{"unsigned", code, nil},
		{"magic alone", []byte(moduleSigMagic), nil},
		{"length past the start", signed(code, 10, 400), nil},
		{"zero length", signed(code, 0, 0), nil},
		{"length eats the code", signed(code, 10, uint32(10+len(code))), nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := withoutSignature(tt.in)
			if ok != (tt.want != nil) || !bytes.Equal(got, tt.want) {
				t.Errorf("withoutSignature = %q, %v; want %q, %v", got, ok, tt.want, tt.want != nil)
			}
		})
	}
}
