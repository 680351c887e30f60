package logs

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/moby/moby/api/pkg/stdcopy"
)

// What the engine's task logs API sends with timestamps=1 (moby
// api/server/httputils.WriteLogStream): one message per line the engine
// logged, each "<stamp> <line>" with the stamp in rfc3339NanoFixed, UTC.
// Without a TTY each message is one stdcopy frame on its stream; with a TTY
// the messages follow each other on one raw stream. A line is logged with its
// newline; the engine's copier cuts a line longer than its buffer (16 KiB,
// more for a few drivers) into pieces without newline that all carry the
// stamp of the first piece, and a last line without newline stays without.
// The engine reports a failure inside the stream ("Error grabbing logs: …")
// as a Systemerr frame, or as a bare line on a raw stream.

const (
	stampLayout = "2006-01-02T15:04:05.000000000Z07:00"
	// minPiece is the copier's default buffer: a piece of a cut line is never
	// shorter, so a raw line shorter than this holds no cut.
	minPiece = 16 << 10
	// maxRawPiece bounds what a raw (TTY) reader buffers of one line.
	maxRawPiece = 1 << 20
	slabSize    = 64 << 10
	// maxFrame is far above any message the engine sends (a line's piece,
	// 256 KiB at most): a larger frame is a stream gone wrong.
	maxFrame = 16 << 20
)

const (
	stdoutStream = 0
	stderrStream = 1
)

// entry is one message of a task's log: a line, a piece of a long line, or a
// last line without newline; the stream it came on and the engine's stamp.
type entry struct {
	stream int
	stamp  int64 // nanoseconds since the epoch
	data   []byte
}

// entryReader reads a task's log one message at a time; io.EOF at its end.
type entryReader interface {
	next() (entry, error)
}

// errBadLog: the stream is not what the API sends; reading it again will not help.
var errBadLog = errors.New("malformed log stream")

// engineError is a failure the engine reported inside the stream.
type engineError string

func (e engineError) Error() string { return "the engine reported: " + string(e) }

// parseStamp reads the engine's stamp: the fixed layout fast, else any RFC 3339.
func parseStamp(b []byte) (int64, bool) {
	if len(b) == len(stampLayout)-5 && b[4] == '-' && b[7] == '-' && b[10] == 'T' && b[13] == ':' &&
		b[16] == ':' && b[19] == '.' && b[29] == 'Z' {
		var f [7]int // year, month, day, hour, minute, second, nanosecond
		for i, span := range [7][2]int{{0, 4}, {5, 7}, {8, 10}, {11, 13}, {14, 16}, {17, 19}, {20, 29}} {
			for _, c := range b[span[0]:span[1]] {
				if c < '0' || c > '9' {
					return 0, false
				}
				f[i] = f[i]*10 + int(c-'0')
			}
		}
		return time.Date(f[0], time.Month(f[1]), f[2], f[3], f[4], f[5], f[6], time.UTC).UnixNano(), true
	}
	t, err := time.Parse(time.RFC3339Nano, string(b))
	return t.UnixNano(), err == nil
}

// cutStamp splits a message into its stamp and the job's bytes. The stamp
// ends at the first space, within the longest layout.
func cutStamp(msg []byte) (stamp int64, rest []byte, stampLen int, err error) {
	sp := bytes.IndexByte(msg[:min(len(msg), len(stampLayout)+1)], ' ')
	if sp < 0 {
		return 0, nil, 0, fmt.Errorf("%w: a message without a timestamp: %.40q", errBadLog, msg)
	}
	stamp, ok := parseStamp(msg[:sp])
	if !ok {
		return 0, nil, 0, fmt.Errorf("%w: a message with a bad timestamp: %.40q", errBadLog, msg)
	}
	return stamp, msg[sp+1:], sp + 1, nil
}

// slab hands out the memory of entries: one allocation for many lines.
type slab []byte

func (s *slab) take(n int) []byte {
	if cap(*s)-len(*s) < n {
		*s = make([]byte, 0, max(slabSize, n))
	}
	l := len(*s)
	*s = (*s)[:l+n]
	return (*s)[l : l+n : l+n]
}

// muxReader reads stdcopy frames, one message each.
type muxReader struct {
	r    *bufio.Reader
	mem  slab
	head [8]byte
}

func newMuxReader(r io.Reader) *muxReader { return &muxReader{r: bufio.NewReaderSize(r, 32<<10)} }

