package container

import (
	"errors"
	"fmt"
	"net"
	"path/filepath"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
)

// Link joins the network namespaces of two containers (services of one
// job) with a veth pair, as a Docker network joins a job's services: a
// sees b at an address of the pair's own /30 and names it bName in its
// /etc/hosts, and the other way round. pair numbers the link among the
// job's links (0–16383), which picks the /30 in 172.30.0.0/16; the
// addresses only exist in the two namespaces, so jobs do not collide.
// Nothing is made in the host's namespace: the pair goes when either
// namespace does, so there is nothing to sweep after a kill -9.
func Link(a, b Container, aName, bName string, pair int) error {
	ra, ok1 := a.(*runcContainer)
	rb, ok2 := b.(*runcContainer)
	if !ok1 || !ok2 || ra.netns == nil || rb.netns == nil {
		return errors.New("link: both containers need a network namespace of runner's runc runtime")
	}
	if pair < 0 || pair >= 1<<14 {
		return fmt.Errorf("link: pair %d out of range", pair)
	}
	base := net.IPv4(172, 30, byte(pair>>6), byte(pair&63)<<2).To4()
	ipA, ipB := addIP(base, 1), addIP(base, 2)
	ha, err := netlink.NewHandleAt(netns.NsHandle(int(ra.netns.Fd())))
	if err != nil {
		return fmt.Errorf("link: %w", err)
	}
	defer ha.Close()
	hb, err := netlink.NewHandleAt(netns.NsHandle(int(rb.netns.Fd())))
	if err != nil {
		return fmt.Errorf("link: %w", err)
	}
	defer hb.Close()
	nameA, nameB := fmt.Sprintf("rl%d", pair), fmt.Sprintf("rl%dp", pair)
	veth := &netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: nameA}, PeerName: nameB, PeerNamespace: netlink.NsFd(int(rb.netns.Fd()))}
	if err := ha.LinkAdd(veth); err != nil {
		return fmt.Errorf("link %s and %s: veth: %w", aName, bName, err)
	}
	for _, side := range []struct {
		h    *netlink.Handle
		name string
		ip   net.IP
	}{{ha, nameA, ipA}, {hb, nameB, ipB}} {
		l, err := side.h.LinkByName(side.name)
		if err == nil {
			err = side.h.AddrAdd(l, &netlink.Addr{IPNet: &net.IPNet{IP: side.ip, Mask: net.CIDRMask(30, 32)}})
		}
		if err == nil {
			err = side.h.LinkSetUp(l)
		}
		if err != nil {
			return fmt.Errorf("link %s and %s: %w", aName, bName, err)
		}
	}
	if err := addHosts(filepath.Join(ra.bundle, "rootfs"), map[string]string{bName: ipB.String()}); err != nil {
		return err
	}
	return addHosts(filepath.Join(rb.bundle, "rootfs"), map[string]string{aName: ipA.String()})
}

func addIP(base net.IP, n byte) net.IP {
	ip := append(net.IP(nil), base...)
	ip[3] += n
	return ip
}
