package cmdutil

import (
	"bytes"
	"fmt"
	"testing"
)

func TestWarnings(t *testing.T) {
	digest := "image busybox could not be accessed on a registry to record\nits digest. Each node will access busybox independently,\npossibly leading to different nodes running different\nversions of the image.\n"
	tests := []struct {
		name   string
		writes []string
		want   string
	}{
		{name: "one line per warning", writes: []string{digest},
			want: "W: image busybox could not be accessed on a registry to record its digest. Each node will access busybox independently, possibly leading to different nodes running different versions of the image.\n"},
		{name: "each once", writes: []string{"a\n", "b\n", "a\n", digest, digest},
			want: "W: a\nW: b\nW: image busybox could not be accessed on a registry to record its digest. Each node will access busybox independently, possibly leading to different nodes running different versions of the image.\n"},
		{name: "blank writes", writes: []string{"\n", "  \n\n"}, want: ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out bytes.Buffer
			w := NewWarnings(&out, "W: ")
			for _, s := range tt.writes {
				fmt.Fprint(w, s)
			}
			if out.String() != tt.want {
				t.Errorf("wrote %q, want %q", out.String(), tt.want)
			}
		})
	}
}
