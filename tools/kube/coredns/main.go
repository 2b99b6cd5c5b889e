// Command coredns is CoreDNS with the plugins the test cluster's DNS needs
// (CoreDNS's documented way to build it with fewer plugins: the plugins
// imported here, their order in dnsserver.Directives as in CoreDNS's
// plugin.cfg). The full build also links the AWS, Azure and Google Cloud
// SDKs for route53, azure and clouddns, which a test cluster never uses.
package main

import (
	"github.com/coredns/coredns/core/dnsserver"
	"github.com/coredns/coredns/coremain"

	_ "github.com/coredns/coredns/plugin/bind"
	_ "github.com/coredns/coredns/plugin/cache"
	_ "github.com/coredns/coredns/plugin/errors"
	_ "github.com/coredns/coredns/plugin/health"
	_ "github.com/coredns/coredns/plugin/kubernetes"
	_ "github.com/coredns/coredns/plugin/log"
	_ "github.com/coredns/coredns/plugin/ready"
)

func init() {
	dnsserver.Directives = []string{"bind", "ready", "health", "errors", "log", "cache", "kubernetes"}
}

func main() { coremain.Run() }
