package capture

import "testing"

func TestRingSizes(t *testing.T) {
	for _, tt := range []struct{ points, ring int }{
		{1, 2 << 20}, {2, 2 << 20}, {32, 2 << 20}, {33, 1 << 20}, {100, 512 << 10}, {207, 256 << 10}, {512, 256 << 10}, {513, 128 << 10}, {1039, 128 << 10}, {10000, 128 << 10},
	} {
		if got := AdaptRing(tt.points); got != tt.ring {
			t.Errorf("AdaptRing(%d) = %d, want %d", tt.points, got, tt.ring)
		}
		if tt.points <= 256 && tt.points*AdaptRing(tt.points) > RingBudget {
			t.Errorf("%d points of %d bytes exceed the budget", tt.points, AdaptRing(tt.points))
		}
		// issue 22: 500 namespaces (1,039 points) within 256 MiB, the
		// program (about 10 MiB) and Go's heap included.
		if tt.points <= 1100 && tt.points*AdaptRing(tt.points) > 200<<20 {
			t.Errorf("%d points of %d bytes: %d MiB of rings", tt.points, AdaptRing(tt.points), tt.points*AdaptRing(tt.points)>>20)
		}
	}
	for _, tt := range []struct{ size, block, blocks int }{
		{256 << 10, 128 << 10, 2}, {2 << 20, 128 << 10, 16}, {8 << 20, 128 << 10, 64}, {16 << 20, 256 << 10, 64}, {64 << 20, 1 << 20, 64}, {300 << 10, 128 << 10, 2}, {128 << 10, 64 << 10, 2},
	} {
		if b, n := ringShape(tt.size); b != tt.block || n != tt.blocks {
			t.Errorf("ringShape(%d) = %d x %d, want %d x %d", tt.size, b, n, tt.block, tt.blocks)
		}
	}
	// trace asks for 8 blocks and keeps 1 MiB ones.
	c := Config{NumBlocks: 8}
	c.shapeRing(2)
	if c.BlockSize != MaxBlock || c.NumBlocks != 8 {
		t.Errorf("NumBlocks 8: %d x %d", c.BlockSize, c.NumBlocks)
	}
}
