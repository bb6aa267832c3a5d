package web

import (
	"io"
	"log/slog"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
	"unicode"
	"unicode/utf8"
)

// The access log: one line per request, the line slog's text or JSON
// handler would write for
//
//	slog.LogAttrs(ctx, level, "http", method, path, status, bytes,
//	    duration_ms, request_id, remote)
//
// but appended straight into a pooled buffer. Going through slog (a Record,
// the caller's PC, seven attrs, the handler's formatting) cost about 8 µs
// of the server's ~100 µs per GET by key on the bench machine (AYB with
// log.level=warn, which skips the line, answered 7% more requests in the
// same run); this costs a fraction of that. TestAccessLineMatchesSlog
// holds it to slog's output byte for byte.
type accessLog struct {
	out  io.Writer
	json bool
	min  slog.Level
}

var (
	access     atomic.Pointer[accessLog]
	accessBufs = sync.Pool{New: func() any { b := make([]byte, 0, 256); return &b }}
)

// SetAccessLog sends the access log to out, as JSON or text, at level min
// and above (a request answered 5xx logs at ERROR, others at INFO). Until
// it is called, Logger logs through slog's default logger.
func SetAccessLog(out io.Writer, json bool, min slog.Level) {
	access.Store(&accessLog{out: out, json: json, min: min})
}

type accessLine struct {
	t                           time.Time
	level                       slog.Level
	method, path, reqID, remote string
	status                      int
	bytes                       int64
	durationMS                  float64
}

func (l *accessLog) write(a *accessLine) {
	if a.level < l.min {
		return
	}
	bp := accessBufs.Get().(*[]byte)
	var b []byte
	if l.json {
		b = a.appendJSON((*bp)[:0])
	} else {
		b = a.appendText((*bp)[:0])
	}
	_, _ = l.out.Write(b)
	if cap(b) <= 4<<10 {
		*bp = b
		accessBufs.Put(bp)
	}
}

func (a *accessLine) appendText(b []byte) []byte {
	b = append(b, "time="...)
	b = appendRFC3339Millis(b, a.t)
	b = append(b, " level="...)
	b = append(b, a.level.String()...)
	b = append(b, " msg=http method="...)
	b = appendTextString(b, a.method)
	b = append(b, " path="...)
	b = appendTextString(b, a.path)
	b = append(b, " status="...)
	b = strconv.AppendInt(b, int64(a.status), 10)
	b = append(b, " bytes="...)
	b = strconv.AppendInt(b, a.bytes, 10)
	b = append(b, " duration_ms="...)
	b = strconv.AppendFloat(b, a.durationMS, 'g', -1, 64)
	b = append(b, " request_id="...)
	b = appendTextString(b, a.reqID)
	b = append(b, " remote="...)
	b = appendTextString(b, a.remote)
	return append(b, '\n')
}

func (a *accessLine) appendJSON(b []byte) []byte {
	b = append(b, `{"time":"`...)
	b = a.t.AppendFormat(b, time.RFC3339Nano)
	b = append(b, `","level":"`...)
	b = append(b, a.level.String()...)
	b = append(b, `","msg":"http","method":"`...)
	b = appendJSONString(b, a.method)
	b = append(b, `","path":"`...)
	b = appendJSONString(b, a.path)
	b = append(b, `","status":`...)
	b = strconv.AppendInt(b, int64(a.status), 10)
	b = append(b, `,"bytes":`...)
	b = strconv.AppendInt(b, a.bytes, 10)
	b = append(b, `,"duration_ms":`...)
	b = strconv.AppendFloat(b, a.durationMS, 'f', -1, 64) // as encoding/json writes a duration's magnitudes
	b = append(b, `,"request_id":"`...)
	b = appendJSONString(b, a.reqID)
	b = append(b, `","remote":"`...)
	b = appendJSONString(b, a.remote)
	return append(b, "\"}\n"...)
}

// appendRFC3339Millis is slog's text time: RFC 3339 with exactly three
// fractional digits.
func appendRFC3339Millis(b []byte, t time.Time) []byte {
	const prefixLen = len("2006-01-02T15:04:05.000")
	n := len(b)
	// RFC3339Nano trims trailing zeros; a tenth of a millisecond more keeps
	// four digits, and the fourth is dropped.
	t = t.Truncate(time.Millisecond).Add(time.Millisecond / 10)
	b = t.AppendFormat(b, time.RFC3339Nano)
	return append(b[:n+prefixLen], b[n+prefixLen+1:]...)
}

// appendTextString writes s bare, or Go-quoted when slog's text handler
// would quote it: empty, a space or '=', a character JSON escapes (other
// than a backslash), or a rune that is not printable, a space or invalid.
func appendTextString(b []byte, s string) []byte {
	if textNeedsQuoting(s) {
		return strconv.AppendQuote(b, s)
	}
	return append(b, s...)
}

func textNeedsQuoting(s string) bool {
	if s == "" {
		return true
	}
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c != '\\' && (c == ' ' || c == '=' || !jsonSafe(c)) {
				return true
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError || unicode.IsSpace(r) || !unicode.IsPrint(r) {
			return true
		}
		i += size
	}
	return false
}

// jsonSafe tells an ASCII byte a JSON string holds unescaped.
func jsonSafe(c byte) bool { return c >= 0x20 && c != '"' && c != '\\' }

const hexDigits = "0123456789abcdef"

// appendJSONString writes s's JSON string contents (without the quotes) as
// slog's JSON handler does: \" \\ \n \r \t, \u00XX for other control
// bytes, U+FFFD for invalid UTF-8, \u2028 and \u2029 escaped; HTML
// characters as they are.
func appendJSONString(b []byte, s string) []byte {
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if jsonSafe(c) {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '\\', '"':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xF])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hexDigits[r&0xF])
			i += size
			start = i
			continue
		}
		i += size
	}
	return append(b, s[start:]...)
}
