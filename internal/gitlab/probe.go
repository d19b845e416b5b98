package gitlab

import (
	"context"
	"fmt"
	"io"
	"net/http"
)

// HTTPError is an answer from the server at GitLab's URL that is not
// GitLab's API answering: a 404 (a wrong path prefix, another site) or a
// server error (GitLab or a proxy in front of it failing).
type HTTPError struct{ StatusCode int }

func (e *HTTPError) Error() string {
	return fmt.Sprintf("answered HTTP %d %s", e.StatusCode, http.StatusText(e.StatusCode))
}

// Probe asks GitLab once whether its API answers at all, without the
// token and without retries (doctor wants a quick verdict, not
// perseverance): GET /personal_access_tokens/self, which GitLab answers
// with 401 without a token. Any such answer proves that DNS, the
// connection, TLS (with Options.CAFile) and the URL's path are right. A
// transport error is returned wrapped as it is, so that callers can tell
// DNS, TLS and connection problems apart (errors.As); another answer is an
// *HTTPError.
func (c *Client) Probe(ctx context.Context) error {
	u := c.api.BaseURL().String() + "personal_access_tokens/self"
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return fmt.Errorf("GitLab %s: %w", c.url, err)
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return fmt.Errorf("GitLab %s: %w", c.url, err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	switch resp.StatusCode {
	case http.StatusOK, http.StatusUnauthorized, http.StatusForbidden:
		return nil
	}
	return fmt.Errorf("GitLab %s: %w", c.url, &HTTPError{StatusCode: resp.StatusCode})
}
