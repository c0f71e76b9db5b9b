package main

import "github.com/nsdump/nsdump/decode"

// jsonFormatter writes the exchanges of a --json report on a goroutine of
// its own, so that formatting them (a flood's report is twenty lines an
// exchange, six times what tcpdump prints for its packet) runs beside
// the tracking instead of after it. The tracker reuses an exchange once
// it is reported: add copies it into a batch, and batches go round
// between the two goroutines, so that the copies allocate nothing once
// the batches are grown.
type jsonFormatter struct {
	j    *jsonStream
	cur  *exchangeBatch // being filled by add
	full chan *exchangeBatch
	free chan *exchangeBatch
	done chan struct{} // closed when every batch is written
}

// exchangeBatch is a run of copied exchanges handed to the formatter.
type exchangeBatch struct {
	ex [128]decode.Exchange
	n  int
}

// startFormatter makes j write its exchanges on a goroutine of its own,
// until close.
func (j *jsonStream) startFormatter() {
	f := &jsonFormatter{j: j, full: make(chan *exchangeBatch, 4), free: make(chan *exchangeBatch, 4), done: make(chan struct{})}
	for range cap(f.free) {
		f.free <- new(exchangeBatch)
	}
	f.cur = <-f.free
	j.async = f
	go f.run()
}

func (f *jsonFormatter) add(ex *decode.Exchange) {
	b := f.cur
	ex.CopyTo(&b.ex[b.n])
	if b.n++; b.n == len(b.ex) {
		f.full <- b
		f.cur = <-f.free
	}
}

func (f *jsonFormatter) run() {
	defer close(f.done)
	for b := range f.full {
		for i := range b.n {
			f.j.append(&b.ex[i])
		}
		b.n = 0
		f.free <- b
	}
}

// wait writes what add was given last and returns when every exchange is
// written: the stream is the caller's again.
func (f *jsonFormatter) wait() {
	if f.cur.n > 0 {
		f.full <- f.cur
	}
	close(f.full)
	<-f.done
}
