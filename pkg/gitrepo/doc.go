// Package gitrepo is runner's git, built on go-git only (no git binary): it
// resolves a repository into the github context (Resolve), clones one at a
// commit (Clone), finds the source commit that ignores generated paths
// (SourceCommit) and commits and pushes generated files (CommitPush).
//
// Local repositories are served in-process: the package installs an
// in-process transport for file:// and plain paths into go-git's protocol
// table when it is loaded, so neither fetch nor push runs git-upload-pack or
// git-receive-pack. It does not match workflow triggers (pkg/workflow does).
package gitrepo
