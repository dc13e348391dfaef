// Command mkzip writes a Lambda deployment package reproducibly: the same
// input files give a byte-identical zip on every machine and every run, so a
// release can be rebuilt and checked against the deployed artifact.
//
//	go run ./lambdas/internal/mkzip -o dist/enforcer.zip dist/enforcer/bootstrap
//
// Each file is stored at the archive root under its base name (Lambda's
// provided.al2023 runtime executes /var/task/bootstrap), with a fixed
// modification time, fixed permissions 0755 and in the order given. Nothing
// from the build machine (owner, time zone, umask) reaches the archive.
package main

import (
	"archive/zip"
	"bytes"
	"compress/flate"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"
)

// epoch is the modification time of every entry: the earliest time the zip
// format's MS-DOS date can hold, so it also means "no real time recorded".
var epoch = time.Date(1980, time.January, 1, 0, 0, 0, 0, time.UTC)

func main() {
	os.Exit(run(os.Args[1:], os.Stderr))
}

func run(args []string, stderr io.Writer) int {
	fs := flag.NewFlagSet("mkzip", flag.ContinueOnError)
	fs.SetOutput(stderr)
	out := fs.String("o", "", "zip file to write")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *out == "" || fs.NArg() == 0 {
		fmt.Fprintln(stderr, "usage: mkzip -o out.zip file...")
		return 2
	}
	if err := writeFile(*out, fs.Args()); err != nil {
		fmt.Fprintf(stderr, "mkzip: %v\n", err)
		return 1
	}
	return 0
}

// writeFile builds the archive in memory and replaces out atomically, so an
// interrupted build never leaves a truncated package behind.
func writeFile(out string, paths []string) error {
	var buf bytes.Buffer
	if err := write(&buf, paths); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(out), ".mkzip-*")
	if err != nil {
		return fmt.Errorf("create temporary file: %w", err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(buf.Bytes()); err != nil {
		tmp.Close()
		return fmt.Errorf("write %s: %w", tmp.Name(), err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("close %s: %w", tmp.Name(), err)
	}
	if err := os.Chmod(tmp.Name(), 0o644); err != nil {
		return fmt.Errorf("chmod %s: %w", tmp.Name(), err)
	}
	if err := os.Rename(tmp.Name(), out); err != nil {
		return fmt.Errorf("rename to %s: %w", out, err)
	}
	return nil
}

// write writes a zip of the given files to w.
func write(w io.Writer, paths []string) error {
	zw := zip.NewWriter(w)
	// Pin the compression level: the default could change between Go
	// releases independently of the input.
	zw.RegisterCompressor(zip.Deflate, func(w io.Writer) (io.WriteCloser, error) {
		return flate.NewWriter(w, flate.BestCompression)
	})
	seen := map[string]bool{}
	for _, p := range paths {
		name := filepath.Base(p)
		if seen[name] {
			return fmt.Errorf("two files named %s", name)
		}
		seen[name] = true
		if err := add(zw, p, name); err != nil {
			return err
		}
	}
	if err := zw.Close(); err != nil {
		return fmt.Errorf("finish zip: %w", err)
	}
	return nil
}

func add(zw *zip.Writer, path, name string) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("open %s: %w", path, err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return fmt.Errorf("stat %s: %w", path, err)
	}
	if !st.Mode().IsRegular() {
		return errors.New(path + " is not a regular file")
	}
	h := &zip.FileHeader{Name: name, Method: zip.Deflate, Modified: epoch}
	// 0755: the runtime must be able to execute bootstrap whoever owns it.
	h.SetMode(0o755)
	dst, err := zw.CreateHeader(h)
	if err != nil {
		return fmt.Errorf("add %s: %w", name, err)
	}
	if _, err := io.Copy(dst, f); err != nil {
		return fmt.Errorf("compress %s: %w", path, err)
	}
	return nil
}
