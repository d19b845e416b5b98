package gitlab

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"slices"

	gl "gitlab.com/gitlab-org/api/client-go/v2"
)

// MaxShown is how many of the runners the token can see FindRunners reads
// and returns when none matches: enough to recognize one, few enough that
// a large instance costs a bounded number of requests.
const MaxShown = 20

// RunnerSearch is what FindRunners found.
type RunnerSearch struct {
	// Matches are the runners whose description or tag set is the one
	// looked for, lowest ID first.
	Matches []*RunnerInfo
	// Shown are, when nothing matches, up to MaxShown of the runners the
	// token can see, lowest ID first, to choose from; Visible counts them
	// all.
	Shown   []*RunnerInfo
	Visible int
}

// FindRunners looks among the runners the token can see for those whose
// description is description or whose tags are exactly tags (in any
// order); an empty description or no tags matches nothing. An
// administrator's token sees every runner (GET /runners/all); any other
// sees the group and project runners its user may manage (GET /runners),
// never instance runners. GitLab's runner lists carry the description but
// not the tags, so the lists are filtered by description here and by tags
// in GitLab (tag_list: the runners having at least those tags), and only
// those candidates' details are read. A token without read_api (or api)
// is ErrInsufficientScope.
func (c *Client) FindRunners(ctx context.Context, description string, tags []string) (*RunnerSearch, error) {
	v := &visibleLister{c: c, all: true}
	list, err := v.list(ctx, nil)
	if err != nil {
		return nil, err
	}
	ids := map[int64]bool{}
	if description != "" {
		for _, r := range list {
			if r.Description == description {
				ids[r.ID] = true
			}
		}
	}
	if len(tags) > 0 {
		tagged, err := v.list(ctx, tags)
		if err != nil {
			return nil, err
		}
		for _, r := range tagged {
			ids[r.ID] = true
		}
	}
	out := &RunnerSearch{Visible: len(list)}
	for _, id := range slices.Sorted(maps.Keys(ids)) {
		info, err := c.GetRunner(ctx, id)
		if errors.Is(err, ErrNotFound) {
			continue // deleted since the list was read
		}
		if err != nil {
			return nil, err
		}
		if (description != "" && info.Description == description) || (len(tags) > 0 && sameTags(info.TagList, tags)) {
			out.Matches = append(out.Matches, info)
		}
	}
	if len(out.Matches) > 0 {
		return out, nil
	}
	slices.SortFunc(list, func(a, b *gl.Runner) int { return cmp.Compare(a.ID, b.ID) })
	for _, r := range list {
		if len(out.Shown) == MaxShown {
			break
		}
		info, err := c.GetRunner(ctx, r.ID)
		if errors.Is(err, ErrNotFound) {
			continue
		}
		if err != nil {
			return nil, err
		}
		out.Shown = append(out.Shown, info)
	}
	return out, nil
}

// sameTags compares two tag lists as sets, as GitLab keeps them.
func sameTags(a, b []string) bool {
	a, b = slices.Clone(a), slices.Clone(b)
	slices.Sort(a)
	slices.Sort(b)
	return slices.Equal(slices.Compact(a), slices.Compact(b))
}

// visibleLister lists the runners a token can see, all pages. It asks
// GET /runners/all first and falls back to GET /runners for good when
// GitLab answers that only administrators may (a plain 403): whether the
// user is one is not something a token with read_api can otherwise ask.
type visibleLister struct {
	c   *Client
	all bool
}

func (v *visibleLister) list(ctx context.Context, tags []string) ([]*gl.Runner, error) {
	var out []*gl.Runner
	page := int64(1)
	for {
		opt := &gl.ListRunnersOptions{ListOptions: gl.ListOptions{Page: page, PerPage: 100}}
		if len(tags) > 0 {
			opt.TagList = &tags
		}
		var (
			rs   []*gl.Runner
			resp *gl.Response
			err  error
		)
		if v.all {
			rs, resp, err = v.c.api.Runners.ListAllRunners(opt, gl.WithContext(ctx))
		} else {
			rs, resp, err = v.c.api.Runners.ListRunners(opt, gl.WithContext(ctx))
		}
		if err != nil {
			var er *gl.ErrorResponse
			switch {
			case insufficientScope(err):
				return nil, fmt.Errorf("list runners: %w: %s; use a token with read_api (or api)", ErrInsufficientScope, v.c.describe(err))
			case v.all && page == 1 && errors.As(err, &er) && er.StatusCode == http.StatusForbidden:
				v.all = false // not an administrator
				continue
			}
			return nil, v.c.wrap("list runners", err)
		}
		out = append(out, rs...)
		if resp == nil || resp.NextPage == 0 {
			return out, nil
		}
		page = resp.NextPage
	}
}

// insufficientScope reports whether err is GitLab's 403 for a token
// without the route's scope: {"error":"insufficient_scope", ...}
// (Gitlab::Auth::InsufficientScopeError, answered by the API's OAuth
// error handling).
func insufficientScope(err error) bool {
	var er *gl.ErrorResponse
	if !errors.As(err, &er) || er.StatusCode != http.StatusForbidden {
		return false
	}
	var body struct {
		Error string `json:"error"`
	}
	return json.Unmarshal(er.Body, &body) == nil && body.Error == "insufficient_scope"
}
