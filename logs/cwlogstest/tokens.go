package cwlogstest

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math"
	"regexp"
	"strconv"
)

// key is where an event sits in its stream: events are ordered by timestamp,
// then by the order they were put in (seq, from 1 up, per stream).
type key struct{ ts, seq int64 }

func (a key) less(b key) bool { return a.ts < b.ts || a.ts == b.ts && a.seq < b.seq }

// head is before every event (timestamps are >= 0 and seq starts at 1), tail
// after every one.
var head, tail = key{}, key{math.MaxInt64, math.MaxInt64}

// A GetLogEvents token is a position between events, shaped like the
// service's: "f/" or "b/", 56 digits, "/s". The digits are the key of the
// event next to the position (19 + 19) and a nonce (18) that only makes a
// token differ from another one for the same position.
//
// "f/K" reads forward from just after K; "b/K" reads backward from just
// before K.
func encodeToken(dir byte, k key, nonce uint64) string {
	return fmt.Sprintf("%c/%019d%019d%018d/s", dir, k.ts, k.seq, nonce%1e18)
}

var tokenRE = regexp.MustCompile(`^([fb])/([0-9]{19})([0-9]{19})[0-9]{18}(/s)?$`)

func decodeToken(s string) (dir byte, k key, ok bool) {
	m := tokenRE.FindStringSubmatch(s)
	if m == nil {
		return 0, key{}, false
	}
	ts, err1 := strconv.ParseInt(m[2], 10, 64)
	seq, err2 := strconv.ParseInt(m[3], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, key{}, false
	}
	return m[1][0], key{ts, seq}, true
}

// filterToken is FilterLogEvents' position: the last event returned and the
// direction of reading. On the wire it is opaque base64, as the service's is.
type filterToken struct {
	Asc    bool   `json:"a"`
	TS     int64  `json:"t"`
	Ingest int64  `json:"i"`
	Stream string `json:"s"`
	Seq    int64  `json:"q"`
	Nonce  uint64 `json:"n"`
}

func (t filterToken) encode() string { return encodeOpaque(t) }

func decodeFilterToken(s string) (filterToken, bool) { return decodeOpaque[filterToken](s) }

// listToken is a Describe* position: the sort key of the last item returned.
type listToken struct {
	Name string `json:"n"`
	TS   int64  `json:"t,omitempty"`
}

func (t listToken) encode() string { return encodeOpaque(t) }

func decodeListToken(s string) (listToken, bool) {
	t, ok := decodeOpaque[listToken](s)
	return t, ok && t.Name != ""
}

// encodeOpaque and decodeOpaque make a position an opaque token string,
// as AWS's own tokens are to a client.
func encodeOpaque(v any) string {
	b, _ := json.Marshal(v)
	return base64.RawURLEncoding.EncodeToString(b)
}

func decodeOpaque[T any](s string) (T, bool) {
	var t T
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil || json.Unmarshal(b, &t) != nil {
		var zero T
		return zero, false
	}
	return t, true
}
