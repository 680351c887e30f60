package jobs

import (
	"bytes"
	"math/rand"
	"testing"
	"time"
)

func TestTailBuffer(t *testing.T) {
	tests := []struct {
		name   string
		max    int
		writes []int // sizes of successive writes
	}{
		{"nothing", 10, nil},
		{"under the limit", 10, []int{3, 4}},
		{"exactly the limit", 10, []int{4, 6}},
		{"one byte over", 10, []int{4, 7}},
		{"many small writes", 10, repeat(1, 95)},
		{"small writes past twice the limit", 16, repeat(3, 50)},
		{"one large write", 10, []int{1000}},
		{"large then small", 10, []int{25, 1, 1, 1}},
		{"small then large then small", 64, []int{5, 5, 300, 7, 63, 1}},
		{"exactly twice the limit", 8, []int{16}},
		{"mixed", 1024, []int{100, 5000, 1, 1023, 2048, 17, 4096, 3}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tb := &tailBuffer{max: tt.max}
			var all []byte
			counter := byte(0)
			for _, n := range tt.writes {
				p := make([]byte, n)
				for i := range p {
					p[i] = counter
					counter++
				}
				got, err := tb.Write(p)
				if err != nil || got != n {
					t.Fatalf("Write(%d bytes) = %d, %v", n, got, err)
				}
				all = append(all, p...)
				if len(tb.buf) > 2*tt.max+n {
					t.Errorf("buffer grew to %d bytes with max %d", len(tb.buf), tt.max)
				}
			}
			want := all
			if len(want) > tt.max {
				want = want[len(want)-tt.max:]
			}
			if got := tb.Bytes(); !bytes.Equal(got, want) {
				t.Errorf("Bytes() = %v (%d bytes), want the last %d bytes %v", got, len(got), len(want), want)
			}
			if wantTrunc := len(all) > tt.max; tb.truncated != wantTrunc {
				t.Errorf("truncated = %v, want %v (wrote %d, max %d)", tb.truncated, wantTrunc, len(all), tt.max)
			}
		})
	}
}

func repeat(n, times int) []int {
	out := make([]int, times)
	for i := range out {
		out[i] = n
	}
	return out
}

func TestPackOutputsRoundTrip(t *testing.T) {
	in := []AttemptOutput{
		{Number: 1, Output: []byte("Applying migrations...\nTraceback: boom\n")},
		{Number: 2, Output: []byte{0x00, 0xff, 0xfe, '\n', 0x1b}, Truncated: true},
		{Number: 3, Output: nil},
	}
	packed, err := packOutputs(append([]AttemptOutput(nil), in...))
	if err != nil {
		t.Fatal(err)
	}
	if len(packed) > maxStoredOutput {
		t.Errorf("packed %d bytes, limit %d", len(packed), maxStoredOutput)
	}
	got, err := unpackOutputs(packed)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(in) {
		t.Fatalf("got %d outputs, want %d", len(got), len(in))
	}
	for i := range in {
		if got[i].Number != in[i].Number || !bytes.Equal(got[i].Output, in[i].Output) || got[i].Truncated != in[i].Truncated {
			t.Errorf("output %d = %+v, want %+v", i, got[i], in[i])
		}
	}
}

func TestPackOutputsShrinksIncompressibleData(t *testing.T) {
	rng := rand.New(rand.NewSource(1))
	orig := make([][]byte, 3)
	in := make([]AttemptOutput, len(orig))
	for i := range orig {
		orig[i] = make([]byte, 600<<10) // 1.8 MiB of noise in all
		rng.Read(orig[i])
		in[i] = AttemptOutput{Number: i + 1, Output: orig[i]}
	}
	packed, err := packOutputs(in)
	if err != nil {
		t.Fatal(err)
	}
	if len(packed) > maxStoredOutput {
		t.Fatalf("packed %d bytes, over the %d limit", len(packed), maxStoredOutput)
	}
	got, err := unpackOutputs(packed)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 3 {
		t.Fatalf("got %d outputs, want 3", len(got))
	}
	for i, o := range got {
		if o.Number != i+1 || !o.Truncated {
			t.Errorf("output %d: number %d truncated %v, want %d true", i, o.Number, o.Truncated, i+1)
		}
		if len(o.Output) == 0 || len(o.Output) >= len(orig[i]) {
			t.Errorf("output %d kept %d of %d bytes", i, len(o.Output), len(orig[i]))
		}
		if !bytes.HasSuffix(orig[i], o.Output) {
			t.Errorf("output %d is not the tail of the original", i)
		}
	}
}

func TestPackOutputsManySmallAttempts(t *testing.T) {
	rng := rand.New(rand.NewSource(2))
	in := make([]AttemptOutput, 600)
	for i := range in {
		in[i] = AttemptOutput{Number: i + 1, Output: make([]byte, 1024)}
		rng.Read(in[i].Output)
	}
	done := make(chan []byte, 1)
	go func() {
		packed, _ := packOutputs(in)
		done <- packed
	}()
	select {
	case packed := <-done:
		if len(packed) > maxStoredOutput {
			t.Errorf("packed %d bytes, over the %d limit", len(packed), maxStoredOutput)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("packOutputs did not return")
	}
}

func TestUnpackOutputsRejectsGarbage(t *testing.T) {
	for _, data := range [][]byte{nil, []byte("not gzip"), {0x1f, 0x8b, 0x08}} {
		if _, err := unpackOutputs(data); err == nil {
			t.Errorf("unpackOutputs(%q) succeeded", data)
		}
	}
}
