package main

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/nsdump/nsdump/capture"
)

// TestOutputOpenedAfterSignal: a signal that comes while capture -w
// opens a new regular file (open does not wait for a regular file) leaves
// a whole capture file with no packets, never an empty one that read
// refuses, and no word of a FIFO.
func TestOutputOpenedAfterSignal(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	points := []capture.Point{{Name: "ns0/eth0", LinkType: capture.LinkEthernet, SnapLen: capture.MaxSnapLen}}
	for _, name := range []string{"out.pcapng", "out.pcap"} {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), name)
			var stderr strings.Builder
			_, _, closeSink, err := openSink(ctx, env{stdout: io.Discard, stderr: &stderr}, path, points, nil, -1)
			if err != nil {
				t.Fatalf("open %s after the signal: %v", name, err)
			}
			if err := closeSink(); err != nil {
				t.Fatal(err)
			}
			f, err := os.Open(path)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			r, err := capture.NewReader(f)
			if err != nil {
				t.Fatalf("read refuses the file left: %v", err)
			}
			if _, err := r.Next(); err != io.EOF {
				t.Fatalf("first record: %v, want io.EOF", err)
			}
		})
	}
}

// TestOutputFIFOStillWaits: a FIFO without a reader is still waited for,
// and the wait ends with the context, naming the FIFO.
func TestOutputFIFOStillWaits(t *testing.T) {
	fifo := filepath.Join(t.TempDir(), "out.pcapng")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := openOutput(ctx, fifo, -1); err == nil || !strings.Contains(err.Error(), "waiting for a reader of the FIFO") {
		t.Fatalf("open a FIFO without reader after the signal: %v", err)
	}
	r, err := os.OpenFile(fifo, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	w, err := openOutput(context.Background(), fifo, -1)
	if err != nil {
		t.Fatalf("open a FIFO with its reader: %v", err)
	}
	defer w.Close()
	if _, err := w.Write([]byte("x")); err != nil {
		t.Fatalf("write to the FIFO: %v", err)
	}
}
