package serve

import (
	"fmt"
	"strings"
)

// MaxNameLen is the longest shard name served, in bytes.
const MaxNameLen = 200

// NameError explains why a shard name was refused.
type NameError struct {
	Name    string
	Problem string
}

func (e *NameError) Error() string { return fmt.Sprintf("bad shard name %q: %s", e.Name, e.Problem) }

// CheckName accepts a flat shard file name: 1 to MaxNameLen bytes of ASCII
// letters, digits, '.', '_' and '-', not starting with a dot and without
// "..". Everything else (separators, control characters, spaces, non-ASCII)
// is refused with a *NameError.
func CheckName(name string) error {
	bad := func(p string, args ...any) error { return &NameError{Name: name, Problem: fmt.Sprintf(p, args...)} }
	switch {
	case name == "":
		return bad("empty")
	case len(name) > MaxNameLen:
		return &NameError{Name: name[:32] + "...", Problem: fmt.Sprintf("%d bytes long, the limit is %d", len(name), MaxNameLen)}
	case strings.Contains(name, ".."):
		return bad(`contains ".."`)
	case name[0] == '.':
		return bad("starts with a dot")
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		switch {
		case c == '/' || c == '\\':
			return bad("contains a path separator")
		case c < 0x20 || c == 0x7f:
			return bad("contains a control character")
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9', c == '.', c == '_', c == '-':
		default:
			return bad("character %q not allowed (only letters, digits, '.', '_' and '-')", c)
		}
	}
	return nil
}

// ContentAddressed reports whether name carries the first 12 hex digits of
// sha256 as one of its dot-separated parts, as in
// "vision-backbone.3fa2b1c4d5e6.safetensors". Such a file can never change
// under its name, so it is served as immutable.
func ContentAddressed(name, sha256 string) bool {
	if len(sha256) < 12 {
		return false
	}
	want := strings.ToLower(sha256[:12])
	for _, p := range strings.Split(name, ".") {
		if p == want {
			return true
		}
	}
	return false
}

// ContentType is the media type a shard is served with.
func ContentType(name string) string {
	if strings.HasSuffix(name, ".json") {
		return "application/json"
	}
	return "application/octet-stream"
}
