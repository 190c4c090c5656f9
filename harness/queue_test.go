package harness

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/bpfmatrix/bpfmatrix/observation"
)

// imageOf is the image facts of a kernel of version v.
func imageOf(v string) observation.Image { return observation.Image{Version: v} }

// TestQueueOrder pushes kernels and takes them all: the newest release first, kernels without
// a version last, ties in push order.
func TestQueueOrder(t *testing.T) {
	tests := []struct {
		versions []string
		want     []int
	}{
		{[]string{"5.10.262", "7.3.4", "6.12.118", "7.0.13"}, []int{1, 3, 2, 0}},
		{[]string{"6.1.192", "", "6.10.1", "6.9.12"}, []int{2, 3, 0, 1}},
		{[]string{"", "local"}, []int{0, 1}},
		{[]string{"7.3~rc7", "7.3.4"}, []int{1, 0}},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.versions, ","), func(t *testing.T) {
			q := NewQueue("")
			for _, v := range tt.versions {
				q.Push(Kernel{Image: imageOf(v)})
			}
			q.Close()
			var got []int
			for {
				it, ok := q.take(context.Background())
				if !ok {
					break
				}
				got = append(got, it.index)
			}
			if fmt.Sprint(got) != fmt.Sprint(tt.want) {
				t.Fatalf("taken %v, want %v", got, tt.want)
			}
		})
	}
}

// TestQueueWaits checks that takers wait for pushes, that every waiting taker gets a kernel
// pushed while it waits, and that Close and a cancelled context end the wait.
func TestQueueWaits(t *testing.T) {
	q := NewQueue("")
	got := make(chan int, 4)
	for range 2 {
		go func() {
			for {
				it, ok := q.take(context.Background())
				if !ok {
					got <- -1
					return
				}
				got <- it.index
			}
		}()
	}
	select {
	case i := <-got:
		t.Fatalf("took %d from an empty queue", i)
	case <-time.After(50 * time.Millisecond):
	}
	q.Push(Kernel{Image: imageOf("6.1.1")})
	q.Push(Kernel{Image: imageOf("7.3.4")})
	seen := map[int]bool{<-got: true, <-got: true}
	if !seen[0] || !seen[1] {
		t.Fatalf("took %v, want both kernels", seen)
	}
	q.Close()
	if a, b := <-got, <-got; a != -1 || b != -1 {
		t.Fatalf("after Close the takers got %d, %d", a, b)
	}
	ctx, cancel := context.WithCancel(context.Background())
	open := NewQueue("")
	done := make(chan bool)
	go func() { _, ok := open.take(ctx); done <- ok }()
	cancel()
	if <-done {
		t.Fatal("took from an open empty queue after cancel")
	}
}
