// Package data holds the task pools both model families are trained and
// evaluated on: every sample is a fixed-size byte vector, so images and
// texts share one representation, one shard layout and one evaluator.
package data

import "fmt"

// Family names a model family.
type Family string

const (
	Vision Family = "vision"
	Text   Family = "text"
)

// Input geometry of each family.
const (
	ImageSide     = 32 // images are ImageSide x ImageSide
	ImageChannels = 3  // RGB, stored channel-planar (CHW) so grey images compress well
	TextLen       = 64 // texts are raw bytes, truncated or zero-padded to TextLen
)

// SampleSize is the number of bytes in one sample of the family.
func SampleSize(f Family) int {
	switch f {
	case Vision:
		return ImageChannels * ImageSide * ImageSide
	case Text:
		return TextLen
	}
	return 0
}

// Split is a set of labelled samples: sample i is X[i*size:(i+1)*size].
type Split struct {
	X []uint8
	Y []int32
}

// Len is the number of samples.
func (s Split) Len() int { return len(s.Y) }

// Sample returns sample i's bytes (aliasing X).
func (s Split) Sample(i, size int) []uint8 { return s.X[i*size : (i+1)*size] }

// Head returns the first n samples (or all when n <= 0 or n >= Len).
func (s Split) Head(n, size int) Split {
	if n <= 0 || n >= s.Len() {
		return s
	}
	return Split{X: s.X[:n*size], Y: s.Y[:n]}
}

// Task is one classification task of a family.
type Task struct {
	Name    string   // short identifier, e.g. "digit"
	Classes []string // class names, index = label
	Source  string   // provenance, e.g. "npm:emoji-datasource@16.0.0"
	Train   Split
	Val     Split
	Test    Split
}

// Validate checks the task's internal consistency for the family.
func (t *Task) Validate(f Family) error {
	size := SampleSize(f)
	if size == 0 {
		return fmt.Errorf("task %q: unknown family %q", t.Name, f)
	}
	if len(t.Classes) < 2 {
		return fmt.Errorf("task %q: %d classes, need at least 2", t.Name, len(t.Classes))
	}
	for name, s := range map[string]Split{"train": t.Train, "val": t.Val, "test": t.Test} {
		if len(s.X) != size*len(s.Y) {
			return fmt.Errorf("task %q %s: %d bytes for %d samples of %d bytes", t.Name, name, len(s.X), len(s.Y), size)
		}
		for i, y := range s.Y {
			if y < 0 || int(y) >= len(t.Classes) {
				return fmt.Errorf("task %q %s: sample %d has label %d outside [0,%d)", t.Name, name, i, y, len(t.Classes))
			}
		}
	}
	return nil
}
