package gitrepo

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/go-git/go-git/v5/plumbing/transport"
	githttp "github.com/go-git/go-git/v5/plumbing/transport/http"
	gitssh "github.com/go-git/go-git/v5/plumbing/transport/ssh"
	gossh "golang.org/x/crypto/ssh"
)

// TokenUser is the basic-auth user name sent with a token, as GitHub expects.
const TokenUser = "x-access-token"

// Auth holds the credentials for one remote. The zero value sends none.
// Token wins over Username/Password for http(s); SSHKey is used for ssh
// URLs only. Credentials never appear in errors returned by this package.
type Auth struct {
	Token    string // https: basic auth as x-access-token:TOKEN
	Username string // https: basic auth user (with Password)
	Password string
	SSHKey   string // ssh: a PEM private key (the key itself, not a path)
	// SSHKeyPassphrase decrypts SSHKey; default: none.
	SSHKeyPassphrase string
	// SSHKnownHosts is known_hosts content used to check the server's key;
	// default: the user's known_hosts files (SSH_KNOWN_HOSTS, ~/.ssh).
	SSHKnownHosts string
}

func (a Auth) secrets() []string {
	return []string{a.Token, a.Password, a.SSHKey, a.SSHKeyPassphrase}
}

// method returns the go-git auth method for url, nil when none applies.
func (a Auth) method(url string) (transport.AuthMethod, error) {
	ep, err := transport.NewEndpoint(url)
	if err != nil {
		return nil, fmt.Errorf("remote %s: %w", RedactURL(url), err)
	}
	switch ep.Protocol {
	case "http", "https":
		if a.Token != "" {
			return &githttp.BasicAuth{Username: TokenUser, Password: a.Token}, nil
		}
		if a.Username != "" || a.Password != "" {
			return &githttp.BasicAuth{Username: a.Username, Password: a.Password}, nil
		}
	case "ssh":
		if a.SSHKey == "" {
			return nil, nil
		}
		user := ep.User
		if user == "" {
			user = "git"
		}
		keys, err := gitssh.NewPublicKeys(user, []byte(a.SSHKey), a.SSHKeyPassphrase)
		if err != nil {
			// the parser's message may quote key material: keep it out
			return nil, errors.New("ssh-key: not a valid (or correctly decrypted) private key")
		}
		if a.SSHKnownHosts != "" {
			cb, err := knownHostsCallback(a.SSHKnownHosts)
			if err != nil {
				return nil, err
			}
			keys.HostKeyCallback = cb
		}
		return keys, nil
	}
	return nil, nil
}

func knownHostsCallback(content string) (gossh.HostKeyCallback, error) {
	dir, err := os.MkdirTemp("", "runner-known-hosts-")
	if err != nil {
		return nil, fmt.Errorf("ssh known hosts: %w", err)
	}
	defer os.RemoveAll(dir)
	f := filepath.Join(dir, "known_hosts")
	if err := os.WriteFile(f, []byte(content), 0o600); err != nil {
		return nil, fmt.Errorf("ssh known hosts: %w", err)
	}
	cb, err := gitssh.NewKnownHostsCallback(f)
	if err != nil {
		return nil, fmt.Errorf("ssh known hosts: %w", err)
	}
	return cb, nil
}

var urlUserinfo = regexp.MustCompile(`([a-zA-Z][a-zA-Z0-9+.-]*://)([^/@\s]+)@`)

// RedactURL hides credentials in a URL: the whole userinfo of http(s) URLs
// (a token may be the user name) and the password of any other.
func RedactURL(s string) string {
	return urlUserinfo.ReplaceAllStringFunc(s, func(m string) string {
		sub := urlUserinfo.FindStringSubmatch(m)
		scheme, info := sub[1], sub[2]
		if strings.HasPrefix(strings.ToLower(scheme), "http") {
			return scheme + "***@"
		}
		if i := strings.Index(info, ":"); i >= 0 {
			return scheme + info[:i] + ":***@"
		}
		return m
	})
}

// safeError is an error whose text was scrubbed of credentials. It unwraps
// only to this package's sentinels, never to the original text.
type safeError struct {
	msg  string
	kind error
}

func (e *safeError) Error() string { return e.msg }
func (e *safeError) Unwrap() error { return e.kind }

// scrub returns err unchanged when its text holds no credential, else an
// error with the credentials replaced by *** that still matches this
// package's sentinels with errors.Is.
func scrub(err error, secrets ...string) error {
	if err == nil {
		return nil
	}
	msg := err.Error()
	clean := RedactURL(msg)
	for _, s := range secrets {
		if s = strings.TrimSpace(s); s != "" {
			clean = strings.ReplaceAll(clean, s, "***")
		}
	}
	if clean == msg {
		return err
	}
	var kind error
	for _, k := range []error{ErrConflict, ErrDiverged, ErrCheckedOut, ErrAuth, ErrRemoteMoved} {
		if errors.Is(err, k) {
			kind = k
			break
		}
	}
	return &safeError{msg: clean, kind: kind}
}
