package serve

import (
	"context"
	"fmt"
	"net/http"
	"strings"

	graphql "github.com/graph-gophers/graphql-go"
	"github.com/graph-gophers/graphql-go/relay"
)

// graphqlSchema is the part of GitHub's GraphQL schema that gh asks for
// around Actions: a repository's facts and default branch (RepositoryInfo,
// asked by `gh workflow run` without --ref) and the pull request of a
// run's branch (PullRequestForRun, asked by `gh run view`; runner has no
// pull requests, so none).
const graphqlSchema = `
schema { query: Query }
type Query {
	repository(owner: String!, name: String!): Repository
}
type Repository {
	id: ID!
	name: String!
	nameWithOwner: String!
	owner: RepositoryOwner!
	description: String
	isPrivate: Boolean!
	isFork: Boolean!
	hasIssuesEnabled: Boolean!
	hasWikiEnabled: Boolean!
	viewerPermission: RepositoryPermission
	defaultBranchRef: Ref
	parent: Repository
	mergeCommitAllowed: Boolean!
	rebaseMergeAllowed: Boolean!
	squashMergeAllowed: Boolean!
	pullRequests(headRefName: String, baseRefName: String, first: Int, last: Int, states: [PullRequestState!], orderBy: IssueOrder): PullRequestConnection!
}
type RepositoryOwner { login: String! }
type Ref { name: String! }
enum RepositoryPermission { ADMIN MAINTAIN WRITE TRIAGE READ }
enum PullRequestState { OPEN CLOSED MERGED }
enum IssueOrderField { CREATED_AT UPDATED_AT COMMENTS }
enum OrderDirection { ASC DESC }
input IssueOrder { field: IssueOrderField!, direction: OrderDirection! }
type PullRequestConnection { nodes: [PullRequest!]!, totalCount: Int! }
type PullRequest { number: Int!, headRepository: Repository }
`

// graphqlHandler answers POST /api/graphql (GitHub Enterprise's path) and
// /graphql with the schema above.
func (s *Server) graphqlHandler() http.Handler {
	schema := graphql.MustParseSchema(graphqlSchema, &gqlQuery{s: s}, graphql.UseFieldResolvers(), graphql.MaxDepth(6), graphql.DisableIntrospection())
	return &relay.Handler{Schema: schema}
}

type gqlQuery struct{ s *Server }

func (q *gqlQuery) Repository(ctx context.Context, args struct{ Owner, Name string }) (*gqlRepo, error) {
	full := args.Owner + "/" + args.Name
	rp := q.s.repoByName(full)
	if rp == nil {
		return nil, fmt.Errorf("Could not resolve to a Repository with the name '%s'.", full)
	}
	branch := ""
	if g, err := rp.open(false); err == nil {
		branch = rp.branch(g)
	}
	owner, name, _ := strings.Cut(rp.name, "/")
	return &gqlRepo{ID: graphql.ID(nodeID("R", repoID(rp.name))), Name: name, NameWithOwner: rp.name, Owner: gqlOwner{Login: owner},
		IsPrivate: true, ViewerPermission: strPtr("ADMIN"), branch: branch}, nil
}

// gqlRepo is a Repository: the token holder may do everything.
type gqlRepo struct {
	ID                                                         graphql.ID
	Name, NameWithOwner                                        string
	Owner                                                      gqlOwner
	Description                                                *string
	IsPrivate, IsFork, HasIssuesEnabled, HasWikiEnabled        bool
	MergeCommitAllowed, RebaseMergeAllowed, SquashMergeAllowed bool
	ViewerPermission                                           *string
	Parent                                                     *gqlRepo
	branch                                                     string
}

type gqlOwner struct{ Login string }

type gqlRef struct{ Name string }

func (r *gqlRepo) DefaultBranchRef() *gqlRef {
	if r.branch == "" {
		return nil
	}
	return &gqlRef{Name: r.branch}
}

type gqlPROrder struct{ Field, Direction string }

func (r *gqlRepo) PullRequests(args struct {
	HeadRefName, BaseRefName *string
	First, Last              *int32
	States                   *[]string
	OrderBy                  *gqlPROrder
}) *gqlPRs {
	return &gqlPRs{Nodes: []*gqlPR{}}
}

type gqlPRs struct {
	Nodes      []*gqlPR
	TotalCount int32
}

type gqlPR struct {
	Number         int32
	HeadRepository *gqlRepo
}

func strPtr(s string) *string { return &s }
