package pipeline

import (
	"crypto/sha256"
	"encoding/hex"
	"hash"
	"io"
)

// hashWriter counts and hashes (SHA-256) the bytes as they stream to w.
type hashWriter struct {
	w     io.Writer
	h     hash.Hash
	bytes int64
}

func newHashWriter(w io.Writer) *hashWriter { return &hashWriter{w: w, h: sha256.New()} }

func (hw *hashWriter) Write(p []byte) (int, error) {
	n, err := hw.w.Write(p)
	hw.h.Write(p[:n])
	hw.bytes += int64(n)
	return n, err
}

func (hw *hashWriter) sum() string { return hex.EncodeToString(hw.h.Sum(nil)) }
