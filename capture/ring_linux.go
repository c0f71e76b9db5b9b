package capture

import (
	"errors"
	"sync"
)

// Ring sizes. Each capture point has its own TPACKET_V3 ring, memory the
// kernel pins for the socket's life and that becomes resident as packets
// fill it. One ring per point of today's 64 MiB made a two-point capture
// 18 times tcpdump's size, and a hundred namespaces impossible. tcpdump's
// default is 2 MiB per interface; nsdump follows it for a few points and
// shrinks the rings as points multiply, within a total budget.
const (
	// DefaultRing is one point's ring when there are few: tcpdump's -B default.
	DefaultRing = 2 << 20
	// MinRing is the smallest ring: two blocks of MinBlock.
	MinRing = 2 * MinBlock
	// MinBlock is the smallest block: it must hold a whole 64 KiB GSO frame.
	MinBlock = 128 << 10
	// MaxBlock is the largest block.
	MaxBlock = 1 << 20
	// RingBudget bounds the rings of all points together when adapting.
	RingBudget = 64 << 20
	// ScaleBudget is the most that rings of MinRing may take together;
	// past it (512 points) each point gets a ring of two SmallBlocks.
	// The kernel maps a ring whole, so the rings are the capture's
	// memory: 1,039 points of MinRing peaked at 272 MiB (issue 22).
	ScaleBudget = 128 << 20
	// SmallBlock is a block of the rings at scale: a frame longer than
	// it, less its headers (a full 64 KiB GSO frame), is cut there, as a
	// snapshot length would cut it.
	SmallBlock = 64 << 10
)

// AdaptRing is the ring size of each of n points: DefaultRing while the
// budget allows, down to MinRing; two SmallBlocks past ScaleBudget.
func AdaptRing(n int) int {
	r := DefaultRing
	for r > MinRing && n*r > RingBudget {
		r /= 2
	}
	if n*r > ScaleBudget {
		r = 2 * SmallBlock
	}
	return r
}

// ringShape splits a ring of size bytes into blocks: as many as it can, of
// MinBlock, up to 64 (then larger blocks, up to MaxBlock), a power of two
// so that the kernel takes it. The kernel hands a block over when it is
// full or when its timeout (blockTimeout) passes, whichever is first: at a
// rate that fills less than a block per timeout, a ring covers only its
// number of blocks times the timeout, however large they are. Eight blocks
// of 256 KiB covered 80 ms of a 110,000 packet/s flood that would have
// filled them in 130 ms; a process kept off the CPU for longer (a loaded
// machine) lost packets. Sixteen of 128 KiB fill at that rate and cover
// the whole 130 ms.
func ringShape(size int) (block, blocks int) {
	if size < MinRing {
		return SmallBlock, max(size/SmallBlock, 2)
	}
	block = MinBlock
	for block < MaxBlock && size/block > 64 {
		block *= 2
	}
	blocks = max(size/block, 2)
	return block, blocks
}

// shapeRing fixes the block size and count for n points.
func (c *Config) shapeRing(n int) {
	if c.BlockSize > 0 && c.NumBlocks > 0 {
		return
	}
	size := c.RingSize
	if size <= 0 {
		size = AdaptRing(n)
	}
	if c.BlockSize > 0 {
		c.NumBlocks = max(size/c.BlockSize, 2)
		return
	}
	if c.NumBlocks > 0 {
		// A caller that asks for a number of blocks keeps 1 MiB ones.
		c.BlockSize = MaxBlock
		return
	}
	c.BlockSize, c.NumBlocks = ringShape(size)
}

// openers bounds the sockets opened at once (each on a thread of its own).
const openers = 32

// parallel runs fn(0..n-1), at most openers at a time, and returns the
// first error by index.
func parallel(n int, fn func(i int) error) error {
	errs := make([]error, n)
	sem := make(chan struct{}, openers)
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			errs[i] = fn(i)
		}()
	}
	wg.Wait()
	return errors.Join(firstErr(errs))
}

func firstErr(errs []error) error {
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}
