package layer

import (
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"hash"
	"io"
	"os"
	"path/filepath"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"
	kgzip "github.com/klauspost/compress/gzip"
)

// Blob is a gzip-compressed layer stored in a directory (layer.tar.gz and
// layer.json). It is a v1.Layer whose digests are known without reading it.
type Blob struct {
	Path string
	Info BlobInfo
}

// BlobInfo is what layer.json records about a blob.
type BlobInfo struct {
	Digest           v1.Hash `json:"digest"`
	DiffID           v1.Hash `json:"diffID"`
	Size             int64   `json:"size"`
	UncompressedSize int64   `json:"uncompressedSize"`
}

const (
	blobFile = "layer.tar.gz"
	metaFile = "layer.json"
)

// WriteBlob fills dir with the compressed stream that write produces and
// returns the blob. The compression is fixed (klauspost gzip, default level,
// no name or time in the header), so the same stream gives the same bytes.
func WriteBlob(dir string, write func(w io.Writer) error) (*Blob, error) {
	b := &Blob{Path: filepath.Join(dir, blobFile)}
	f, err := os.OpenFile(b.Path, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o644)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	compressed := &counter{h: sha256.New(), w: f}
	zw, err := kgzip.NewWriterLevel(compressed, kgzip.DefaultCompression)
	if err != nil {
		return nil, err
	}
	uncompressed := &counter{h: sha256.New(), w: zw}
	if err := write(uncompressed); err != nil {
		return nil, err
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	if err := f.Close(); err != nil {
		return nil, err
	}
	b.Info = BlobInfo{
		Digest:           v1.Hash{Algorithm: "sha256", Hex: hex.EncodeToString(compressed.h.Sum(nil))},
		DiffID:           v1.Hash{Algorithm: "sha256", Hex: hex.EncodeToString(uncompressed.h.Sum(nil))},
		Size:             compressed.n,
		UncompressedSize: uncompressed.n,
	}
	meta, err := json.MarshalIndent(b.Info, "", "  ")
	if err != nil {
		return nil, err
	}
	return b, os.WriteFile(filepath.Join(dir, metaFile), append(meta, '\n'), 0o644)
}

// LoadBlob reads a blob WriteBlob stored in dir.
func LoadBlob(dir string) (*Blob, error) {
	meta, err := os.ReadFile(filepath.Join(dir, metaFile))
	if err != nil {
		return nil, err
	}
	b := &Blob{Path: filepath.Join(dir, blobFile)}
	if err := json.Unmarshal(meta, &b.Info); err != nil {
		return nil, fmt.Errorf("%s: %w", filepath.Join(dir, metaFile), err)
	}
	return b, nil
}

var _ v1.Layer = (*Blob)(nil)

// Digest is the sha256 of the compressed bytes.
func (b *Blob) Digest() (v1.Hash, error) { return b.Info.Digest, nil }

// DiffID is the sha256 of the tar stream.
func (b *Blob) DiffID() (v1.Hash, error) { return b.Info.DiffID, nil }

// Size is the compressed size.
func (b *Blob) Size() (int64, error) { return b.Info.Size, nil }

// MediaType is the OCI gzip layer type.
func (b *Blob) MediaType() (types.MediaType, error) { return types.OCILayer, nil }

// Compressed opens the stored bytes.
func (b *Blob) Compressed() (io.ReadCloser, error) { return os.Open(b.Path) }

// Uncompressed opens the tar stream.
func (b *Blob) Uncompressed() (io.ReadCloser, error) {
	f, err := os.Open(b.Path)
	if err != nil {
		return nil, err
	}
	zr, err := gzip.NewReader(f)
	if err != nil {
		f.Close()
		return nil, err
	}
	return readCloser{zr, func() error { zr.Close(); return f.Close() }}, nil
}

type readCloser struct {
	io.Reader
	close func() error
}

func (r readCloser) Close() error { return r.close() }

// counter hashes and counts what passes through to w.
type counter struct {
	h hash.Hash
	w io.Writer
	n int64
}

func (c *counter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.h.Write(p[:n])
	c.n += int64(n)
	return n, err
}
