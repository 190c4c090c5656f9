// Package wire is the format in which a guest agent sends its probe results to the host: JSON
// lines, optionally gzip-compressed, on a channel of their own (not the console).
//
// A stream is a hello line (sent as soon as the agent runs, so the host can time the boot), a
// header line (the probe's facts about the kernel), one line per result, optionally a second
// header line (the facts again, with what the run learnt; it replaces the first), optionally an
// error line (the probe failed in the guest), and a trailer with the number of results and a SHA-256
// of every line before it. A stream without a valid trailer is truncated: the host keeps the
// results it received and reports the kernel as failed.
//
// Each line is a JSON object with exactly one of the keys hello, header, result, error, trailer.
package wire

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"time"
)

// Hello is the first line of a stream.
type Hello struct {
	// Uptime is the guest's /proc/uptime when the agent started, in seconds.
	Uptime float64 `json:"uptime"`
	// Kernel is the guest's uname release.
	Kernel string `json:"kernel"`
}

// Trailer is the last line of a complete stream.
type Trailer struct {
	// Count is the number of result lines in the stream.
	Count int `json:"count"`
	// SHA256 is the hex SHA-256 of every line before the trailer, newlines included.
	SHA256 string `json:"sha256"`
}

type line struct {
	Hello   *Hello          `json:"hello,omitempty"`
	Header  json.RawMessage `json:"header,omitempty"`
	Result  json.RawMessage `json:"result,omitempty"`
	Error   string          `json:"error,omitempty"`
	Trailer *Trailer        `json:"trailer,omitempty"`
}

// flushEvery bounds how long results wait in the writer's buffer and the compressor: the host
// shows progress from them, and a stream cut later still keeps them.
const flushEvery = 200 * time.Millisecond

// Writer writes a stream. It is not safe for concurrent use.
type Writer struct {
	// bw buffers the channel: a guest's channel write is a trip through the kernel and the
	// emulated device, and a probe sends tens of thousands of result lines.
	bw        *bufio.Writer
	zw        *gzip.Writer
	sum       hash.Hash
	count     int
	lastFlush time.Time
	buf       bytes.Buffer
}

// NewWriter returns a Writer on w; compress gzips the stream, which pays off on a slow channel
// such as an emulated UART.
func NewWriter(w io.Writer, compress bool) *Writer {
	sw := &Writer{bw: bufio.NewWriterSize(w, 64<<10), sum: sha256.New(), lastFlush: time.Now()}
	if compress {
		sw.zw, _ = gzip.NewWriterLevel(sw.bw, gzip.BestSpeed)
	}
	return sw
}

func (sw *Writer) out() io.Writer {
	if sw.zw != nil {
		return sw.zw
	}
	return sw.bw
}

func (sw *Writer) put(l *line, flush bool) error {
	sw.buf.Reset()
	enc := json.NewEncoder(&sw.buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(l); err != nil {
		return fmt.Errorf("wire: encode: %w", err)
	}
	return sw.write(l.Trailer != nil, flush)
}

// write sends the line in sw.buf, adding it to the checksum unless it is the trailer, and
// flushes when flush is set or the last flush is flushEvery ago.
func (sw *Writer) write(trailer bool, flush bool) error {
	if !trailer {
		sw.sum.Write(sw.buf.Bytes())
	}
	if _, err := sw.out().Write(sw.buf.Bytes()); err != nil {
		return fmt.Errorf("wire: write: %w", err)
	}
	if flush || time.Since(sw.lastFlush) >= flushEvery {
		return sw.Flush()
	}
	return nil
}

// Flush pushes everything written so far to the channel.
func (sw *Writer) Flush() error {
	sw.lastFlush = time.Now()
	if sw.zw != nil {
		if err := sw.zw.Flush(); err != nil {
			return fmt.Errorf("wire: flush: %w", err)
		}
	}
	if err := sw.bw.Flush(); err != nil {
		return fmt.Errorf("wire: flush: %w", err)
	}
	return nil
}

// Hello writes the hello line and flushes it.
func (sw *Writer) Hello(h Hello) error { return sw.put(&line{Hello: &h}, true) }

// Header writes the header line (any JSON object) and flushes it.
func (sw *Writer) Header(v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("wire: header: %w", err)
	}
	if len(b) == 0 || b[0] != '{' {
		return fmt.Errorf("wire: header is not a JSON object")
	}
	return sw.put(&line{Header: b}, true)
}

// Result writes one result (any JSON value). A value with an AppendJSON method (an
// observation.Result) encodes itself, which must give json.Marshal's bytes.
func (sw *Writer) Result(v any) error {
	// The line is what put would write for line{Result: b}, built by hand: encoding the line
	// would scan b again to compact it, which the value's encoding already did, and a guest
	// writes tens of thousands of results on an emulated CPU.
	sw.buf.Reset()
	sw.buf.WriteString(`{"result":`)
	if a, ok := v.(jsonAppender); ok {
		sw.buf.Write(a.AppendJSON(sw.buf.AvailableBuffer()))
	} else {
		b, err := json.Marshal(v)
		if err != nil {
			return fmt.Errorf("wire: result: %w", err)
		}
		sw.buf.Write(b)
	}
	sw.count++
	sw.buf.WriteString("}\n")
	return sw.write(false, false)
}

