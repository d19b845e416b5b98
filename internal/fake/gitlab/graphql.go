package gitlab

import (
	"encoding/json"
	"io"
	"net/http"
	"regexp"
	"strconv"
	"strings"
)

// graphQLRunnerQuery matches the one GraphQL query runnerctl sends: a
// runner's token expiry. GET /runners/:id does not expose token_expires_at
// (lib/api/entities/ci/runner_details.rb); GraphQL's CiRunner type does
// (app/graphql/types/ci/runner_type.rb: field :token_expires_at,
// Types::TimeType, null: true). Any other query gets a GraphQL error, so a
// test notices runnerctl asking for something this fake does not model.
var graphQLRunnerQuery = regexp.MustCompile(`^query\s*\(\s*\$id\s*:\s*CiRunnerID!\s*\)\s*\{\s*runner\s*\(\s*id\s*:\s*\$id\s*\)\s*\{\s*tokenExpiresAt\s*\}\s*\}$`)

// serveGraphQL answers POST /api/graphql. GitLab's GraphQL API takes a
// personal access token with the api or read_api scope (read_api suffices
// for queries); a runner that does not exist, is deleted, or that the user
// may not read is null, not an error, as GraphQL resolves unauthorized
// objects to null. Unverified: the exact answer to a bad token (this fake
// sends 401 {"message":"401 Unauthorized"} like the REST API).
func (s *Server) serveGraphQL(w http.ResponseWriter, r *http.Request, line string) {
	if r.Method != http.MethodPost {
		s.finish(w, r, line, OpGraphQL, grapeError(http.StatusMethodNotAllowed, "405 Not Allowed"))
		return
	}
	limits, throttled := s.limit(r, line)
	if throttled != nil {
		s.finish(w, r, line, OpGraphQL, withHeaders(throttled, limits))
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil {
		s.finish(w, r, line, OpGraphQL, withHeaders(messageError(http.StatusBadRequest, "400 Bad request"), limits))
		return
	}
	c := &call{r: r, query: r.URL.Query(), body: body, method: http.MethodGet} // a query: read_api suffices
	resp, loseStatus := s.takeFault(OpGraphQL)
	if resp == nil {
		resp = s.graphQL(c)
	}
	switch {
	case loseStatus == 0:
		s.wait(r, OpGraphQL)
		s.inj.Log(line + " aborted")
		abort(w)
		return
	case loseStatus > 0:
		resp = failure(OpGraphQL, loseStatus)
	}
	s.finish(w, r, line, OpGraphQL, withHeaders(resp, limits))
}

func graphQLError(msg string) *response {
	return jsonResponse(http.StatusOK, map[string]any{"errors": []map[string]string{{"message": msg}}})
}

func (s *Server) graphQL(c *call) *response {
	tok, errResp := s.authenticate(c, []scopeGrant{{name: "api"}, {name: "read_api", getOnly: true}}, false)
	if errResp != nil {
		return errResp
	}
	if tok == nil {
		return messageError(http.StatusUnauthorized, msgUnauthorized)
	}
	c.tok = tok
	var req struct {
		Query     string         `json:"query"`
		Variables map[string]any `json:"variables"`
	}
	if err := json.Unmarshal(c.body, &req); err != nil {
		return graphQLError("Invalid JSON")
	}
	if !graphQLRunnerQuery.MatchString(strings.TrimSpace(req.Query)) {
		return graphQLError("this fake GitLab answers only query($id: CiRunnerID!) { runner(id: $id) { tokenExpiresAt } }")
	}
	gid, _ := req.Variables["id"].(string)
	idText, ok := strings.CutPrefix(gid, "gid://gitlab/Ci::Runner/")
	id, err := strconv.ParseInt(idText, 10, 64)
	if !ok || err != nil {
		return graphQLError("Variable $id of type CiRunnerID! was provided invalid value")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	r, found := s.runners[id]
	if !found || r.Deleted || (!tok.opts.Admin && !s.canReadRunner(tok, r)) {
		return jsonResponse(http.StatusOK, map[string]any{"data": map[string]any{"runner": nil}})
	}
	return jsonResponse(http.StatusOK, map[string]any{"data": map[string]any{"runner": map[string]any{"tokenExpiresAt": tsPtr(r.TokenExpiresAt)}}})
}