func (m *muxReader) next() (entry, error) {
	if _, err := io.ReadFull(m.r, m.head[:]); err != nil {
		return entry{}, err // io.EOF between frames: the stream's end
	}
	size := int(binary.BigEndian.Uint32(m.head[4:]))
	if size > maxFrame {
		return entry{}, fmt.Errorf("%w: a frame of %d bytes", errBadLog, size)
	}
	msg := m.mem.take(size)
	if _, err := io.ReadFull(m.r, msg); err != nil {
		return entry{}, noEOF(err)
	}
	var stream int
	switch stdcopy.StdType(m.head[0]) {
	case stdcopy.Stdin, stdcopy.Stdout:
		stream = stdoutStream
	case stdcopy.Stderr:
		stream = stderrStream
	case stdcopy.Systemerr:
		return entry{}, engineError(bytes.TrimSpace(msg))
	default:
		return entry{}, fmt.Errorf("%w: a frame of unknown kind %d", errBadLog, m.head[0])
	}
	stamp, data, _, err := cutStamp(msg)
	return entry{stream: stream, stamp: stamp, data: data}, err
}

// rawReader reads the messages of a TTY task, which follow each other with
// nothing between them. A message ends after a newline, or where the next
// piece of a cut line starts: that piece carries the same stamp, which the
// job's bytes do not.
type rawReader struct {
	r      io.Reader
	buf    []byte // unread bytes
	eof    bool
	needle []byte // the current message's "<stamp> ", while inside it
	stamp  int64
	mem    slab
}

func newRawReader(r io.Reader) *rawReader { return &rawReader{r: r} }

func (t *rawReader) next() (entry, error) {
	for {
		if t.needle == nil {
			if done, err := t.startMessage(); done || err != nil {
				return entry{}, err
			}
			continue
		}
		nl := bytes.IndexByte(t.buf, '\n')
		line := t.buf
		if nl >= 0 {
			line = t.buf[:nl]
		}
		if len(line) >= minPiece {
			if cut := bytes.Index(line, t.needle); cut >= 0 {
				t.needle = nil
				if cut == 0 {
					continue
				}
				return t.emit(cut), nil
			}
		}
		switch {
		case nl >= 0 && nl < maxRawPiece:
			t.needle = nil
			return t.emit(nl + 1), nil
		case nl >= 0 || len(t.buf) >= maxRawPiece+len(t.needle):
			// A line too long to hold: its first bytes, as a piece.
			return t.emit(maxRawPiece), nil
		case t.eof && len(t.buf) > 0:
			t.needle = nil
			return t.emit(len(t.buf)), nil
		case t.eof:
			t.needle = nil
			continue
		}
		if err := t.fill(); err != nil {
			return entry{}, err
		}
	}
}

// startMessage reads the next message's stamp. done: the stream has ended.
func (t *rawReader) startMessage() (done bool, err error) {
	for {
		if len(t.buf) > 0 && (t.buf[0] < '0' || t.buf[0] > '9') {
			// Not a stamp: the engine's error line.
			line, _, found := bytes.Cut(t.buf, []byte{'\n'})
			if found || t.eof || len(t.buf) >= maxRawPiece {
				return false, engineError(bytes.TrimSpace(line))
			}
		} else if sp := bytes.IndexByte(t.buf[:min(len(t.buf), len(stampLayout)+1)], ' '); sp >= 0 {
			stamp, _, n, err := cutStamp(t.buf)
			if err != nil {
				return false, err
			}
			t.needle, t.stamp = append(t.needle[:0:0], t.buf[:n]...), stamp
			t.consume(n)
			return false, nil
		} else if len(t.buf) > len(stampLayout) {
			return false, fmt.Errorf("%w: a message without a timestamp: %.40q", errBadLog, t.buf)
		}
		if t.eof {
			if len(t.buf) > 0 {
				return false, io.ErrUnexpectedEOF
			}
			return true, io.EOF
		}
		if err := t.fill(); err != nil {
			return false, err
		}
	}
}

// emit makes the first n unread bytes an entry of the current message.
func (t *rawReader) emit(n int) entry {
	data := t.mem.take(n)
	copy(data, t.buf[:n])
	t.consume(n)
	return entry{stream: stdoutStream, stamp: t.stamp, data: data}
}

func (t *rawReader) consume(n int) { t.buf = t.buf[n:] }

// fill reads more of the stream; at its end it sets eof.
func (t *rawReader) fill() error {
	if cap(t.buf)-len(t.buf) < 4<<10 {
		t.buf = append(make([]byte, 0, max(2*len(t.buf), 32<<10)), t.buf...)
	}
	n, err := t.r.Read(t.buf[len(t.buf):cap(t.buf)])
	t.buf = t.buf[:len(t.buf)+n]
	if errors.Is(err, io.EOF) {
		t.eof = true
		return nil
	}
	return err
}

// noEOF turns an end of stream inside a frame into io.ErrUnexpectedEOF.
func noEOF(err error) error {
	if errors.Is(err, io.EOF) {
		return io.ErrUnexpectedEOF
	}
	return err
}