// jsonAppender is a value that appends its own JSON encoding to a buffer, without the
// reflection of encoding/json.
type jsonAppender interface {
	AppendJSON(b []byte) []byte
}

// Error records that the probe failed in the guest.
func (sw *Writer) Error(msg string) error { return sw.put(&line{Error: msg}, true) }

// Count returns the number of results written.
func (sw *Writer) Count() int { return sw.count }

// Close writes the trailer and ends the stream; it does not close the underlying writer.
func (sw *Writer) Close() error {
	t := &Trailer{Count: sw.count, SHA256: hex.EncodeToString(sw.sum.Sum(nil))}
	if err := sw.put(&line{Trailer: t}, true); err != nil {
		return err
	}
	if sw.zw != nil {
		if err := sw.zw.Close(); err != nil {
			return fmt.Errorf("wire: close: %w", err)
		}
	}
	if err := sw.bw.Flush(); err != nil {
		return fmt.Errorf("wire: close: %w", err)
	}
	return nil
}

// ErrTruncated is returned (wrapped) by Read for a stream that ends before a valid trailer.
var ErrTruncated = errors.New("result stream truncated")

// Stream is what Read decoded; after a truncation it holds everything received before the cut.
type Stream struct {
	Hello   *Hello
	Header  json.RawMessage
	Results []json.RawMessage
	// Error is the guest's own error line, if the probe failed in the guest.
	Error   string
	Trailer *Trailer
	// Bytes is the number of bytes read from the channel (compressed, if it was).
	Bytes int64
}

// Events receives lines as Read decodes them; any field may be nil.
type Events struct {
	Hello  func(Hello)
	Header func()
	Result func(n int)
}

// Read decodes a stream from r until EOF. A gzip stream is recognised by its magic bytes. It
// returns an error wrapping ErrTruncated when the stream ends without a trailer, with a partial
// line, or when the trailer disagrees with the lines received; Stream is never nil.
func Read(r io.Reader, ev Events) (*Stream, error) {
	s := &Stream{}
	cr := &countReader{r: r}
	br := bufio.NewReaderSize(cr, 64<<10)
	var src io.Reader = br
	if magic, _ := br.Peek(2); len(magic) == 2 && magic[0] == 0x1f && magic[1] == 0x8b {
		zr, err := gzip.NewReader(br)
		if err != nil {
			s.Bytes = cr.n
			return s, fmt.Errorf("%w: gzip header: %v", ErrTruncated, err)
		}
		// The trailer is the end; a second gzip member would be an agent bug, not data.
		zr.Multistream(false)
		src = zr
	}
	lr := bufio.NewReaderSize(src, 64<<10)
	sum := sha256.New()
	var err error
	for {
		var b []byte
		b, err = lr.ReadBytes('\n')
		if len(b) > 0 && b[len(b)-1] == '\n' {
			var l line
			if jerr := json.Unmarshal(b, &l); jerr != nil {
				err = fmt.Errorf("%w: bad line after %d results: %v", ErrTruncated, len(s.Results), jerr)
				break
			}
			switch {
			case l.Trailer != nil:
				s.Trailer = l.Trailer
			case l.Hello != nil:
				s.Hello = l.Hello
				if ev.Hello != nil {
					ev.Hello(*l.Hello)
				}
			case l.Header != nil:
				s.Header = l.Header
				if ev.Header != nil {
					ev.Header()
				}
			case l.Result != nil:
				s.Results = append(s.Results, l.Result)
				if ev.Result != nil {
					ev.Result(len(s.Results))
				}
			case l.Error != "":
				s.Error = l.Error
			}
			if s.Trailer != nil {
				break
			}
			sum.Write(b)
			continue
		}
		break
	}
	s.Bytes = cr.n
	if s.Trailer == nil {
		if err == nil || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return s, fmt.Errorf("%w after %d results", ErrTruncated, len(s.Results))
		}
		if errors.Is(err, ErrTruncated) {
			return s, err
		}
		return s, fmt.Errorf("%w after %d results: %v", ErrTruncated, len(s.Results), err)
	}
	if s.Trailer.Count != len(s.Results) {
		return s, fmt.Errorf("%w: trailer counts %d results, received %d", ErrTruncated, s.Trailer.Count, len(s.Results))
	}
	if got := hex.EncodeToString(sum.Sum(nil)); got != s.Trailer.SHA256 {
		return s, fmt.Errorf("%w: checksum mismatch over %d results", ErrTruncated, len(s.Results))
	}
	return s, nil
}

type countReader struct {
	r io.Reader
	n int64
}

func (c *countReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}
