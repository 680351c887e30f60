package logs

import (
	"encoding/binary"
	"errors"
	"io"
	"strings"
	"testing"
	"testing/iotest"
	"time"

	"github.com/moby/moby/api/pkg/stdcopy"
)

func TestParseStamp(t *testing.T) {
	want := time.Date(2026, 11, 26, 13, 31, 8, 324532696, time.UTC).UnixNano()
	tests := []struct {
		in     string
		want   int64
		wantOK bool
	}{
		{"2026-11-26T13:31:08.324532696Z", want, true},
		{"2026-11-26T14:31:08.324532696+01:00", want, true},
		{"2026-11-26T13:31:08.324532696", 0, false},
		{"2026-11-26T13:31:08.32453269xZ", 0, false},
		{"2026-11-26T13:31:08Z", want - 324532696, true},
		{"hello", 0, false},
	}
	for _, tt := range tests {
		got, ok := parseStamp([]byte(tt.in))
		if ok != tt.wantOK || ok && got != tt.want {
			t.Errorf("parseStamp(%q) = %d, %v; want %d, %v", tt.in, got, ok, tt.want, tt.wantOK)
		}
	}
}

const stamp1 = "2026-11-26T13:31:08.324532696Z"

// frameOf encodes one stdcopy frame.
func frameOf(stream stdcopy.StdType, payload string) string {
	header := make([]byte, 8, 8+len(payload))
	header[0] = byte(stream)
	binary.BigEndian.PutUint32(header[4:], uint32(len(payload)))
	return string(append(header, payload...))
}

// readAll reads every entry as "stream:data|", then the error that ended it.
func readAll(r entryReader) (string, error) {
	var b strings.Builder
	for {
		e, err := r.next()
		if err != nil {
			return b.String(), err
		}
		if e.stamp != mustStamp(stamp1) {
			return b.String(), errors.New("wrong stamp")
		}
		b.WriteString(string(rune('0'+e.stream)) + ":" + string(e.data) + "|")
	}
}

func mustStamp(s string) int64 {
	n, ok := parseStamp([]byte(s))
	if !ok {
		panic(s)
	}
	return n
}

func TestMuxReader(t *testing.T) {
	long := strings.Repeat("y", 100<<10)
	var header [8]byte
	header[0] = byte(stdcopy.Stdout)
	binary.BigEndian.PutUint32(header[4:], 100)
	tests := []struct {
		name    string
		stream  string
		want    string
		wantErr string // "" means io.EOF
	}{
		{"lines of both streams", frameOf(stdcopy.Stdout, stamp1+" A1\n") + frameOf(stdcopy.Stderr, stamp1+" E1\n") + frameOf(stdcopy.Stdin, stamp1+" I\n"),
			"0:A1\n|1:E1\n|0:I\n|", ""},
		{"a piece without newline", frameOf(stdcopy.Stdout, stamp1+" piece") + frameOf(stdcopy.Stdout, stamp1+" rest\n"), "0:piece|0:rest\n|", ""},
		{"a frame larger than a slab", frameOf(stdcopy.Stderr, stamp1+" "+long), "1:" + long + "|", ""},
		{"an empty line", frameOf(stdcopy.Stdout, stamp1+" \n"), "0:\n|", ""},
		{"the engine's error", frameOf(stdcopy.Stdout, stamp1+" A1\n") + frameOf(stdcopy.Systemerr, "Error grabbing logs: rpc error: transport is closing\n"),
			"0:A1\n|", "the engine reported: Error grabbing logs: rpc error: transport is closing"},
		{"cut inside a header", frameOf(stdcopy.Stdout, stamp1+" A1\n") + string(header[:5]), "0:A1\n|", io.ErrUnexpectedEOF.Error()},
		{"cut inside a payload", string(header[:]) + stamp1 + " A", "", io.ErrUnexpectedEOF.Error()},
		{"no stamp", frameOf(stdcopy.Stdout, "A1\n"), "", "malformed log stream: a message without a timestamp"},
		{"a bad stamp", frameOf(stdcopy.Stdout, "2026-11-26Tnoon A1\n"), "", "malformed log stream: a message with a bad timestamp"},
		{"a frame too large", string([]byte{1, 0, 0, 0, 0x7f, 0, 0, 0}), "", "malformed log stream: a frame of 2130706432 bytes"},
		{"an unknown frame", frameOf(7, stamp1+" A1\n"), "", "malformed log stream: a frame of unknown kind 7"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, r := range []io.Reader{strings.NewReader(tt.stream), iotest.OneByteReader(strings.NewReader(tt.stream))} {
				got, err := readAll(newMuxReader(r))
				checkRead(t, got, err, tt.want, tt.wantErr)
			}
		})
	}
}

func checkRead(t *testing.T, got string, err error, want, wantErr string) {
	t.Helper()
	if got != want {
		t.Errorf("entries: %s", describeDiff(got, want))
	}
	if wantErr == "" && !errors.Is(err, io.EOF) || wantErr != "" && (err == nil || !strings.Contains(err.Error(), wantErr)) {
		t.Errorf("ended with %v, want %q (io.EOF if empty)", err, wantErr)
	}
}

func TestRawReader(t *testing.T) {
	piece := strings.Repeat("x", minPiece)
	s := stamp1 + " "
	tests := []struct {
		name    string
		stream  string
		want    string
		wantErr string
	}{
		{"lines", s + "A1\r\n" + s + "A2\r\n", "0:A1\r\n|0:A2\r\n|", ""},
		{"a last line without newline", s + "A1\r\n" + s + "prompt> ", "0:A1\r\n|0:prompt> |", ""},
		{"a line cut into pieces", s + piece + s + piece + s + "end\r\n" + s + "A2\n", "0:" + piece + "|0:" + piece + "|0:end\r\n|0:A2\n|", ""},
		{"a line of exactly one piece", s + piece + s + "\n", "0:" + piece + "|0:\n|", ""},
		{"a cut line at the end", s + piece + s + "tail", "0:" + piece + "|0:tail|", ""},
		{"the engine's error", s + "A1\n" + "Error grabbing logs: transport is closing\n", "0:A1\n|", "the engine reported: Error grabbing logs: transport is closing"},
		{"cut inside a stamp", s + "A1\n" + stamp1[:10], "0:A1\n|", io.ErrUnexpectedEOF.Error()},
		{"empty", "", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, r := range []io.Reader{strings.NewReader(tt.stream), iotest.OneByteReader(strings.NewReader(tt.stream)), iotest.HalfReader(strings.NewReader(tt.stream))} {
				got, err := readAll(newRawReader(r))
				checkRead(t, got, err, tt.want, tt.wantErr)
			}
		})
	}
}

// TestRawReaderBoundsALine: a raw line longer than the reader buffers is
// cut, its bytes unchanged.
func TestRawReaderBoundsALine(t *testing.T) {
	line := strings.Repeat("z", 3*maxRawPiece) + "\n"
	stream := stamp1 + " " + line + stamp1 + " A2\n"
	for _, r := range []io.Reader{strings.NewReader(stream), iotest.HalfReader(strings.NewReader(stream))} {
		rr := newRawReader(r)
		var got []byte
		for {
			e, err := rr.next()
			if err != nil {
				if !errors.Is(err, io.EOF) {
					t.Fatal(err)
				}
				break
			}
			if len(e.data) > maxRawPiece {
				t.Errorf("an entry of %d bytes, want at most %d", len(e.data), maxRawPiece)
			}
			got = append(got, e.data...)
		}
		if want := line + "A2\n"; string(got) != want {
			t.Errorf("data: %s", describeDiff(string(got), want))
		}
	}
}
