package inject_test

import (
	"context"
	"fmt"
	"net/http"

	"github.com/runnerctl/runnerctl/internal/fake/inject"
)

// A fake whose faults come in kinds: some fail a request without acting,
// others let the server act and then lose the answer or drop the
// connection, or throttle with a Retry-After.
func Example() {
	type kind int
	const (
		fail kind = iota
		lose
		drop
		rateLimit
	)
	type fault struct {
		kind       kind
		status     int // fail, lose, rateLimit: the status to answer
		retryAfter int // rateLimit: seconds
	}
	faults := inject.New[fault]("fake example", []string{"create", "delete"})

	created := 0
	serve := func() string { // the fake's handler for "create"
		f, faulty := faults.Take("create")
		switch {
		case faulty && f.kind == fail:
			return fmt.Sprint(f.status)
		case faulty && f.kind == rateLimit:
			return fmt.Sprintf("%d Retry-After: %d", f.status, f.retryAfter)
		}
		created++ // act
		faults.Wait(context.Background(), "create")
		switch {
		case faulty && f.kind == lose:
			return fmt.Sprint(f.status)
		case faulty && f.kind == drop:
			return "aborted"
		}
		return "201"
	}

	faults.Add("create", fault{kind: rateLimit, status: http.StatusTooManyRequests, retryAfter: 30}, 1)
	faults.Add("create", fault{kind: lose, status: http.StatusBadGateway}, 1)
	faults.Add("create", fault{kind: drop}, 1)
	for range 4 {
		faults.Log("POST /user/runners " + serve())
	}
	fmt.Println("created:", created)
	for _, l := range faults.Requests() {
		fmt.Println(l)
	}
	// Output:
	// created: 3
	// POST /user/runners 429 Retry-After: 30
	// POST /user/runners 502
	// POST /user/runners aborted
	// POST /user/runners 201
}
