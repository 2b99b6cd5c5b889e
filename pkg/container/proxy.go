package container

import (
	"context"
	"io"
	"net"
	"strconv"
	"sync"
	"time"
)

// proxy publishes a port: it accepts on 127.0.0.1 (an ephemeral port
// unless one is given) and copies each
// connection to one dialled by dial (inside the container's namespace).
type proxy struct {
	ln   net.Listener
	dial func(ctx context.Context) (net.Conn, error)

	mu     sync.Mutex
	conns  map[net.Conn]struct{}
	closed bool
	wg     sync.WaitGroup
}

func startProxy(hostPort int, dial func(ctx context.Context) (net.Conn, error)) (*proxy, error) {
	return startProxyOn("127.0.0.1", hostPort, dial)
}

// startProxyOn is startProxy on another loopback address.
func startProxyOn(ip string, hostPort int, dial func(ctx context.Context) (net.Conn, error)) (*proxy, error) {
	ln, err := net.Listen("tcp", net.JoinHostPort(ip, strconv.Itoa(hostPort)))
	if err != nil {
		return nil, err
	}
	p := &proxy{ln: ln, dial: dial, conns: map[net.Conn]struct{}{}}
	p.wg.Add(1)
	go p.serve()
	return p, nil
}

func (p *proxy) Addr() string { return p.ln.Addr().String() }

func (p *proxy) serve() {
	defer p.wg.Done()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return // closed
		}
		if !p.track(c) {
			c.Close()
			return
		}
		p.wg.Add(1)
		go p.handle(c)
	}
}

func (p *proxy) track(c net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return false
	}
	p.conns[c] = struct{}{}
	return true
}

func (p *proxy) untrack(c net.Conn) {
	p.mu.Lock()
	delete(p.conns, c)
	p.mu.Unlock()
	c.Close()
}

func (p *proxy) handle(in net.Conn) {
	defer p.wg.Done()
	defer p.untrack(in)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	out, err := p.dial(ctx)
	cancel()
	if err != nil {
		return // the client sees the connection close, as with nothing listening
	}
	if !p.track(out) {
		out.Close()
		return
	}
	defer p.untrack(out)
	done := make(chan struct{}, 2)
	pipe := func(dst, src net.Conn) {
		_, _ = io.Copy(dst, src)
		if tc, ok := dst.(*net.TCPConn); ok {
			_ = tc.CloseWrite() // pass the half-close on
		}
		done <- struct{}{}
	}
	go pipe(out, in)
	go pipe(in, out)
	<-done
	<-done
}

// Close stops accepting, drops open connections and waits for them.
func (p *proxy) Close() {
	p.mu.Lock()
	p.closed = true
	for c := range p.conns {
		c.Close()
	}
	p.mu.Unlock()
	p.ln.Close()
	p.wg.Wait()
}
