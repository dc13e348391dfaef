package main

import (
	"archive/zip"
	"bytes"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"
)

func TestZipIsReproducible(t *testing.T) {
	dir := t.TempDir()
	bin := filepath.Join(dir, "bootstrap")
	content := bytes.Repeat([]byte("ELF not really, but compressible "), 1000)
	if err := os.WriteFile(bin, content, 0o600); err != nil {
		t.Fatal(err)
	}
	a, b := filepath.Join(dir, "a.zip"), filepath.Join(dir, "b.zip")
	if err := writeFile(a, []string{bin}); err != nil {
		t.Fatal(err)
	}
	// Change what a careless packer would copy: mtime and permissions.
	if err := os.Chtimes(bin, time.Now(), time.Now().Add(-time.Hour)); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(bin, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := writeFile(b, []string{bin}); err != nil {
		t.Fatal(err)
	}
	da, _ := os.ReadFile(a)
	db, _ := os.ReadFile(b)
	if !bytes.Equal(da, db) {
		t.Fatal("two builds of the same input differ")
	}

	zr, err := zip.NewReader(bytes.NewReader(da), int64(len(da)))
	if err != nil {
		t.Fatal(err)
	}
	if len(zr.File) != 1 {
		t.Fatalf("%d entries, want 1", len(zr.File))
	}
	f := zr.File[0]
	if f.Name != "bootstrap" {
		t.Errorf("entry %q, want bootstrap at the root", f.Name)
	}
	if f.Mode().Perm() != 0o755 || !f.Mode().IsRegular() {
		t.Errorf("mode %v, want -rwxr-xr-x", f.Mode())
	}
	if !f.Modified.Equal(epoch) {
		t.Errorf("modified %v, want %v", f.Modified, epoch)
	}
	rc, err := f.Open()
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(rc)
	rc.Close()
	if !bytes.Equal(got, content) {
		t.Error("content changed in the archive")
	}
}

func TestZipRejects(t *testing.T) {
	dir := t.TempDir()
	a := filepath.Join(dir, "x", "bootstrap")
	b := filepath.Join(dir, "y", "bootstrap")
	for _, p := range []string{a, b} {
		os.MkdirAll(filepath.Dir(p), 0o755)
		os.WriteFile(p, []byte("x"), 0o644)
	}
	tests := []struct {
		name  string
		paths []string
	}{
		{"duplicate base name", []string{a, b}},
		{"missing file", []string{filepath.Join(dir, "nope")}},
		{"directory", []string{dir}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			out := filepath.Join(dir, "out.zip")
			if err := writeFile(out, tc.paths); err == nil {
				t.Fatal("no error")
			}
			if _, err := os.Stat(out); err == nil {
				t.Error("a failed run left an archive behind")
			}
		})
	}
	if code := run([]string{"-o", ""}, io.Discard); code != 2 {
		t.Errorf("usage error exit %d, want 2", code)
	}
}
